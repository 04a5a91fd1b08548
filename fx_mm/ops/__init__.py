"""Operator-level adaptations of the toolboxes' ops (see each module)."""
from .deform_attn_fallback import (DeformAttnDispatch, install,
                                   mmcv_has_cuda_kernels)

__all__ = ['DeformAttnDispatch', 'install', 'mmcv_has_cuda_kernels']
