"""Issue 16 item 9 (and item 3 on several ranks): each rank draws from its
own seed (``randomness=dict(diff_rank_seed=True)``), what the ranks must
share -- a lock pass's half, the shuffle they split -- comes from the run's
shared seed, and a 2-rank run interrupted and resumed draws, on every rank,
what the uninterrupted run drew.

Two CPU processes (gloo) through tools/dist_train.sh, on the tiny config:
two cycles of the CovidLungs localization step (lock, release, lock,
release: DINO's denoising noise is drawn in every iteration), uninterrupted
and resumed after pass 2. tests/engine/generator_probe.py records each
rank's generator states per iteration and each lock subset.
"""
import glob
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO, repo_path, tiny_train_config

PASSES = 4
RESUME_AFTER = 2


def dist_train(config, work_dir, port, *args):
    """tools/dist_train.sh with 2 processes on this machine."""
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1',
               NNODES='1', NODE_RANK='0', MASTER_ADDR='127.0.0.1',
               PORT=str(port))
    proc = subprocess.run(
        ['bash', repo_path('tools', 'dist_train.sh'), config, '2',
         '--work-dir', work_dir, *args], cwd=REPO, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc.stdout


@pytest.fixture(scope='module')
def two_rank_runs(covid_lungs, tmp_path_factory):
    """(uninterrupted work dir, resumed work dir)."""
    tmp = tmp_path_factory.mktemp('rank_seeds')
    config = tiny_train_config(str(tmp / 'cfg.py'), covid_lungs, extra=f'''
custom_imports = dict(imports=['fx_mm', 'tests.engine.generator_probe'],
                      allow_failed_imports=False)
custom_hooks = custom_hooks + [dict(type='GeneratorProbeHook')]
train_cfg = dict(max_cycles=2, steps=[('CovidLungs', 'loc')],
                 val_interval=100)
default_hooks = dict(checkpoint=dict(interval={RESUME_AFTER}))
''')
    full, resumed = str(tmp / 'full'), str(tmp / 'resumed')
    dist_train(config, full, 29547)
    os.makedirs(resumed)
    checkpoint = osp.join(resumed, f'epoch_{RESUME_AFTER}.pth')
    shutil.copy(osp.join(full, f'epoch_{RESUME_AFTER}.pth'), checkpoint)
    dist_train(config, resumed, 29549, '--resume', checkpoint)
    # the tests read the audit files; the checkpoints are ~90 MB each
    for path in glob.glob(str(tmp / '*' / '*.pth')):
        os.remove(path)
    return full, resumed


def read(work_dir, name):
    with open(osp.join(work_dir, 'audit', name)) as f:
        return f.read().split('\n')[:-1]


def test_the_ranks_draw_apart(two_rank_runs):
    """Rank 1's generators are not rank 0's: its drop-path masks, denoising
    noise and augmentations are its own (a shared seed repeats them)."""
    full, _ = two_rank_runs
    for k in range(PASSES):
        r0, r1 = (read(full, f'draws_pass{k}_rank{r}.txt') for r in (0, 1))
        assert r0 and len(r0) == len(r1)
        for a, b in zip(r0, r1):
            assert a.split()[0] == b.split()[0]  # the same iteration
            assert a != b, f'pass {k}: the ranks hold the same states: {a}'


def test_the_ranks_share_each_lock_half_and_split_it(two_rank_runs):
    """The lock half is drawn from the shared seed: the same on both ranks
    (and fresh in cycle 2); the ranks split it without overlap, and the
    halves differ between the cycles."""
    full, _ = two_rank_runs
    halves = []
    for k in range(PASSES):
        s0, s1 = (read(full, f'subset_pass{k}_rank{r}.txt') for r in (0, 1))
        assert s0 == s1, f'pass {k}: rank 0 {s0}, rank 1 {s1}'
        i0, i1 = (read(full, f'pass{k}_rank{r}.txt') for r in (0, 1))
        assert not set(i0) & set(i1), f'pass {k}: {i0} {i1}'
        if k % 2 == 0:  # a lock pass
            assert len(s0) == 4 and len(i0) == len(i1) == 2
            halves.append(s0)
    assert halves[0] != halves[1]


def test_the_resumed_run_replays_every_ranks_draws(two_rank_runs):
    """Resumed after pass 2 on 2 ranks: each rank's generator states before
    every iteration of passes 3 and 4, the images and the final weights are
    the uninterrupted run's."""
    full, resumed = two_rank_runs
    for k in range(RESUME_AFTER, PASSES):
        for rank in (0, 1):
            for name in (f'draws_pass{k}_rank{rank}.txt',
                         f'pass{k}_rank{rank}.txt'):
                assert read(resumed, name) == read(full, name), name
    for rank in (0, 1):
        name = f'weights_rank{rank}.sha1'
        assert read(resumed, name) == read(full, name), name
    assert not osp.exists(osp.join(resumed, 'audit', 'draws_pass0_rank0.txt'))
