"""Read a prepared layout back, for the converter tests."""
import csv
import json
import os.path as osp
from collections import defaultdict
from typing import Optional, Sequence

SPLITS = ('train', 'val', 'test')


def read_cls(out: str, column: Optional[str] = None) -> dict:
    """File name -> cls row (or only ``column``'s cell), over all splits."""
    table = {}
    for split in SPLITS:
        with open(osp.join(out, 'cls', f'{split}.csv')) as f:
            table.update({r['file_name']: r[column] if column else r
                          for r in csv.DictReader(f)})
    return table


def read_splits(out: str) -> dict:
    """Split -> the file names of ``splits/<split>.txt``."""
    splits = {}
    for split in SPLITS:
        with open(osp.join(out, 'splits', f'{split}.txt')) as f:
            splits[split] = f.read().split()
    return splits


def read_boxes(out: str, loc_classes: Sequence[str]) -> dict:
    """File name -> COCO ``(x, y, w, h)`` tuples, over all splits.

    Every split's categories must be ``loc_classes`` in order with ids
    1..n, and every box one of them. Images with loc labels but no box map
    to an empty list.
    """
    boxes = defaultdict(list)
    for split in SPLITS:
        with open(osp.join(out, 'loc', f'{split}.json')) as f:
            coco = json.load(f)
        assert coco['categories'] == [
            dict(id=i + 1, name=c) for i, c in enumerate(loc_classes)]
        names = {im['id']: im['file_name'] for im in coco['images']}
        for name in names.values():
            boxes.setdefault(name, [])
        for a in coco['annotations']:
            assert 1 <= a['category_id'] <= len(loc_classes)
            boxes[names[a['image_id']]].append(tuple(a['bbox']))
    return boxes


def read_prepared(out: str, loc_classes: Sequence[str],
                  cls_column: Optional[str] = None):
    """``read_cls``, ``read_boxes`` and ``read_splits`` of one output."""
    return (read_cls(out, cls_column), read_boxes(out, loc_classes),
            read_splits(out))


def build_from_table(config: str, entry: str, data_root: str, task: str,
                     split: str, **task_entry):
    """One (task, split) of a prepared folder as fx_mm's loops build it.

    Args:
        config (str): A file of ``configs/_base_/datasets/``.
        entry (str): The table entry (a variable of that file).
        data_root (str): The prepared folder (replaces the entry's).
        task (str): 'cls', 'loc' or 'seg'.
        split (str): 'train', 'val' or 'test'.
        **task_entry: Keys replacing the task entry's (e.g. ``classes``).

    Returns:
        The built dataset (its pipeline: configs/_base_/pipelines/cxr_128.py,
        train or test).
    """
    from mmengine.config import Config
    from mmengine.registry import DATASETS, init_default_scope

    import fx_mm  # noqa: F401  (registers the dataset classes)
    from fx_mm.datasets.dataset_table import check_table, dataset_cfg
    from tests.conftest import repo_path

    table = Config.fromfile(
        repo_path('configs', '_base_', 'datasets', config)).to_dict()[entry]
    table = dict(table, data_root=data_root,
                 **{task: dict(table[task], **task_entry)})
    check_table([table])
    pipelines = Config.fromfile(repo_path(
        'configs', '_base_', 'pipelines', 'cxr_128.py')).fx_pipelines
    pipeline = pipelines[task]['train' if split == 'train' else 'test']
    # The model base configs' scope (unprefixed transforms are mmdet's).
    init_default_scope('mmdet')
    return DATASETS.build(dataset_cfg(table, task, split, pipeline))
