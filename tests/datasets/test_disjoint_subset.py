"""Disjoint training subsets through the dataset table (the organ config's
per-(organ, task) parts of one split)."""
import pytest
from mmengine.config import Config
from mmengine.registry import DATASETS, init_default_scope

from fx_mm.datasets.dataset_table import dataset_cfg
from tests.conftest import repo_path


def image_names(dataset):
    return [dataset.dataset.get_data_info(int(i))['img_path'].rsplit(
        '/', 1)[-1] for i in dataset.indices]


def test_organ_parts_are_disjoint_and_cover_the_split(covid_lungs):
    init_default_scope('mmdet')
    organs = Config.fromfile(repo_path('configs',
                                       'fx_ls_organs_vindr.py')).fx_datasets
    classes = dict(loc=['Right Lung', 'Left Lung'], seg=['Lungs'])
    parts = {}
    for entry in organs:  # the sample stands in for VinDr / CheXmask
        for task in ('loc', 'seg'):
            task_entry = dict(entry[task], classes=classes[task])
            cfg = dataset_cfg(dict(entry, data_root=covid_lungs,
                                   **{task: task_entry}), task, 'train', [])
            assert cfg['type'] == 'DisjointSubset'
            parts[(entry['name'], task)] = image_names(DATASETS.build(cfg))
    assert len(parts) == 6
    names = [n for p in parts.values() for n in p]
    assert len(names) == len(set(names)), 'an image is in two organ steps'
    # together the parts cover every image of the loc and seg train splits
    whole = set()
    for task in ('loc', 'seg'):
        split = DATASETS.build(dataset_cfg(
            dict(name='all', data_root=covid_lungs,
                 **{task: dict(classes=classes[task])}), task, 'train', []))
        whole |= {split.get_data_info(i)['img_path'].rsplit('/', 1)[-1]
                  for i in range(len(split))}
    # (the sample's loc split has images without masks: a part of a loc step
    # may hold them, a seg part cannot)
    assert set(names) <= whole
    for task in ('loc', 'seg'):
        task_names = {n for (_, t), p in parts.items() if t == task
                      for n in p}
        assert task_names, task
    sizes = [len(p) for p in parts.values()]
    assert min(sizes) > 0.5 * len(names) / 6  # roughly equal parts
    # the val split is whole for every organ
    val = dataset_cfg(dict(organs[0], data_root=covid_lungs), 'seg', 'val', [])
    assert val['type'] != 'DisjointSubset'


def test_a_part_out_of_range_is_refused(covid_lungs):
    init_default_scope('mmdet')
    cfg = dataset_cfg(dict(name='X', data_root=covid_lungs,
                           seg=dict(classes=['Lungs'], train=dict(
                               subset=dict(part=6, parts=6)))),
                      'seg', 'train', [])
    with pytest.raises(ValueError, match='part 6 is not in 0..5'):
        DATASETS.build(cfg)
