from .layer_shared_dino_head import LayerSharedDINOHead

__all__ = ['LayerSharedDINOHead']
