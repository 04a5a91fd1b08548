"""High-level APIs: inference on new radiographs."""
from .inferencer import FXInferencer, load_fitting_checkpoint

__all__ = ['FXInferencer', 'load_fitting_checkpoint']
