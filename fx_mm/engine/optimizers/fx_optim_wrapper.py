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
    """:class:`FXOptimWrapper` with mmengine's mixed precision (``--amp``)."""
