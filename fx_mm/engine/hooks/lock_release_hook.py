"""Lock-Release: freeze all but the active head for a lock pass."""
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS
from torch.nn.modules.batchnorm import _BatchNorm

from ..loops.cyclic_train_loop import unwrap


@HOOKS.register_module()
class LockReleaseHook(Hook):
    """Set ``requires_grad`` for each pass of the :class:`CyclicTrainLoop`.

    Lock pass: only the active dataset's head trains -- its whole DINO
    decoder set (decoder, queries, two-stage layers, class / box branches,
    denoising embedding), its segmentation classifier or its classification
    head; the backbone, neck, encoder and segmentation body are frozen, so
    their gradients are not even computed. Release / full pass: every
    parameter that was trainable when training started trains again
    (parameters a config froze for good, e.g. head-only fine-tuning, stay
    frozen).

    Freezing happens in ``before_train_epoch``, after the runner has built
    the optimizer, so every parameter has its optimizer group from the start.
    BatchNorm layers whose parameters are all frozen in a pass (the UPerNet
    body in a segmentation lock pass, a part frozen for good) run in eval
    mode for it, so their running statistics do not move either.
    """

    priority = 'HIGH'

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        self._trainable = {
            id(p) for p in model.student_parameters() if p.requires_grad}

    def before_train_epoch(self, runner) -> None:
        model = unwrap(runner.model)
        current = runner.train_loop.current_pass
        if current.kind == 'lock':
            active = {id(p) for p in model.head_of(
                current.task, current.dataset).parameters()}
        else:
            active = self._trainable
        n_on = 0
        for p in model.student_parameters():
            p.requires_grad_(id(p) in active and id(p) in self._trainable)
            n_on += p.numel() if p.requires_grad else 0
        model.set_frozen_norms([
            m for part in model.student_parts().values()
            for m in part.modules() if isinstance(m, _BatchNorm)
            and any(True for _ in m.parameters())
            and not any(p.requires_grad for p in m.parameters())])
        print_log(
            f'{current.kind} pass {current.index} ({current.dataset}/'
            f'{current.task}): {n_on:,} trainable parameters',
            logger='current')
