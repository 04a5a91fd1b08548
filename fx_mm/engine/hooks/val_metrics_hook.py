"""Keep each checkpoint's validation metrics in the checkpoint itself."""
import os
import os.path as osp
from typing import Dict, Optional

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

META_KEY = 'fx_val_metrics'


@HOOKS.register_module()
class ValMetricsInCheckpointHook(Hook):
    """Write the latest validation metrics into the checkpoints' meta.

    Tools that load a checkpoint later (the inferencer, its overlays) can
    then say how good each head was when it was saved -- e.g. that a
    classification head is at chance -- instead of printing its outputs
    with no context. ``checkpoint['meta']['fx_val_metrics']`` is
    ``dict(pass_=k, metrics={'<dataset>/<task>/<metric>': value})``.

    mmengine saves a pass's checkpoint before that pass's validation runs,
    so each checkpoint first gets the previous validation; when a validation
    ends a pass whose checkpoint exists, that file is rewritten (atomically)
    with its own metrics -- the final checkpoint always holds the final
    validation.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self.latest: Optional[Dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.latest is not None:
            checkpoint.setdefault('meta', {})[META_KEY] = self.latest

    def after_val_epoch(self, runner, metrics=None) -> None:
        if not metrics:
            return
        self.latest = dict(pass_=runner.epoch,
                           metrics={k: float(v) for k, v in metrics.items()
                                    if isinstance(v, (int, float))})
        path = osp.join(runner.work_dir, f'epoch_{runner.epoch}.pth')
        if not is_main_process() or not osp.isfile(path):
            return
        # weights_only (torch's default): the globals resume also allows
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
        checkpoint.setdefault('meta', {})[META_KEY] = self.latest
        tmp = path + '.tmp'
        torch.save(checkpoint, tmp)
        os.replace(tmp, path)
