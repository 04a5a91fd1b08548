"""One of several disjoint parts of a dataset, for configs that split a
dataset's training images between steps (paper supplement Table 8: the
organ steps on VinDr-CXR train on non-overlapping subsets)."""
import os.path as osp
import zlib
from typing import Union

import numpy as np
from mmengine.registry import DATASETS
from torch.utils.data import Dataset


@DATASETS.register_module()
class DisjointSubset(Dataset):
    """Part ``part`` of ``parts`` disjoint, seeded parts of a dataset.

    An image belongs to the part given by a hash of ``seed`` and its file
    name, so the assignment does not depend on the order or the task of the
    annotation file: the loc and seg datasets of one split (two files
    listing the same images) are cut the same way, and wrappers with the
    same ``parts`` and ``seed`` and different ``part`` never share an image
    and together cover the split; parts are of about equal size. In a
    dataset table entry: ``loc=dict(classes=[...], train=dict(subset=dict(
    part=0, parts=6)))``.

    Args:
        dataset (dict | Dataset): The dataset or its config.
        part (int): Which part, from 0.
        parts (int): How many parts.
        seed (int): Seed of the shuffle that assigns images to parts.
    """

    def __init__(self, dataset: Union[dict, Dataset], part: int, parts: int,
                 seed: int = 0) -> None:
        if not 0 <= part < parts:
            raise ValueError(f'DisjointSubset: part {part} is not in '
                             f'0..{parts - 1}.')
        self.dataset = DATASETS.build(dataset) if isinstance(
            dataset, dict) else dataset
        n = len(self.dataset)
        self.indices = np.array([
            i for i in range(n) if self.part_of(
                self.dataset.get_data_info(i)['img_path'], parts, seed) == part
        ], dtype=np.int64)
        self.part, self.parts, self.seed = part, parts, seed
        if len(self.indices) == 0:
            raise ValueError(
                f'DisjointSubset: part {part} of {parts} of a dataset of {n} '
                f'images is empty ({getattr(self.dataset, "ann_file", "")}).')

    @staticmethod
    def part_of(img_path: str, parts: int, seed: int = 0) -> int:
        """The part an image belongs to (by file name, not folder)."""
        key = f'{seed}:{osp.basename(img_path)}'.encode()
        return zlib.crc32(key) % parts

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    @property
    def pipeline(self):
        """The wrapped dataset's pipeline (the train loop keys per-pass
        transforms through it)."""
        return self.dataset.pipeline

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, idx: int):
        return self.dataset[int(self.indices[idx])]
