"""Datasets, image I/O and transforms for chest X-rays (registered)."""
from .cxr_cls_dataset import CXRClsDataset
from .cxr_seg_dataset import CXRSegDataset
from .disjoint_subset import DisjointSubset
from .transforms import *  # noqa: F401,F403

__all__ = ['CXRClsDataset', 'CXRSegDataset', 'DisjointSubset']
