from .foundation_x import FoundationX
from .multi_decoder_dino import MultiDecoderDINO
from .reference_dino import ReferenceMultiDecoderDINO
from .select_features import SelectFeatures

__all__ = [
    'FoundationX', 'MultiDecoderDINO', 'ReferenceMultiDecoderDINO',
    'SelectFeatures'
]
