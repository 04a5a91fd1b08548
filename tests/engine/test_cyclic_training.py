"""Cyclic Lock-Release training through tools/train.py on real radiographs."""
import glob
import os
import os.path as osp
import shutil

import pytest
import torch

from tests.conftest import repo_path, run_python, tiny_train_config

TRAIN = repo_path('tools', 'train.py')
# The tiny 3-dataset cycle: CovidLungs cls, loc (lock, release), seg (lock,
# release); CovidBoxes cls, loc (lock, release); LungMasks seg (lock, release).
PASSES = [('CovidLungs', 'cls', 'full'), ('CovidLungs', 'loc', 'lock'),
          ('CovidLungs', 'loc', 'release'), ('CovidLungs', 'seg', 'lock'),
          ('CovidLungs', 'seg', 'release'), ('CovidBoxes', 'cls', 'full'),
          ('CovidBoxes', 'loc', 'lock'), ('CovidBoxes', 'loc', 'release'),
          ('LungMasks', 'seg', 'lock'), ('LungMasks', 'seg', 'release')]


run = run_python


def state(work_dir, epoch):
    return torch.load(osp.join(work_dir, f'epoch_{epoch}.pth'),
                      map_location='cpu')['state_dict']


@pytest.fixture(scope='module')
def one_cycle(trained_tiny):
    return trained_tiny


def test_one_cycle_writes_checkpoints_and_logs(one_cycle):
    work_dir, _, output = one_cycle
    for epoch in range(1, len(PASSES) + 1):
        assert osp.isfile(osp.join(work_dir, f'epoch_{epoch}.pth'))
    assert osp.isfile(osp.join(work_dir, 'last_checkpoint'))
    logs = glob.glob(osp.join(work_dir, '*', '*.log'))
    assert logs, 'no log file in the work dir'
    log = open(logs[0]).read()
    for k, (dataset, task, kind) in enumerate(PASSES):
        assert f'{dataset}/{task} {kind}' in log, (dataset, task, kind)
    # Task and consistency losses are logged apart; per-branch lrs too.
    assert 'loc.loss_cls' in log and 'loss_cons_loc_encoder' in log
    assert 'backbone_lr' in log and 'loc_lr' in log
    # Validation after the cycle, every task of every dataset.
    for key in ('CovidLungs/cls/AUC', 'CovidLungs/loc/mAP40',
                'CovidLungs/seg/Dice', 'CovidBoxes/loc/mAP40',
                'LungMasks/seg/Dice'):
        assert key in log, key


def _changed(before, after, prefix):
    keys = [k for k in before if k.startswith(prefix)
            and before[k].is_floating_point()]
    assert keys, prefix
    return any(not torch.equal(before[k], after[k]) for k in keys)


def _student_params(sd):
    """Every student tensor: parameters and buffers (BatchNorm statistics
    included: a frozen part's statistics must not move either)."""
    return {k: v for k, v in sd.items() if not k.startswith('teacher.')}


def test_lock_pass_trains_only_its_decoder_then_release_trains_all(one_cycle):
    work_dir = one_cycle[0]
    # Pass 1 (epoch_2.pth) is CovidLungs' loc lock pass.
    before, locked, released = (state(work_dir, e) for e in (1, 2, 3))
    active = 'loc.per_dataset.CovidLungs.'
    assert _changed(before, locked, active)
    for key, value in _student_params(before).items():
        if not key.startswith(active):
            assert torch.equal(value, locked[key]), f'{key} moved while locked'
    # The release pass trains the backbone and the shared encoder ...
    assert _changed(locked, released, 'backbone.')
    assert _changed(locked, released, 'loc.encoder.')
    # ... but no other dataset's decoder: no gradient, no AdamW drift.
    for key, value in _student_params(locked).items():
        if key.startswith(('loc.per_dataset.CovidBoxes.', 'seg.', 'cls_heads.')):
            assert torch.equal(value, released[key]), f'{key} drifted'


def test_seg_lock_pass_trains_only_its_classifier(one_cycle):
    work_dir = one_cycle[0]
    before, locked = state(work_dir, 3), state(work_dir, 4)
    # the UPerNet body has BatchNorms, and they stay put too
    assert any('running_mean' in k for k in before if k.startswith('seg.'))
    assert _changed(before, locked, 'seg.per_dataset.CovidLungs.conv_seg')
    for key, value in _student_params(before).items():
        if not key.startswith('seg.per_dataset.CovidLungs.'):
            assert torch.equal(value, locked[key]), f'{key} moved while locked'


@pytest.mark.parametrize('epoch', [2, 5, 10])
def test_teacher_is_ema_of_student_after_each_pass(one_cycle, epoch):
    work_dir = one_cycle[0]
    old, new = state(work_dir, epoch - 1), state(work_dir, epoch)
    checked = 0
    for key, teacher in new.items():
        if not key.startswith('teacher.'):
            continue
        student = new[key[len('teacher.'):]]
        if teacher.is_floating_point():
            torch.testing.assert_close(
                teacher, 0.8 * old[key] + 0.2 * student, msg=key)
        else:
            assert torch.equal(teacher, student), key
        checked += 1
    assert checked > 100
    assert any('running_mean' in k for k in new if k.startswith('teacher.'))


def test_resume_continues_exactly(one_cycle, tmp_path):
    work_dir, config, _ = one_cycle
    # A run stopped after pass 4 (epoch_4.pth) and resumed with --resume.
    resumed = str(tmp_path / 'resumed')
    os.makedirs(resumed)
    shutil.copy(osp.join(work_dir, 'epoch_4.pth'), resumed)
    # Only the last pass's checkpoint is compared: no other is written.
    run([TRAIN, config, '--work-dir', resumed, '--resume',
         osp.join(resumed, 'epoch_4.pth'), '--cfg-options',
         'default_hooks.checkpoint.interval=-1'])
    assert sorted(os.listdir(osp.join(resumed, 'audit')))[0] == \
        'pass4_rank0.txt', 'the resumed run did not start at pass 4'
    for k in range(4, len(PASSES)):
        name = f'pass{k}_rank0.txt'
        assert open(osp.join(resumed, 'audit', name)).read() == open(
            osp.join(work_dir, 'audit', name)).read(), name
    a, b = state(work_dir, 10), state(resumed, 10)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], msg=key)


def test_nan_loss_stops_with_context(covid_lungs, tmp_path):
    config = tiny_train_config(str(tmp_path / 'cfg.py'), covid_lungs)
    work_dir = str(tmp_path / 'work')
    proc = run([TRAIN, config, '--work-dir', work_dir, '--cfg-options',
                'model.consistency.weight=nan'], check=False)
    assert proc.returncode != 0
    assert "dataset 'CovidLungs', task 'cls'" in proc.stderr
    assert 'iteration 0' in proc.stderr and 'loss is nan' in proc.stderr
    assert not glob.glob(osp.join(work_dir, 'epoch_*.pth'))
