"""tools/slurm_train.sh and slurm_test.sh hand srun mmdet's arguments.

No Slurm here: a stand-in ``srun`` on PATH records its arguments and the
environment it was given; the scripts' job is to build that call.
"""
import os
import subprocess

import pytest

from tests.conftest import repo_path


@pytest.fixture
def fake_srun(tmp_path):
    srun = tmp_path / 'bin' / 'srun'
    srun.parent.mkdir()
    srun.write_text('#!/usr/bin/env bash\n'
                    f'printf "%s\\n" "$@" > {tmp_path}/args\n'
                    f'echo "$PYTHONPATH" > {tmp_path}/pythonpath\n')
    srun.chmod(0o755)

    def run(script, *args, **variables):
        env = dict(os.environ, PATH=f'{srun.parent}:{os.environ["PATH"]}',
                   **variables)
        proc = subprocess.run(['bash', repo_path('tools', script), *args],
                              env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return (tmp_path / 'args').read_text().splitlines(), \
            (tmp_path / 'pythonpath').read_text().strip()

    return run


def test_slurm_train_builds_the_srun_call(fake_srun):
    args, pythonpath = fake_srun(
        'slurm_train.sh', 'gpu-part', 'fx', 'configs/fx_cls.py', 'work/fx',
        '--resume', '--cfg-options', 'train_cfg.max_cycles=2',
        GPUS='16', GPUS_PER_NODE='8', CPUS_PER_TASK='6',
        SRUN_ARGS='--quotatype=auto --time=1:00:00')
    assert args[:2] == ['-p', 'gpu-part']
    for expected in ('--job-name=fx', '--gres=gpu:8', '--ntasks=16',
                     '--ntasks-per-node=8', '--cpus-per-task=6',
                     '--kill-on-bad-exit=1', '--quotatype=auto',
                     '--time=1:00:00'):
        assert expected in args
    cmd = args[args.index('-u') + 1:]
    assert cmd[0] == repo_path('tools', 'train.py')
    assert cmd[1:] == ['configs/fx_cls.py', '--work-dir=work/fx',
                       '--launcher=slurm', '--resume', '--cfg-options',
                       'train_cfg.max_cycles=2']
    assert pythonpath.split(':')[0] == repo_path('tools', '..')


def test_slurm_test_builds_the_srun_call(fake_srun):
    args, _ = fake_srun('slurm_test.sh', 'p', 'eval', 'cfg.py', 'ckpt.pth',
                        '--split', 'val', GPUS='2')
    assert '--ntasks=2' in args and '--gres=gpu:2' in args  # GPUS < 8
    cmd = args[args.index('-u') + 1:]
    assert cmd == [repo_path('tools', 'test.py'), 'cfg.py', 'ckpt.pth',
                   '--launcher=slurm', '--split', 'val']


def test_slurm_scripts_refuse_missing_arguments():
    for script in ('slurm_train.sh', 'slurm_test.sh'):
        proc = subprocess.run(['bash', repo_path('tools', script), 'p', 'j'],
                              capture_output=True, text=True)
        assert proc.returncode == 2 and 'usage:' in proc.stderr
