"""Deformable attention on a GPU whatever mmcv build is installed.

mmcv's ``MultiScaleDeformableAttention.forward`` (mmcv 2.1.0,
mmcv/ops/multi_scale_deform_attn.py) calls the compiled op
``MultiScaleDeformableAttnFunction.apply`` whenever ``value.is_cuda``, and its
pure-PyTorch ``multi_scale_deformable_attn_pytorch`` otherwise. An mmcv built
without CUDA (``FORCE_CUDA=0``, what ``make install`` does on a machine without
a GPU) has no CUDA kernel for that op, so the first DINO step on a GPU would
fail inside the extension.

This module is the one place that handles it. :func:`install` replaces the
name ``MultiScaleDeformableAttnFunction`` in that mmcv module with
:class:`DeformAttnDispatch`, whose ``apply`` takes the same arguments and:

- runs mmcv's compiled op when the tensors are on CUDA and the installed mmcv
  has CUDA kernels (:func:`mmcv_has_cuda_kernels`): nothing changes;
- otherwise runs ``multi_scale_deformable_attn_pytorch`` on the tensors'
  device (same maths, slower, more memory), warning once per process with
  the way to build the kernel.

Under autocast the PyTorch path needs nothing extra: ``grid_sample`` is on
autocast's fp32 list, so low-precision values and fp32 sampling locations
meet in fp32 (the compiled op instead casts both to the value's dtype).

Importing ``fx_mm`` installs it; :func:`install` is idempotent.
"""
import functools
import warnings
from typing import Optional

from torch import Tensor

__all__ = ['DeformAttnDispatch', 'install', 'mmcv_has_cuda_kernels',
           'FALLBACK_WARNING']

FALLBACK_WARNING = (
    'fx_mm: the installed mmcv has no CUDA kernel for multi-scale deformable '
    'attention, so the DINO localization branch runs mmcv\'s pure-PyTorch '
    'implementation (multi_scale_deformable_attn_pytorch) on the GPU: same '
    'results, slower and with more memory. To build the kernel, reinstall '
    'mmcv with CUDA on a machine with the CUDA toolkit or the registry\'s '
    'nvcc: `FX_MMCV_CUDA=1 make install` (see tools/install_mmcv.sh; '
    '`python -m fx_mm.env` shows what is installed).')

# Set by tests (or a user) to force the probe's answer; None asks mmcv.
FORCE_HAS_CUDA_KERNELS: Optional[bool] = None
_warned = False


@functools.lru_cache(maxsize=1)
def _compiled_with_cuda() -> bool:
    from mmcv.ops import get_compiling_cuda_version
    return get_compiling_cuda_version() != 'not available'


def mmcv_has_cuda_kernels() -> bool:
    """Whether the installed mmcv's ops were compiled with CUDA kernels.

    mmcv's ``get_compiling_cuda_version()`` answers ``'not available'``
    unless the extension was built with ``MMCV_WITH_CUDA``, the macro that
    also compiles ``ms_deform_attn_cuda.cu``. Needs no GPU.
    """
    if FORCE_HAS_CUDA_KERNELS is not None:
        return FORCE_HAS_CUDA_KERNELS
    return _compiled_with_cuda()


def _warn_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(FALLBACK_WARNING, RuntimeWarning, stacklevel=3)
        from mmengine.logging import print_log
        print_log(FALLBACK_WARNING, logger='current', level=30)


def pytorch_deform_attn(value: Tensor, spatial_shapes: Tensor,
                        sampling_locations: Tensor,
                        attention_weights: Tensor) -> Tensor:
    """mmcv's pure-PyTorch deformable attention (``im2col_step`` unused).

    Args:
        value (Tensor): (B, num_keys, num_heads, head_dims).
        spatial_shapes (Tensor): (num_levels, 2) as (H, W), int64.
        sampling_locations (Tensor): (B, num_queries, num_heads, num_levels,
            num_points, 2), normalised to [0, 1].
        attention_weights (Tensor): (B, num_queries, num_heads, num_levels,
            num_points).

    Returns:
        Tensor: (B, num_queries, num_heads * head_dims).
    """
    from mmcv.ops.multi_scale_deform_attn import \
        multi_scale_deformable_attn_pytorch
    return multi_scale_deformable_attn_pytorch(
        value, spatial_shapes, sampling_locations, attention_weights)


class DeformAttnDispatch:
    """Stands in for mmcv's ``MultiScaleDeformableAttnFunction``."""

    #: mmcv's autograd Function (the compiled op), set by :func:`install`.
    compiled = None

    @staticmethod
    def apply(value: Tensor, spatial_shapes: Tensor,
              level_start_index: Tensor, sampling_locations: Tensor,
              attention_weights: Tensor, im2col_step: int) -> Tensor:
        """mmcv's compiled op where it has a kernel for the tensors' device,
        else the PyTorch path (arguments as mmcv's Function)."""
        if value.is_cuda and not mmcv_has_cuda_kernels():
            _warn_once()
            return pytorch_deform_attn(value, spatial_shapes,
                                       sampling_locations, attention_weights)
        return DeformAttnDispatch.compiled.apply(
            value, spatial_shapes, level_start_index, sampling_locations,
            attention_weights, im2col_step)


def install() -> None:
    """Route mmcv's compiled deformable attention through
    :class:`DeformAttnDispatch` (idempotent)."""
    from mmcv.ops import multi_scale_deform_attn as msda
    if msda.MultiScaleDeformableAttnFunction is not DeformAttnDispatch:
        DeformAttnDispatch.compiled = msda.MultiScaleDeformableAttnFunction
        msda.MultiScaleDeformableAttnFunction = DeformAttnDispatch
