"""An OptimWrapper with per-task gradient clipping and per-branch lr logs."""
import math
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class FXOptimWrapper(OptimWrapper):
    """mmengine's OptimWrapper, clipping gradients in some tasks' passes.

    The paper clips gradients (max-norm 0.1) in localization training, and
    the reference code clips every parameter that has a gradient there --
    the DINO branch and, in a release pass, the backbone -- and nothing in
    classification or segmentation training. ``clip_grad`` works as in
    mmengine, in the passes whose task is in ``clip_tasks``; the train loop
    tells the wrapper the current task (:meth:`set_task`). Parameter groups
    carry a ``branch`` tag (set by :class:`FXOptimWrapperConstructor`:
    backbone, cls, loc, seg) for the per-branch lr logs. A non-finite loss
    raises ``FloatingPointError`` before it reaches the weights.

    Args:
        clip_tasks (Sequence[str], optional): Tasks whose passes clip; None
            clips in every pass, as mmengine does.
        **kwargs: As mmengine's OptimWrapper.
    """

    def __init__(self, *args, clip_tasks: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.clip_tasks = None if clip_tasks is None else set(clip_tasks)
        self.current_task: Optional[str] = None

    def set_task(self, task: Optional[str]) -> None:
        """The task of the pass that starts (called by the train loop)."""
        self.current_task = task

    def update_params(self, loss: torch.Tensor, **kwargs) -> None:
        """Refuse a NaN or infinite loss, then mmengine's update."""
        if not math.isfinite(float(loss.detach())):
            raise FloatingPointError(f'The loss is {float(loss)}')
        super().update_params(loss, **kwargs)

    def _clip_grad(self) -> None:
        """mmengine's clipping (of every parameter with a gradient), in the
        passes of ``clip_tasks`` only."""
        if self.clip_tasks is None or self.current_task in self.clip_tasks:
            super()._clip_grad()

    def load_state_dict(self, state_dict: dict) -> None:
        """mmengine's, refusing with a clear message an optimizer state of
        another grouping -- e.g. one group per parameter, as fx_mm saved
        before :class:`FXOptimWrapperConstructor` merged them (PyTorch's own
        error names neither cause nor way out, and the lr schedulers' state,
        loaded next, has one entry per group)."""
        saved = len(state_dict.get('param_groups', ()))
        current = len(self.optimizer.param_groups)
        if saved and saved != current:
            raise ValueError(
                f'The checkpoint\'s optimizer state has {saved} parameter '
                f'groups, this optimizer {current} (one per branch and lr / '
                f'decay setting; fx_mm before 2026-12-03 saved one group per '
                'parameter). Its weights load (load_from=CHECKPOINT without '
                '--resume), its optimizer and lr-scheduler state do not: '
                'resume from a checkpoint of this version, or start a new '
                'run (a new --work-dir; tools/demo.py --fresh).')
        super().load_state_dict(state_dict)

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
                 clip_tasks: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        if isinstance(dtype, str):
            if dtype not in self.valid_dtypes:
                raise ValueError(f'FXAmpOptimWrapper: dtype must be one of '
                                 f'{self.valid_dtypes}, got {dtype!r}.')
            dtype = getattr(torch, dtype)
        if torch.cuda.is_available():
            # mmengine's AmpOptimWrapper takes the optimizer by keyword only
            # (its first positional parameter is loss_scale).
            super().__init__(optimizer=optimizer, loss_scale=loss_scale,
                             dtype=dtype, clip_tasks=clip_tasks, **kwargs)
            device = 'cuda'
        else:
            if dtype not in (None, torch.bfloat16):
                raise ValueError(
                    f'Mixed precision without a GPU runs in bfloat16 only '
                    f'(CPU autocast), not {dtype}: use --amp-dtype bfloat16 '
                    'or optim_wrapper.dtype="bfloat16".')
            # mmengine's AmpOptimWrapper refuses to start without a GPU.
            OptimWrapper.__init__(self, optimizer, **kwargs)
            self.clip_tasks = None if clip_tasks is None else set(clip_tasks)
            self.current_task = None
            self._scale_update_param = None
            self.cast_dtype = dtype = torch.bfloat16
            device = 'cpu'
        if self.cast_dtype == torch.bfloat16:
            self.loss_scaler = torch.amp.GradScaler(device, enabled=False)
