"""Multi-label classification dataset of the prepared layout."""
import csv
import math
import os.path as osp
from typing import List

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

# Raw label values of the prepared CSVs (data_prep/README.md).
RAW_VALUES = {'1': 1.0, '0': 0.0, '-1': -1.0, '': math.nan}


def parse_raw_label(text: str, where: str) -> float:
    """Parse one CSV cell: 1, 0, -1 (uncertain) or blank (missing)."""
    text = text.strip()
    if text.endswith('.0'):
        text = text[:-2]
    if text not in RAW_VALUES:
        raise ValueError(f'{where}: label {text!r} is not 1, 0, -1 or blank.')
    return RAW_VALUES[text]


@DATASETS.register_module()
class CXRClsDataset(BaseDataset):
    """Images with one raw label per class, from a prepared ``cls/*.csv``.

    The CSV has a ``file_name`` column (relative to ``data_prefix``) and one
    column per class, named as in ``classes``; cells are 1, 0, -1 (uncertain)
    or blank (missing). Each item's ``gt_raw`` keeps those values (blank as
    NaN); the :class:`ResolveUncertainLabels` transform turns them into
    training targets, so a policy is a pipeline setting.

    Args:
        ann_file (str): The CSV, relative to ``data_root``.
        classes (Sequence[str]): Class names, i.e. CSV columns, in head order.
        data_root (str): The prepared dataset folder.
        data_prefix (str): Image folder relative to ``data_root``.
        **kwargs: As mmpretrain's BaseDataset.
    """

    def __init__(self, ann_file: str, classes, data_root: str = '',
                 data_prefix: str = 'images', **kwargs) -> None:
        super().__init__(
            ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
            classes=list(classes), **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the CSV, checking columns and every cell."""
        classes = list(self.CLASSES)
        with open(self.ann_file, newline='') as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            missing = [c for c in ['file_name'] + classes if c not in columns]
            if missing:
                raise ValueError(
                    f'{self.ann_file}: missing column(s) {missing}; the CSV has '
                    f'{columns}.')
            data_list = []
            for row_no, row in enumerate(reader, start=2):
                raw = np.array([
                    parse_raw_label(row[c], f'{self.ann_file} line {row_no}, '
                                    f'column {c!r}') for c in classes
                ], dtype=np.float32)
                data_list.append(dict(
                    img_path=osp.join(self.img_prefix, row['file_name']),
                    gt_raw=raw))
        if not data_list:
            raise ValueError(f'{self.ann_file}: no images listed.')
        return data_list

    def get_raw_labels(self) -> np.ndarray:
        """(N, C) raw labels of the whole split (1 / 0 / -1 / NaN)."""
        return np.stack([self.get_data_info(i)['gt_raw']
                         for i in range(len(self))])
