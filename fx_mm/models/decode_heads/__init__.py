from .multi_head_uper_head import MultiHeadUPerHead
from .reference_uper_head import ReferenceUPerHead

__all__ = ['MultiHeadUPerHead', 'ReferenceUPerHead']
