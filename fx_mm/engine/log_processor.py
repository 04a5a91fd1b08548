"""Log lines that name the cycle, step and pass."""
from mmengine.registry import LOG_PROCESSORS
from mmengine.runner import LogProcessor


@LOG_PROCESSORS.register_module()
class FXLogProcessor(LogProcessor):
    """mmengine's LogProcessor; training lines start with the current pass.

    E.g. ``cycle 1/2 step 5/9 CovidLungs/loc lock | Epoch(train) [9][4/8]
    lr: ... loss_cls: ... loss_cons_backbone: ...`` -- mmengine's 'epoch' is
    the pass index.
    """

    def get_log_after_iter(self, runner, batch_idx: int, mode: str):
        tag, log_str = super().get_log_after_iter(runner, batch_idx, mode)
        loop = runner.train_loop
        if mode == 'train' and hasattr(loop, 'describe_current'):
            log_str = f'{loop.describe_current()} | {log_str}'
        return tag, log_str
