"""Randomness keyed so that runs, workers, passes and resumes behave: soft
labels of uncertain labels, worker seeds and lock halves."""
import csv
import os
import os.path as osp
import shutil

import numpy as np
import torch

from fx_mm.datasets.transforms import ResolveUncertainLabels
from fx_mm.engine.pass_sampler import PassSampler
from tests.conftest import repo_path, run_python, tiny_train_config

TRAIN = repo_path('tools', 'train.py')


def soft(transform, sample_idx, raw=(-1.0, -1.0, 1.0, np.nan)):
    return transform.transform(dict(gt_raw=list(raw),
                                    sample_idx=sample_idx))['gt_score']


def test_lsr_draws_are_keyed_by_seed_pass_and_sample():
    a, b = ResolveUncertainLabels(), ResolveUncertainLabels()
    a.set_pass(7, 3)
    b.set_pass(7, 3)  # another worker's copy: the same draws
    np.testing.assert_array_equal(soft(a, 11), soft(b, 11))
    first = soft(a, 11)
    assert np.all((first[:2] >= 0.55) & (first[:2] <= 0.85))
    assert first[2] == 1.0 and np.isnan(first[3])
    assert not np.array_equal(soft(a, 11)[:2], soft(a, 12)[:2])  # sample
    b.set_pass(7, 4)
    assert not np.array_equal(first[:2], soft(b, 11)[:2])  # next pass
    b.set_pass(8, 3)
    assert not np.array_equal(first[:2], soft(b, 11)[:2])  # other run seed
    np.testing.assert_array_equal(first, soft(a, 11))  # no hidden state


def test_lock_half_depends_on_the_step_not_only_the_cycle():
    dataset = list(range(40))
    halves = {key: PassSampler(dataset, 0.5, subset_key=list(key),
                               seed=0).subset()
              for key in ((0, 1), (0, 2), (1, 1))}
    # another step in the same cycle, the same step in another cycle
    assert len({tuple(h) for h in halves.values()}) == 3
    again = PassSampler(dataset, 0.5, subset_key=[0, 1], seed=0).subset()
    np.testing.assert_array_equal(again, halves[(0, 1)])


def uncertain_copy(covid_lungs, root):
    """The prepared sample with every COVID-19 training label uncertain."""
    shutil.copytree(covid_lungs, root)
    path = osp.join(root, 'cls', 'train.csv')
    with open(path, newline='') as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row['COVID-19'] = '-1'
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_resume_is_exact_with_soft_labels_and_two_workers(covid_lungs,
                                                          tmp_path):
    """Four classification passes on uncertain labels (LSR draws in every
    sample, two dataloader workers), uninterrupted and resumed after pass
    2: the same weights."""
    root = uncertain_copy(covid_lungs, str(tmp_path / 'data'))
    # Checkpoints after passes 2 (resumed from, compared) and 4 only.
    config = tiny_train_config(
        str(tmp_path / 'cfg.py'), root, n_train=6,
        checkpoint=dict(interval=2), extra='''
train_cfg = dict(max_cycles=4, steps=[('CovidLungs', 'cls')], val_interval=100)
train_dataloader = dict(num_workers=2)
model = dict(teacher=False)
''')
    full, resumed = str(tmp_path / 'full'), str(tmp_path / 'resumed')
    run_python([TRAIN, config, '--work-dir', full])
    os.makedirs(resumed)
    shutil.copy(osp.join(full, 'epoch_2.pth'), resumed)
    run_python([TRAIN, config, '--work-dir', resumed, '--resume',
                osp.join(resumed, 'epoch_2.pth')])
    a = torch.load(osp.join(full, 'epoch_4.pth'), map_location='cpu',
                   weights_only=False)['state_dict']
    b = torch.load(osp.join(resumed, 'epoch_4.pth'), map_location='cpu',
                   weights_only=False)['state_dict']
    for key in a:
        torch.testing.assert_close(a[key], b[key], msg=key)
    # and the soft labels did change the head (the run trained on them)
    c = torch.load(osp.join(full, 'epoch_2.pth'), map_location='cpu',
                   weights_only=False)['state_dict']
    assert not torch.equal(a['cls_heads.CovidLungs.fc.weight'],
                           c['cls_heads.CovidLungs.fc.weight'])


def test_lsr_leaves_certain_labels_alone():
    out = soft(ResolveUncertainLabels(), 0, raw=(1.0, 0.0, np.nan))
    np.testing.assert_array_equal(out[:2], [1.0, 0.0])
    assert np.isnan(out[2])
