"""Packing and routing transforms."""
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs


@TRANSFORMS.register_module()
class PackMultiLabelSegInputs(PackSegInputs):
    """mmseg's PackSegInputs for multi-label masks.

    ``gt_seg_map`` is (H, W, C) while the pipeline resizes and flips it (the
    layout mmcv's image ops use); it is packed as ``gt_sem_seg.data`` of
    shape (C, H, W), the layout :class:`MultiHeadUPerHead` expects.
    """

    def transform(self, results: dict) -> dict:
        masks = results.pop('gt_seg_map', None)
        packed = super().transform(results)
        if masks is not None:
            if masks.ndim == 2:  # a single class after a squeezing transform
                masks = masks[..., None]
            packed['data_samples'].gt_sem_seg = PixelData(data=torch.from_numpy(
                np.ascontiguousarray(masks.transpose(2, 0, 1))))
        return packed


@TRANSFORMS.register_module()
class AnnotateDataset(BaseTransform):
    """Write the dataset name and task into a packed sample's metainfo.

    Foundation X routes each batch by these two keys. Place it after the
    toolbox's Pack transform; the cyclic loop adds it to every pipeline it
    builds from the dataset table.

    Args:
        dataset (str): Dataset name, as in the config's dataset table.
        task (str): ``'cls'``, ``'loc'`` or ``'seg'``.
    """

    def __init__(self, dataset: str, task: str) -> None:
        if task not in ('cls', 'loc', 'seg'):
            raise ValueError(f"AnnotateDataset: task {task!r} is not 'cls', "
                             "'loc' or 'seg'.")
        self.dataset, self.task = dataset, task

    def transform(self, results: dict) -> dict:
        if 'data_samples' not in results:
            raise KeyError('AnnotateDataset must come after a Pack transform '
                           '(no data_samples in the results).')
        results['data_samples'].set_metainfo(
            dict(dataset=self.dataset, task=self.task))
        return results
