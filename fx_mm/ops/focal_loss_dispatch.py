"""mmdet's sigmoid focal loss on a GPU whatever mmcv build and autocast dtype.

mmdet's ``FocalLoss`` (mmdet 3.3.0, mmdet/models/losses/focal_loss.py) takes
its CUDA branch when ``torch.cuda.is_available() and pred.is_cuda`` and the
targets are labels (N, ) -- what DINO's head passes -- and calls mmcv's
compiled ``sigmoid_focal_loss`` (imported there as ``_sigmoid_focal_loss``).
On that branch:

- an mmcv built without CUDA has no kernel for the op: the first
  localization step stops ("sigmoid_focal_loss_forward_impl: implementation
  for device cuda:0 not found");
- the CUDA kernel dispatches float, double and half only: bf16 logits
  (``--amp --amp-dtype bfloat16``) have no case;
- the kernel computes in the logits' precision. In half, ``(T)FLT_MIN`` is
  0, so a logit above about 8.3 (sigmoid rounds to 1) or below about -17.3
  (rounds to 0) makes ``log(0)`` = -inf, and the term its label switches
  off becomes ``0 * -inf`` = NaN (mmcv issue #1488): fp16 autocast gives a
  NaN loss.

:func:`install` replaces the name ``_sigmoid_focal_loss`` in that mmdet
module with :func:`sigmoid_focal_loss`, which takes mmcv's arguments and
always computes in fp32 (the logits are cast up; autograd casts the
gradient back):

- mmcv's compiled op where mmcv has a kernel for the logits' device;
- otherwise mmdet's own PyTorch path, ``py_sigmoid_focal_loss`` on one-hot
  targets (the branch mmdet takes for CPU tensors), on the logits' device,
  warning once per process (on CUDA) with the way to build the kernel.

Importing ``fx_mm`` installs it; :func:`install` is idempotent.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from . import mmcv_kernels

__all__ = ['sigmoid_focal_loss', 'pytorch_sigmoid_focal_loss', 'install',
           'FALLBACK_WARNING']

FALLBACK_WARNING = (
    'fx_mm: the installed mmcv has no CUDA kernel for the sigmoid focal '
    'loss, so mmdet\'s FocalLoss (the DINO head\'s classification loss) runs '
    'mmdet\'s PyTorch implementation (py_sigmoid_focal_loss) on the GPU: '
    'same results, a little slower. ' + mmcv_kernels.BUILD_HINT)

_REDUCTIONS = ('none', 'mean', 'sum')
_warned = False


def _warn_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        mmcv_kernels.report_fallback(FALLBACK_WARNING)


def _compiled(*args) -> Tensor:
    """mmcv's compiled op (its autograd Function)."""
    from mmcv.ops.focal_loss import SigmoidFocalLossFunction
    return SigmoidFocalLossFunction.apply(*args)


def pytorch_sigmoid_focal_loss(logits: Tensor, labels: Tensor,
                               gamma: float = 2.0, alpha: float = 0.25,
                               weight: Optional[Tensor] = None,
                               reduction: str = 'mean') -> Tensor:
    """mmcv's ``sigmoid_focal_loss`` computed by mmdet's PyTorch path.

    Args:
        logits (Tensor): (N, C) class logits.
        labels (Tensor): (N, ) int64 labels; C is the background (a row of
            negatives), as for mmcv's kernel.
        gamma, alpha (float): Focal parameters.
        weight (Tensor, optional): (C, ) per-class weight, applied by the
            row's label as mmcv does (``weight[label]``).
        reduction (str): ``'none'`` (N, C), ``'mean'`` (sum over the
            elements / N, mmcv's mean) or ``'sum'``.

    Returns:
        Tensor: The loss, in the logits' dtype.
    """
    from mmdet.models.losses.focal_loss import py_sigmoid_focal_loss
    num_classes = logits.size(1)
    one_hot = F.one_hot(labels, num_classes + 1)[:, :num_classes]
    loss = py_sigmoid_focal_loss(logits, one_hot, None, gamma=gamma,
                                 alpha=alpha, reduction='none')
    if weight is not None and weight.numel():
        loss = loss * weight[labels][:, None]
    if reduction == 'mean':
        return loss.sum() / logits.size(0)
    return loss.sum() if reduction == 'sum' else loss


def sigmoid_focal_loss(input: Tensor, target: Tensor, gamma: float = 2.0,
                       alpha: float = 0.25, weight: Optional[Tensor] = None,
                       reduction: str = 'mean') -> Tensor:
    """mmcv's ``sigmoid_focal_loss`` in fp32, by mmcv's kernel where it has
    one for the logits' device, else by mmdet's PyTorch path.

    Args:
        input (Tensor): (N, C) logits, any float dtype.
        target (Tensor): (N, ) int64 labels, C for the background.
        gamma, alpha (float): Focal parameters.
        weight (Tensor, optional): (C, ) per-class weight.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'`` (as mmcv).

    Returns:
        Tensor: The loss in fp32: (N, C) for ``'none'``, else a scalar.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f'sigmoid_focal_loss: reduction must be one of '
                         f'{_REDUCTIONS}, got {reduction!r}.')
    # Autocast off and fp32 operands: no op below runs in half or bf16,
    # whatever the caller's autocast dtype.
    with torch.autocast(input.device.type, enabled=False):
        logits = input.float()
        weight = None if weight is None else weight.float()
        if mmcv_kernels.kernel_runs_on(logits):
            return _compiled(logits, target, gamma, alpha, weight,
                             reduction)
        if logits.is_cuda:
            _warn_once()
        return pytorch_sigmoid_focal_loss(logits, target, gamma, alpha,
                                          weight, reduction)


def install() -> None:
    """Route mmdet's calls of mmcv's compiled sigmoid focal loss through
    :func:`sigmoid_focal_loss` (idempotent)."""
    from mmdet.models.losses import focal_loss as mmdet_focal_loss
    mmdet_focal_loss._sigmoid_focal_loss = sigmoid_focal_loss
