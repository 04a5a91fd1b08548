"""tools/dist_train.sh with 2 CPU processes (gloo): on one node, and as two
single-process "nodes" joined through NNODES / NODE_RANK / MASTER_ADDR /
PORT, the way a multi-node run is started."""
import os
import os.path as osp
import subprocess
import sys

from tests.conftest import REPO, repo_path, tiny_train_config


def dist_train(config, work_dir, procs_per_node, **variables):
    """Start tools/dist_train.sh with the launcher variables given."""
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1',
               **variables)
    return subprocess.Popen(
        ['bash', repo_path('tools', 'dist_train.sh'), config,
         str(procs_per_node), '--work-dir', work_dir], cwd=REPO, env=env,
        text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(proc):
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, out[-6000:]
    return out


def test_two_process_cycle_agrees_and_shares_the_lock_half(covid_lungs,
                                                           tmp_path):
    config = tiny_train_config(str(tmp_path / 'cfg.py'), covid_lungs)
    work_dir = str(tmp_path / 'work')
    finish(dist_train(config, work_dir, 2, NNODES='1', NODE_RANK='0',
                      MASTER_ADDR='127.0.0.1', PORT='29517'))
    check_two_rank_run(work_dir)


def test_two_nodes_of_one_process_through_the_launcher_variables(
        covid_lungs, tmp_path):
    """NNODES=2: node 0 and node 1 (one process each) meet at MASTER_ADDR:
    PORT and train as one world of 2, exactly as the one-node run."""
    config = tiny_train_config(str(tmp_path / 'cfg.py'), covid_lungs)
    work_dir = str(tmp_path / 'work')
    common = dict(NNODES='2', MASTER_ADDR='localhost', PORT='29531')
    nodes = [dist_train(config, work_dir, 1, NODE_RANK=str(rank), **common)
             for rank in (0, 1)]
    for node in nodes:
        finish(node)
    # rank 1 (node 1's process) wrote its audit beside rank 0's
    check_two_rank_run(work_dir)


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
