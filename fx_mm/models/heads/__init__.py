from .multi_label_linear_head import MaskedMultiLabelLinearClsHead

__all__ = ['MaskedMultiLabelLinearClsHead']
