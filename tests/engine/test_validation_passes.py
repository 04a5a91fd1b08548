"""Which passes validation follows (``train_cfg.val_by`` -- 'cycle', 'step',
'pass' -- and ``val_interval``, decided by CyclicTrainLoop), when the student
is validated beside the teacher (``val_cfg.with_student``), and a task's own
batch size (``train_cfg.batch_size_per_task``)."""
import glob
import json
import os.path as osp

import pytest

from fx_mm.engine.loops import CyclicTrainLoop, build_schedule
from tests.conftest import (NO_CHECKPOINT, repo_path, run_python,
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
    """The demo's settings in a run of 2 cycles of cls (one pass), seg lock
    and seg release, 4 training images, batch 2:

    - val_by='step': validated after passes 0, 2, 3, 5 (steps 1, 3, 4, 6);
    - with_student='cycle': the student beside the teacher only after a
      cycle's last pass (steps 3 and 6);
    - batch_size_per_task=dict(cls=1): cls passes take 4 iterations, the
      seg release 2 and the seg lock (half the images) 1.
    """
    config = tiny_train_config(str(tmp_path / 'cfg.py'), covid_lungs,
                               n_train=4, n_eval=2,
                               checkpoint=NO_CHECKPOINT, extra='''
train_cfg = dict(max_cycles=2, val_by='step', val_interval=1,
                 steps=[('CovidLungs', 'cls'), ('CovidLungs', 'seg')],
                 batch_size_per_task=dict(cls=1))
val_cfg = dict(with_student='cycle')
''')
    work_dir = str(tmp_path / 'work')
    run_python([repo_path('tools', 'train.py'), config, '--work-dir',
                work_dir])
    with open(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                 'scalars.json'))[0]) as f:
        records = [json.loads(line) for line in f]
    val = [r for r in records if 'CovidLungs/seg/Dice' in r]
    assert [r['step'] for r in val] == [1, 3, 4, 6]
    assert [r['step'] for r in val if 'student/CovidLungs/seg/Dice' in r] \
        == [3, 6]
    iters = {}
    for r in records:
        if 'loss' in r:
            iters[r['epoch']] = iters.get(r['epoch'], 0) + 1
    assert iters == {1: 4, 2: 1, 3: 2, 4: 4, 5: 1, 6: 2}


@pytest.mark.parametrize('extra,message', [
    ("train_cfg = dict(val_by='epoch')",
     "val_by must be 'cycle', 'step' or 'pass', not 'epoch'"),
    ("train_cfg = dict(batch_size_per_task=dict(det=4))",
     "batch_size_per_task: 'det': 4"),
    ("train_cfg = dict(batch_size_per_task=dict(cls=0))",
     "batch_size_per_task: 'cls': 0"),
    ("val_cfg = dict(with_student='pass')",
     "with_student must be True, False or 'cycle', not 'pass'"),
])
def test_bad_settings_are_refused(covid_lungs, tmp_path, extra, message):
    config = tiny_train_config(str(tmp_path / 'cfg.py'), covid_lungs,
                               extra=extra)
    proc = run_python([repo_path('tools', 'train.py'), config,
                       '--work-dir', str(tmp_path / 'work')], check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
