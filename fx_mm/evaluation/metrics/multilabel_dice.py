"""Dice of multi-label segmentation masks."""
from typing import List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS

from .rank_collection import COLLECT_DEVICE


def dice_stats(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-class intersection, prediction area and truth area of one image.

    Args:
        pred (np.ndarray): (C, H, W) 0/1 prediction.
        gt (np.ndarray): (C, H, W) 0/1 truth.

    Returns:
        np.ndarray: (C, 3) int64: intersection, |pred|, |gt|.
    """
    if pred.shape != gt.shape:
        raise ValueError(f'prediction {pred.shape} and truth {gt.shape} '
                         'masks differ in shape.')
    p, g = pred.reshape(len(pred), -1) > 0, gt.reshape(len(gt), -1) > 0
    return np.stack([(p & g).sum(1), p.sum(1), g.sum(1)], 1).astype(np.int64)


def dice_from_stats(stats: np.ndarray, classes: Sequence[str]) -> dict:
    """Per-image Dice averaged per class, and the global Dice.

    Args:
        stats (np.ndarray): (N, C, 3) from :func:`dice_stats`.
        classes (Sequence[str]): Class names.

    Returns:
        dict: ``Dice/<class>`` and ``Dice`` (mean over classes) of the
        per-image Dice -- an image whose prediction and truth are both empty
        counts 1 -- and ``globalDice/<class>``, ``globalDice`` (pixels pooled
        over the split).
    """
    inter, p, g = stats[..., 0], stats[..., 1], stats[..., 2]
    denom = p + g
    per_image = np.where(denom == 0, 1.0, 2 * inter / np.maximum(denom, 1))
    tot_i, tot_d = inter.sum(0), denom.sum(0)
    global_dice = np.where(tot_d == 0, 1.0, 2 * tot_i / np.maximum(tot_d, 1))
    out = {}
    for c, name in enumerate(classes):
        out[f'Dice/{name}'] = float(per_image[:, c].mean())
        out[f'globalDice/{name}'] = float(global_dice[c])
    out['Dice'] = float(per_image.mean(0).mean())
    out['globalDice'] = float(global_dice.mean())
    return out


@METRICS.register_module()
class MultiLabelDice(BaseMetric):
    """Dice of one dataset's multi-label masks at the original image size.

    Reads ``pred_sem_seg.data`` and ``gt_sem_seg.data`` (C, H, W) of each
    sample.

    Args:
        classes (Sequence[str], optional): Class names; default: the
            dataset's ``classes``.
        collect_device (str): How the ranks' results reach rank 0: 'gpu'
            (the default; mmengine's name for gathering through the process
            group, NCCL or gloo) or 'cpu' (through a folder that every node
            must share); see :mod:`.rank_collection`.
        prefix (str, optional): Metric name prefix (e.g. ``JSRT/seg``).
    """

    default_prefix = 'seg'

    def __init__(self, classes: Optional[Sequence[str]] = None,
                 collect_device: str = COLLECT_DEVICE,
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.classes = classes

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            # mmengine's Evaluator hands samples over as dicts.
            pred = sample['pred_sem_seg']['data'].cpu().numpy()
            gt = sample['gt_sem_seg']['data'].cpu().numpy()
            self.results.append(dice_stats(pred, gt))

    def compute_metrics(self, results: List[np.ndarray]) -> dict:
        stats = np.stack(results)
        classes = self.classes or (self.dataset_meta or {}).get(
            'classes') or [str(i) for i in range(stats.shape[1])]
        return dice_from_stats(stats, classes)
