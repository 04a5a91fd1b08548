"""Foundation X model components, registered into the toolboxes' registries."""
from .backbones import ReferenceSwinTransformer
from .data_preprocessors import FXDataPreprocessor
from .decode_heads import MultiHeadUPerHead, ReferenceUPerHead
from .dense_heads import LayerSharedDINOHead
from .detectors import (FoundationX, MultiDecoderDINO,
                        ReferenceMultiDecoderDINO, SelectFeatures)
from .heads import MaskedMultiLabelLinearClsHead
from .layers import RefiningDinoTransformerDecoder

__all__ = [
    'FoundationX', 'FXDataPreprocessor', 'MultiDecoderDINO', 'SelectFeatures', 'MultiHeadUPerHead',
    'MaskedMultiLabelLinearClsHead', 'ReferenceSwinTransformer', 'ReferenceUPerHead',
    'LayerSharedDINOHead', 'ReferenceMultiDecoderDINO', 'RefiningDinoTransformerDecoder'
]
