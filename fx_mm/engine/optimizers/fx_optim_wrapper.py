"""An OptimWrapper with per-branch gradient clipping and per-branch lr logs."""
import math
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class FXOptimWrapper(OptimWrapper):
    """mmengine's OptimWrapper, clipping only some branches' gradients.

    Parameter groups carry a ``branch`` tag (set by
    :class:`FXOptimWrapperConstructor`: backbone, cls, loc, seg). The paper
    clips gradients of the localization branch only (at 0.1); ``clip_grad``
    works as in mmengine, restricted to ``clip_branches``. A non-finite loss
    raises ``FloatingPointError`` before it reaches the weights.

    Args:
        clip_branches (Sequence[str], optional): Branches whose gradients
            ``clip_grad`` clips; None clips all, as mmengine does.
        **kwargs: As mmengine's OptimWrapper.
    """

    def __init__(self, *args, clip_branches: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.clip_branches = None if clip_branches is None else set(
            clip_branches)

    def update_params(self, loss: torch.Tensor, **kwargs) -> None:
        """Refuse a NaN or infinite loss, then mmengine's update."""
        if not math.isfinite(float(loss.detach())):
            raise FloatingPointError(f'The loss is {float(loss)}')
        super().update_params(loss, **kwargs)

    def _clip_grad(self) -> None:
        """mmengine's clipping on the selected branches' parameters."""
        if self.clip_branches is None:
            return super()._clip_grad()
        params: List[torch.Tensor] = [
            p for group in self.optimizer.param_groups
            if group.get('branch') in self.clip_branches
            for p in group['params'] if p.grad is not None
        ]
        if not params:
            return
        grad = self.clip_func(params, **self.clip_grad_kwargs)
        if grad is not None:  # clip_grad_norm_ returns the norm
            self.message_hub.update_scalar('train/grad_norm', float(grad))

    def get_lr(self) -> Dict[str, List[float]]:
        """mmengine's ``lr`` plus one ``<branch>_lr`` per branch, logged."""
        lrs = super().get_lr()
        for group in self.optimizer.param_groups:
            branch = group.get('branch')
            if branch:
                lrs.setdefault(f'{branch}_lr', [group['lr']])
        return lrs


@OPTIM_WRAPPERS.register_module()
class FXAmpOptimWrapper(FXOptimWrapper, AmpOptimWrapper):
    """:class:`FXOptimWrapper` with mixed precision (``tools/train.py --amp``).

    mmengine's AmpOptimWrapper (autocast in ``optim_context``, gradients
    unscaled before the branch clipping of :class:`FXOptimWrapper`, scaler
    state in checkpoints), with two differences:

    - ``dtype='bfloat16'`` uses no loss scaling: bf16 has fp32's exponent
      range, so gradients do not underflow (mmengine would scale anyway).
      ``float16`` (the GPU default) keeps dynamic loss scaling.
    - Without a GPU it runs on the CPU in bf16 (the only dtype of CPU
      autocast; ``dtype=None`` means bf16 there) instead of refusing: that
      is how the tests check AMP training on a machine without CUDA.

    Parameters, optimizer state and the EMA teacher stay in fp32; only the
    forward pass computes in low precision.

    Args:
        loss_scale (str | float | dict): As mmengine's (ignored for bf16).
        dtype (str | torch.dtype, optional): ``'float16'`` or ``'bfloat16'``;
            None: float16 on CUDA, bfloat16 on the CPU.
        **kwargs: As :class:`FXOptimWrapper`.
    """

    def __init__(self, optimizer, *, loss_scale='dynamic', dtype=None,
                 clip_branches: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        if isinstance(dtype, str):
            if dtype not in self.valid_dtypes:
                raise ValueError(f'FXAmpOptimWrapper: dtype must be one of '
                                 f'{self.valid_dtypes}, got {dtype!r}.')
            dtype = getattr(torch, dtype)
        if torch.cuda.is_available():
            super().__init__(optimizer, loss_scale=loss_scale, dtype=dtype,
                             clip_branches=clip_branches, **kwargs)
            device = 'cuda'
        else:
            if dtype not in (None, torch.bfloat16):
                raise ValueError(
                    f'Mixed precision without a GPU runs in bfloat16 only '
                    f'(CPU autocast), not {dtype}: use --amp-dtype bfloat16 '
                    'or optim_wrapper.dtype="bfloat16".')
            # mmengine's AmpOptimWrapper refuses to start without a GPU.
            OptimWrapper.__init__(self, optimizer, **kwargs)
            self.clip_branches = None if clip_branches is None else set(
                clip_branches)
            self._scale_update_param = None
            self.cast_dtype = dtype = torch.bfloat16
            device = 'cpu'
        if self.cast_dtype == torch.bfloat16:
            self.loss_scaler = torch.amp.GradScaler(device, enabled=False)
