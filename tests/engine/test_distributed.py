"""tools/dist_train.sh with 2 CPU processes (gloo): on one node, and as two
single-process "nodes" joined through NNODES / NODE_RANK / MASTER_ADDR /
PORT, the way a multi-node run is started; what a step of each pass kind
all-reduces with the configs' model wrapper."""
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch

from fx_mm.testing.pass_communication import PASS_KINDS, measure_passes
from tests.conftest import REPO, repo_path, tiny_train_config


def dist_train(config, work_dir, procs_per_node, *args, **variables):
    """Start tools/dist_train.sh with the launcher variables given."""
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1',
               **variables)
    return subprocess.Popen(
        ['bash', repo_path('tools', 'dist_train.sh'), config,
         str(procs_per_node), '--work-dir', work_dir, *args], cwd=REPO,
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(proc):
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, out[-6000:]
    return out


ONE_NODE = dict(NNODES='1', NODE_RANK='0', MASTER_ADDR='127.0.0.1')


@pytest.fixture(scope='module')
def one_node_run(covid_lungs, tmp_path_factory):
    """A cycle of the tiny config on 2 processes of one node: (config, work
    dir)."""
    tmp = tmp_path_factory.mktemp('two_ranks')
    config = tiny_train_config(str(tmp / 'cfg.py'), covid_lungs)
    work_dir = str(tmp / 'work')
    finish(dist_train(config, work_dir, 2, PORT='29517', **ONE_NODE))
    # A tiny checkpoint is ~100 MB: keep the two the tests read.
    for name in os.listdir(work_dir):
        if name.endswith('.pth') and name not in ('epoch_7.pth',
                                                  'epoch_10.pth'):
            os.remove(osp.join(work_dir, name))
    return config, work_dir


def test_two_process_cycle_agrees_and_shares_the_lock_half(one_node_run):
    check_two_rank_run(one_node_run[1])


def test_two_process_resume_is_exact(one_node_run, tmp_path):
    """Resumed on 2 ranks from the checkpoint after 7 passes (the last:
    CovidBoxes' loc lock pass): passes 7-9 (its release pass, LungMasks'
    seg lock and release) see the images of the uninterrupted run on each
    rank and end with its weights, buffers and optimizer state, bit for
    bit."""
    config, full = one_node_run
    resumed = str(tmp_path / 'resumed')
    os.makedirs(resumed)
    checkpoint = osp.join(resumed, 'epoch_7.pth')
    shutil.copy(osp.join(full, 'epoch_7.pth'), checkpoint)
    finish(dist_train(config, resumed, 2, '--resume', checkpoint,
                      PORT='29519', **ONE_NODE))

    def read(work_dir, name):
        with open(osp.join(work_dir, 'audit', name)) as f:
            return f.read().split()

    for rank in (0, 1):
        for k in (7, 8, 9):
            name = f'pass{k}_rank{rank}.txt'
            assert read(resumed, name) == read(full, name), name
        name = f'weights_rank{rank}.sha1'
        assert read(resumed, name) == read(full, name), name
    a, b = (torch.load(osp.join(w, 'epoch_10.pth'), map_location='cpu',
                       weights_only=False) for w in (full, resumed))
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key
    for key, value in a['optimizer']['state'].items():
        for name, tensor in value.items():
            assert torch.equal(tensor, b['optimizer']['state'][key][name]), (
                key, name)
    shutil.rmtree(resumed)  # its checkpoints: ~400 MB
    os.remove(osp.join(full, 'epoch_7.pth'))  # read by this test only


def test_two_nodes_of_one_process_through_the_launcher_variables(
        covid_lungs, tmp_path):
    """NNODES=2: node 0 and node 1 (one process each) meet at MASTER_ADDR:
    PORT and train as one world of 2, exactly as the one-node run."""
    # only the last checkpoint is kept (a tiny one is ~100 MB)
    config = tiny_train_config(
        str(tmp_path / 'cfg.py'), covid_lungs,
        extra='default_hooks = dict(checkpoint=dict(max_keep_ckpts=1))')
    work_dir = str(tmp_path / 'work')
    common = dict(NNODES='2', MASTER_ADDR='localhost', PORT='29531')
    nodes = [dist_train(config, work_dir, 1, NODE_RANK=str(rank), **common)
             for rank in (0, 1)]
    for node in nodes:
        finish(node)
    # rank 1 (node 1's process) wrote its audit beside rank 0's
    check_two_rank_run(work_dir)
    os.remove(osp.join(work_dir, 'epoch_10.pth'))


def check_two_rank_run(work_dir):
    audit = osp.join(work_dir, 'audit')

    def read(name):
        with open(osp.join(audit, name)) as f:
            return f.read().split()

    # Both ranks end with identical weights (student and teacher).
    assert read('weights_rank0.sha1') == read('weights_rank1.sha1')
    # Pass 1 is CovidLungs' loc lock pass over half of its 8 training images:
    # the ranks split that half between them, without overlap.
    r0, r1 = read('pass1_rank0.txt'), read('pass1_rank1.txt')
    assert len(r0) == len(r1) == 2
    assert not set(r0) & set(r1)
    # The release pass covers all 8, split between the ranks.
    full = read('pass2_rank0.txt') + read('pass2_rank1.txt')
    assert len(set(full)) == 8
    assert set(r0) | set(r1) < set(full)
    assert osp.isfile(osp.join(work_dir, 'epoch_10.pth'))


def test_each_pass_all_reduces_about_what_it_trains():
    """2 gloo processes, the tiny X-CLS model wrapped as the configs'
    model_wrapper_cfg says, the real LockReleaseHook freezing: per step,
    the bytes handed to all_reduce are at most 1.1 x the bytes of the
    gradients the pass trains -- in a lock pass one head's, not the whole
    student's -- and both ranks hold identical parameters after every
    step."""
    results = measure_passes(repo_path('configs', 'tiny', 'fx_cls_tiny.py'),
                             PASS_KINDS, steps=2, warmup=0, size=64,
                             check_each_step=True)
    assert [(r['task'], r['kind']) for r in results] == list(PASS_KINDS)
    for r in results:
        assert r['steps_checked'] == 2, r
        assert r['ranks_identical_after_each_step'], r
        assert 0 < r['allreduce_bytes'] <= 1.1 * r['trainable_bytes'], r
    lock, release = (next(r for r in results if r['task'] == 'loc' and
                          r['kind'] == kind) for kind in ('lock', 'release'))
    # the lock pass trains one DINO decoder set: far less than a release
    assert lock['trainable_bytes'] < 0.5 * release['trainable_bytes']
