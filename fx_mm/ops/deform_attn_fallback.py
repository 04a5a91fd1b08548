"""Deformable attention on a GPU whatever mmcv build and autocast dtype.

mmcv's ``MultiScaleDeformableAttention.forward`` (mmcv 2.1.0,
mmcv/ops/multi_scale_deform_attn.py) calls the compiled op
``MultiScaleDeformableAttnFunction.apply`` whenever ``value.is_cuda``, and its
pure-PyTorch ``multi_scale_deformable_attn_pytorch`` otherwise. Two things
stop that compiled call on a GPU:

- an mmcv built without CUDA (``FORCE_CUDA=0``, what ``make install`` does
  on a machine without a GPU) has no CUDA kernel for the op;
- the CUDA kernel dispatches float, double and half only, and mmcv's
  Function casts the sampling locations and attention weights to the
  value's dtype: under bf16 autocast (``--amp --amp-dtype bfloat16``) the
  value comes out of a Linear in bf16, and the kernel has no case for it.

This module is the one place that handles both. :func:`install` replaces the
name ``MultiScaleDeformableAttnFunction`` in that mmcv module with
:class:`DeformAttnDispatch`, whose ``apply`` takes the same arguments and:

- runs mmcv's compiled op when the tensors are on CUDA, the installed mmcv
  has CUDA kernels (:func:`~fx_mm.ops.mmcv_kernels.mmcv_has_cuda_kernels`)
  and the value's dtype is one the kernel has: nothing changes;
- runs the compiled op in fp32 when the value's dtype is one the kernel
  lacks (bf16), and casts its result back to that dtype;
- otherwise (CUDA tensors, no kernel) runs
  ``multi_scale_deformable_attn_pytorch`` on the tensors' device (same
  maths, slower, more memory), warning once per process with the way to
  build the kernel. Under autocast that path needs nothing extra:
  ``grid_sample`` is on CPU autocast's fp32 list and on CUDA autocast's
  widest-input list (fp32 there too: the sampling locations are fp32).

The compiled op runs with the value's GPU as the current device: mmcv
2.1.0's kernel sets no device guard (ms_deform_attn_cuda.cu), so a model on
``cuda:1`` while ``cuda:0`` is current (``tools/infer.py --device cuda:1``)
would launch it on the wrong GPU.

Importing ``fx_mm`` installs it; :func:`install` is idempotent.
"""
import torch
from torch import Tensor

from . import mmcv_kernels

__all__ = ['DeformAttnDispatch', 'install', 'pytorch_deform_attn',
           'FALLBACK_WARNING']

FALLBACK_WARNING = (
    'fx_mm: the installed mmcv has no CUDA kernel for multi-scale deformable '
    'attention, so the DINO localization branch runs mmcv\'s pure-PyTorch '
    'implementation (multi_scale_deformable_attn_pytorch) on the GPU: same '
    'results, slower and with more memory. ' + mmcv_kernels.BUILD_HINT)

_warned = False


def _warn_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        mmcv_kernels.report_fallback(FALLBACK_WARNING)


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
        """mmcv's compiled op where it has a kernel for the tensors' device
        and dtype (fp32 for a dtype it lacks), else the PyTorch path
        (arguments as mmcv's Function).

        Returns:
            Tensor: (B, num_queries, num_heads * head_dims), in the value's
            dtype.
        """
        compiled = DeformAttnDispatch.compiled
        if value.is_cuda and not mmcv_kernels.mmcv_has_cuda_kernels():
            _warn_once()
            return pytorch_deform_attn(value, spatial_shapes,
                                       sampling_locations, attention_weights)
        # mmcv 2.1.0's kernel (ms_deform_attn_cuda.cu) launches on the
        # current device's stream without a device guard: a value on
        # another GPU than the current one (FXInferencer on 'cuda:1') would
        # be read by a kernel on the current GPU, an illegal memory access.
        # The backward needs none: autograd runs a device's nodes on a
        # thread whose current device is that device.
        with torch.cuda.device_of(value):
            return DeformAttnDispatch._compiled(
                compiled, value, spatial_shapes, level_start_index,
                sampling_locations, attention_weights, im2col_step)

    @staticmethod
    def _compiled(compiled, value: Tensor, spatial_shapes: Tensor,
                  level_start_index: Tensor, sampling_locations: Tensor,
                  attention_weights: Tensor, im2col_step: int) -> Tensor:
        """mmcv's compiled op, in fp32 for a dtype the kernel lacks."""
        if value.dtype not in mmcv_kernels.KERNEL_DTYPES:
            # mmcv casts the locations and weights to the value's dtype
            # before the kernel; fp32 for all three keeps the kernel's maths
            # and gives autograd the casts to undo on the way back.
            out = compiled.apply(value.float(), spatial_shapes,
                                 level_start_index, sampling_locations.float(),
                                 attention_weights.float(), im2col_step)
            return out.to(value.dtype)
        return compiled.apply(value, spatial_shapes, level_start_index,
                              sampling_locations, attention_weights,
                              im2col_step)


def install() -> None:
    """Route mmcv's compiled deformable attention through
    :class:`DeformAttnDispatch` (idempotent)."""
    from mmcv.ops import multi_scale_deform_attn as msda
    if msda.MultiScaleDeformableAttnFunction is not DeformAttnDispatch:
        DeformAttnDispatch.compiled = msda.MultiScaleDeformableAttnFunction
        msda.MultiScaleDeformableAttnFunction = DeformAttnDispatch
