"""Operator-level adaptations of the toolboxes' ops (see each module).

mmcv's compiled ops that fx_mm reaches on a GPU (docs/gpu.md) run with any
mmcv build and under any autocast dtype: :func:`install` routes each through
its stand-in.
"""
from . import deform_attn_fallback, focal_loss_dispatch
from .deform_attn_fallback import DeformAttnDispatch
from .focal_loss_dispatch import sigmoid_focal_loss
from .mmcv_kernels import (KERNEL_DTYPES, kernel_runs_on,
                           mmcv_has_cuda_kernels)

__all__ = ['DeformAttnDispatch', 'sigmoid_focal_loss', 'KERNEL_DTYPES',
           'install', 'kernel_runs_on', 'mmcv_has_cuda_kernels']


def install() -> None:
    """Put every stand-in in place (idempotent): mmcv's deformable
    attention and mmdet's call of mmcv's sigmoid focal loss."""
    deform_attn_fallback.install()
    focal_loss_dispatch.install()
