from .multi_head_uper_head import MultiHeadUPerHead

__all__ = ['MultiHeadUPerHead']
