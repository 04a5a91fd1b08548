"""A hook for the multi-process tests of per-rank seeds and resumes
(tests/engine/test_per_rank_seeds.py): what each rank's generators hold
before every iteration, and the lock subset each rank's sampler draws from.

Loaded by the test config through ``custom_imports``. Writes, into
``<work_dir>/audit/``, ``draws_pass<k>_rank<r>.txt`` (one digest of the
Python, numpy and torch CPU generator states per iteration) and
``subset_pass<k>_rank<r>.txt`` (the pass's subset, before the ranks split
it). Reading the states draws nothing.
"""
import hashlib
import os
import os.path as osp
import pickle
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def generator_digest() -> str:
    states = (random.getstate(), np.random.get_state(),
              torch.get_rng_state().numpy())
    return hashlib.sha1(pickle.dumps(states)).hexdigest()


@HOOKS.register_module()
class GeneratorProbeHook(Hook):
    """Record the generators and the lock subset of every pass, per rank."""

    priority = 'VERY_HIGH'

    def _write(self, runner, name, lines):
        folder = osp.join(runner.work_dir, 'audit')
        os.makedirs(folder, exist_ok=True)
        with open(osp.join(folder, f'{name}_rank{runner.rank}.txt'),
                  'w') as f:
            f.writelines(f'{line}\n' for line in lines)

    def before_train_epoch(self, runner) -> None:
        self._draws = []
        sampler = runner.train_loop.dataloader.sampler
        self._write(runner, f'subset_pass{runner.epoch}', sampler.subset())

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._draws.append(f'{runner.iter} {generator_digest()}')

    def after_train_epoch(self, runner) -> None:
        self._write(runner, f'draws_pass{runner.epoch}', self._draws)
