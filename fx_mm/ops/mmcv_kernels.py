"""What the installed mmcv's compiled ops can run: CUDA kernels or not, and
for which dtypes.

mmcv 2.1.0 compiles its CUDA kernels only with ``MMCV_WITH_CUDA`` (a GPU or
``FORCE_CUDA=1`` at build time). In a build without them, every op's
device dispatch (``DISPATCH_DEVICE_IMPL`` in mmcv/ops/csrc/common/
pytorch_device_registry.hpp) finds nothing for a CUDA tensor and raises
``"<op>_impl: implementation for device cuda:0 not found"``.

The CUDA kernels fx_mm reaches (docs/gpu.md lists them) dispatch on the
input's dtype with ``AT_DISPATCH_FLOATING_TYPES_AND_HALF``: float64, float32
and float16 -- no bfloat16 case.

The stand-ins in this package (deform_attn_fallback.py,
focal_loss_dispatch.py) ask :func:`kernel_runs_on` before calling a kernel
and route the rest to mmcv's or mmdet's PyTorch implementation, telling the
user once per op with :func:`report_fallback`.
"""
import functools
import warnings
from typing import Optional

import torch
from torch import Tensor

__all__ = ['KERNEL_DTYPES', 'BUILD_HINT', 'mmcv_has_cuda_kernels',
           'kernel_runs_on', 'report_fallback']

#: Dtypes of ``AT_DISPATCH_FLOATING_TYPES_AND_HALF``, the dispatch of the
#: deformable-attention and sigmoid-focal-loss CUDA kernels of mmcv 2.1.0
#: (mmcv/ops/csrc/pytorch/cuda/ms_deform_attn_cuda.cu, focal_loss_cuda.cu).
KERNEL_DTYPES = frozenset({torch.float16, torch.float32, torch.float64})

#: How to get the kernels (end of every fallback warning).
BUILD_HINT = (
    'To build the kernels, reinstall mmcv with CUDA on a machine with the '
    'CUDA toolkit or the registry\'s nvcc: `FX_MMCV_CUDA=1 make install` '
    '(see tools/install_mmcv.sh; `python -m fx_mm.env` shows what is '
    'installed).')

# Set by tests (or a user) to force the probe's answer; None asks mmcv.
FORCE_HAS_CUDA_KERNELS: Optional[bool] = None


@functools.lru_cache(maxsize=1)
def _compiled_with_cuda() -> bool:
    from mmcv.ops import get_compiling_cuda_version
    return get_compiling_cuda_version() != 'not available'


def mmcv_has_cuda_kernels() -> bool:
    """Whether the installed mmcv's ops were compiled with CUDA kernels.

    mmcv's ``get_compiling_cuda_version()`` answers ``'not available'``
    unless the extension was built with ``MMCV_WITH_CUDA``, the macro that
    also compiles every ``csrc/pytorch/cuda/*.cu`` kernel. Needs no GPU.
    """
    if FORCE_HAS_CUDA_KERNELS is not None:
        return FORCE_HAS_CUDA_KERNELS
    return _compiled_with_cuda()


def kernel_runs_on(tensor: Tensor) -> bool:
    """Whether mmcv has a compiled kernel for ``tensor``'s device.

    True for CUDA tensors with a CUDA build. False for CUDA tensors with a
    CPU build, and for CPU tensors: the ops fx_mm routes here
    (deformable attention, sigmoid focal loss) have no CPU kernel in
    mmcv 2.1.0.
    """
    return tensor.is_cuda and mmcv_has_cuda_kernels()


def report_fallback(message: str) -> None:
    """Warn (Python warning and the mmengine log) that an op runs its
    PyTorch path; the caller makes sure it happens once per op."""
    warnings.warn(message, RuntimeWarning, stacklevel=4)
    from mmengine.logging import print_log
    print_log(message, logger='current', level=30)
