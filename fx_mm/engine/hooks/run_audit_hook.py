"""Record what each training pass used and what the run ended with, per rank."""
import hashlib
import os
import os.path as osp

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..loops.cyclic_train_loop import unwrap


@HOOKS.register_module()
class RunAuditHook(Hook):
    """Write an audit trail of a run into ``<work_dir>/audit/``.

    - ``pass<k>_rank<r>.txt``: the images pass ``k`` trained on, on rank
      ``r``, in order -- which half a lock pass saw, that ranks shared the data
      without overlap, that a resumed run saw what an uninterrupted one would.
    - ``weights_rank<r>.sha1``: a digest of the student's and teacher's final
      parameters on rank ``r`` (equal on all ranks of a correct DDP run;
      buffers are left out: without SyncBN each rank keeps its own BatchNorm
      statistics, as in any DDP run).
    """

    def before_train_epoch(self, runner) -> None:
        self._paths = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self._paths += [s.metainfo.get('img_path', '?')
                        for s in data_batch['data_samples']]

    def _write(self, runner, name: str, lines) -> None:
        folder = osp.join(runner.work_dir, 'audit')
        os.makedirs(folder, exist_ok=True)
        with open(osp.join(folder, name), 'w') as f:
            f.writelines(f'{line}\n' for line in lines)

    def after_train_epoch(self, runner) -> None:
        # mmengine advances the epoch counter after this hook.
        self._write(runner, f'pass{runner.epoch}_rank{runner.rank}.txt',
                    self._paths)

    def after_train(self, runner) -> None:
        digest = hashlib.sha1()
        for key, value in sorted(unwrap(runner.model).named_parameters()):
            digest.update(key.encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        self._write(runner, f'weights_rank{runner.rank}.sha1',
                    [digest.hexdigest()])
