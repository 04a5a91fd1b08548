"""fx_mm: Foundation X (WACV 2025) on the OpenMMLab toolboxes.

Importing the package registers its components into the registries of mmdet,
mmseg, mmpretrain and mmengine (configs load it with ``custom_imports``).
"""
from . import models  # noqa: F401  (registers the model components)

__version__ = '0.1.0'
