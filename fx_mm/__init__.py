"""fx_mm: Foundation X (WACV 2025) on the OpenMMLab toolboxes.

Importing the package registers its components into the registries of mmdet,
mmseg, mmpretrain and mmengine (configs load it with ``custom_imports``).
"""
# Importing the subpackages registers their components.
from . import datasets, engine, evaluation, models, visualization  # noqa: F401
from .ops import install as install_deform_attn_fallback
from .utils import register_checkpoint_safe_globals

# mmengine checkpoints (and resume files) load under torch's weights_only
# default; files with any other code objects are still refused.
register_checkpoint_safe_globals()
# Deformable attention on CUDA tensors works with any mmcv build (the compiled
# kernel where there is one, mmcv's PyTorch path with a warning otherwise).
install_deform_attn_fallback()

__version__ = '0.1.0'
