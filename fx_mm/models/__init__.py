"""Foundation X model components, registered into the toolboxes' registries."""
from .data_preprocessors import FXDataPreprocessor
from .decode_heads import MultiHeadUPerHead
from .detectors import FoundationX, MultiDecoderDINO, SelectFeatures
from .heads import MaskedMultiLabelLinearClsHead

__all__ = [
    'FoundationX', 'FXDataPreprocessor', 'MultiDecoderDINO', 'SelectFeatures', 'MultiHeadUPerHead',
    'MaskedMultiLabelLinearClsHead'
]
