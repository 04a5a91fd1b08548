"""fx_mm: Foundation X (WACV 2025) on the OpenMMLab toolboxes.

Importing the package registers its components into the registries of mmdet,
mmseg, mmpretrain and mmengine (configs load it with ``custom_imports``).
"""
# Importing the subpackages registers their components.
from . import datasets, engine, evaluation, models, visualization  # noqa: F401
from .ops import install as install_mmcv_op_dispatch
from .utils import register_checkpoint_safe_globals

# mmengine checkpoints (and resume files) load under torch's weights_only
# default; files with any other code objects are still refused.
register_checkpoint_safe_globals()
# mmcv's compiled ops on CUDA tensors (deformable attention, sigmoid focal
# loss) work with any mmcv build and autocast dtype: the kernel where there is
# one for the dtype, the PyTorch path with a warning otherwise (fx_mm/ops).
install_mmcv_op_dispatch()

__version__ = '0.1.0'
