"""Which passes validation follows: ``train_cfg.val_by`` ('cycle', 'step',
'pass') and ``val_interval``, decided by CyclicTrainLoop."""
import glob
import json
import os.path as osp

import pytest

from fx_mm.engine.loops import CyclicTrainLoop, build_schedule
from tests.conftest import (LAST_PASS_ONLY, repo_path, run_python,
                            tiny_train_config)

# A cycle of cls (one full pass), loc and seg (lock + release each): five
# passes, steps ending at passes 0, 2 and 4 of each cycle.
STEPS = [('A', 'cls'), ('A', 'loc'), ('A', 'seg')]


def validated(val_by, val_interval, cycles=3):
    """The loop's choice, on the schedule alone (no runner needed)."""
    loop = CyclicTrainLoop.__new__(CyclicTrainLoop)
    loop.schedule = build_schedule(STEPS, ('loc', 'seg'), cycles)
    loop.val_by = val_by
    loop.passes_per_cycle = 5
    loop.val_interval = val_interval * (5 if val_by == 'cycle' else 1)
    return sorted(loop._passes_to_validate())


@pytest.mark.parametrize('val_by,interval,expected', [
    ('pass', 1, list(range(15))),
    ('pass', 4, [3, 7, 11, 14]),            # and always the last pass
    ('cycle', 1, [4, 9, 14]),
    ('cycle', 2, [9, 14]),
    ('step', 1, [0, 2, 4, 5, 7, 9, 10, 12, 14]),   # no lock pass alone
    ('step', 2, [2, 5, 9, 12, 14]),
])
def test_passes_validation_follows(val_by, interval, expected):
    assert validated(val_by, interval) == expected


def test_step_validation_through_train_py(covid_lungs, tmp_path):
    """val_by='step' in a run: cls (pass 0), then seg lock (1) and release
    (2): validated after passes 0 and 2, logged as steps 1 and 3."""
    config = tiny_train_config(str(tmp_path / 'cfg.py'), covid_lungs,
                               n_train=2, n_eval=2,
                               checkpoint=LAST_PASS_ONLY, extra='''
train_cfg = dict(max_cycles=1, val_by='step', val_interval=1,
                 steps=[('CovidLungs', 'cls'), ('CovidLungs', 'seg')])
''')
    work_dir = str(tmp_path / 'work')
    run_python([repo_path('tools', 'train.py'), config, '--work-dir',
                work_dir])
    with open(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                 'scalars.json'))[0]) as f:
        steps = [r['step'] for r in map(json.loads, f)
                 if 'CovidLungs/seg/Dice' in r]
    assert steps == [1, 3]


def test_bad_val_by_is_refused(covid_lungs, tmp_path):
    config = tiny_train_config(str(tmp_path / 'cfg.py'), covid_lungs,
                               extra="train_cfg = dict(val_by='epoch')")
    proc = run_python([repo_path('tools', 'train.py'), config,
                       '--work-dir', str(tmp_path / 'work')], check=False)
    assert proc.returncode != 0
    assert "val_by must be 'cycle', 'step' or 'pass', not 'epoch'" in \
        proc.stdout + proc.stderr
