"""tools/dist_train.sh with 2 CPU processes (gloo)."""
import os
import os.path as osp
import subprocess
import sys

from tests.conftest import REPO, repo_path, tiny_train_config


def test_two_process_cycle_agrees_and_shares_the_lock_half(covid_lungs,
                                                           tmp_path):
    config = tiny_train_config(str(tmp_path / 'cfg.py'), covid_lungs)
    work_dir = str(tmp_path / 'work')
    env = dict(os.environ, PYTHON=sys.executable, PORT='29517',
               OMP_NUM_THREADS='1')
    proc = subprocess.run(
        ['bash', repo_path('tools', 'dist_train.sh'), config, '2',
         '--work-dir', work_dir], cwd=REPO, env=env, text=True,
        capture_output=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
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
