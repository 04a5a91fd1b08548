"""The EMA teacher of Foundation X."""
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..loops.cyclic_train_loop import unwrap


@HOOKS.register_module()
class EMATeacherHook(Hook):
    """Keep the model's teacher an exponential moving average of the student.

    At the start of a fresh run the teacher becomes an exact copy of the
    student (after any ``load_from`` weights); a resumed run keeps the
    teacher from its checkpoint. After every pass (or every iteration, with
    ``interval='iter'``): ``teacher = m * teacher + (1 - m) * student`` for
    parameters and floating-point buffers (BatchNorm statistics).

    Args:
        momentum (float): ``m``, the weight of the old teacher (paper: 0.8
            per pass).
        interval (str): ``'pass'`` or ``'iter'``.
    """

    priority = 'NORMAL'

    def __init__(self, momentum: float = 0.8, interval: str = 'pass') -> None:
        if interval not in ('pass', 'iter'):
            raise ValueError(f"interval must be 'pass' or 'iter', not "
                             f'{interval!r}.')
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f'momentum must be in [0, 1], got {momentum}.')
        self.momentum, self.interval = momentum, interval

    @staticmethod
    def _has_teacher(runner) -> bool:
        return unwrap(runner.model).teacher is not None

    def before_train(self, runner) -> None:
        if self._has_teacher(runner) and runner.iter == 0:
            unwrap(runner.model).sync_teacher()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if self.interval == 'iter' and self._has_teacher(runner):
            unwrap(runner.model).update_teacher(self.momentum)

    def after_train_epoch(self, runner) -> None:
        if self.interval == 'pass' and self._has_teacher(runner):
            unwrap(runner.model).update_teacher(self.momentum)
