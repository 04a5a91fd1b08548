"""Log lines that name the cycle, step and pass, with that pass's scalars."""
from mmengine.registry import LOG_PROCESSORS
from mmengine.runner import LogProcessor

from .hooks.runtime_info_hook import scalars_not_updated


@LOG_PROCESSORS.register_module()
class FXLogProcessor(LogProcessor):
    """mmengine's LogProcessor; training lines show the current pass only.

    A training line starts with the current pass and shows only the scalars
    the pass has updated, e.g. ``cycle 1/2 step 1/9 CovidLungs/cls full |
    Epoch(train) [1][4/8] lr: ... cls.loss_cls: ... loss_cons_backbone:
    ...`` -- without the ``loc.*`` and ``seg.*`` losses earlier passes left
    in mmengine's MessageHub (which keeps every scalar it was ever given).
    The scalars written to the visualizer backends (``vis_data/scalars.json``,
    TensorBoard) are the line's, so each task's losses are recorded at the
    iterations of its own passes. The pass boundaries come from
    :class:`FXRuntimeInfoHook`; without it every scalar is shown, as in
    mmengine. mmengine's 'epoch' is the pass index.
    """

    def get_log_after_iter(self, runner, batch_idx: int, mode: str):
        tag, log_str = super().get_log_after_iter(runner, batch_idx, mode)
        loop = runner.train_loop
        if mode == 'train' and hasattr(loop, 'describe_current'):
            log_str = f'{loop.describe_current()} | {log_str}'
        return tag, log_str

    def _collect_scalars(self, custom_cfg, runner, mode: str,
                         reserve_prefix: bool = False) -> dict:
        """mmengine's, less the training scalars this pass has not updated.

        Both the line and the visualizer's scalars are collected here.
        """
        tag = super()._collect_scalars(custom_cfg, runner, mode,
                                       reserve_prefix)
        if mode != 'train':
            return tag
        stale = scalars_not_updated(runner.message_hub)
        if not stale:
            return tag
        prefix = f'{mode}/'
        # A custom_cfg entry logs its data_src under log_name.
        sources = {c.get('log_name', c['data_src']): c['data_src']
                   for c in custom_cfg}
        kept = type(tag)()
        for key, value in tag.items():
            name = key[len(prefix):] if reserve_prefix else key
            if prefix + sources.get(name, name) not in stale:
                kept[key] = value
        return kept
