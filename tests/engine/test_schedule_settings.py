"""Settings counted in cycles and batches, through tools/train.py."""
import glob
import json
import os.path as osp

from tests.conftest import (LAST_PASS_ONLY, repo_path, run_python,
                            tiny_train_config)


def test_milestones_in_cycles_and_the_total_batch_note(covid_lungs,
                                                       tmp_path):
    """milestone_cycles=[2] with 2 passes a cycle decays after pass 4; a
    total batch other than auto_scale_lr.base_batch_size is reported."""
    config = tiny_train_config(str(tmp_path / 'cfg.py'), covid_lungs,
                               n_train=4, checkpoint=LAST_PASS_ONLY, extra='''
train_cfg = dict(max_cycles=3, val_interval=100,
                 steps=[('CovidLungs', 'cls'), ('CovidBoxes', 'cls')])
param_scheduler = [dict(type='MultiStepLR', by_epoch=True,
                        milestone_cycles=[2], gamma=0.1)]
auto_scale_lr = dict(enable=False, base_batch_size=24)
model = dict(teacher=False)
''')
    work_dir = str(tmp_path / 'work')
    proc = run_python([repo_path('tools', 'train.py'), config, '--work-dir',
                       work_dir])
    log = proc.stdout + proc.stderr
    assert 'Total batch 2 (1 process(es) x 2) differs from the 24' in log
    with open(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                 'scalars.json'))[0]) as f:
        lrs = {}
        for line in f:
            record = json.loads(line)
            if 'lr' in record:
                lrs.setdefault(record['epoch'], record['lr'])
    assert sorted(lrs) == [1, 2, 3, 4, 5, 6]
    base = lrs[1]
    assert all(abs(lrs[e] - base) < 1e-12 for e in (1, 2, 3, 4))
    assert all(abs(lrs[e] - 0.1 * base) < 1e-12 for e in (5, 6))
    dumped = open(osp.join(work_dir, 'cfg.py')).read()
    assert 'milestone_cycles' in dumped  # the user's setting is kept


def test_auto_scale_lr_scales_by_the_total_batch(covid_lungs, tmp_path):
    config = tiny_train_config(str(tmp_path / 'cfg.py'), covid_lungs,
                               n_train=4, checkpoint=LAST_PASS_ONLY, extra='''
train_cfg = dict(max_cycles=1, val_interval=100, steps=[('CovidLungs', 'cls')])
auto_scale_lr = dict(enable=False, base_batch_size=24)
model = dict(teacher=False)
''')
    work_dir = str(tmp_path / 'work')
    run_python([repo_path('tools', 'train.py'), config, '--work-dir',
                work_dir, '--auto-scale-lr'])
    with open(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                 'scalars.json'))[0]) as f:
        lr = next(json.loads(line)['lr'] for line in f if '"lr"' in line)
    # 'lr' is the first group's: the backbone's 1e-5 (0.1 x 1e-4), x 2 / 24
    assert abs(lr - 1e-5 * 2 / 24) < 1e-15
