from .reference_swin import ReferenceSwinTransformer

__all__ = ['ReferenceSwinTransformer']
