"""Per-class ROC AUC for multi-label classification."""
import warnings
from typing import List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS
from sklearn.metrics import roc_auc_score

from .rank_collection import COLLECT_DEVICE


def multilabel_auc(scores: np.ndarray, labels: np.ndarray,
                   classes: Sequence[str], where: str = '') -> dict:
    """ROC AUC per class and its mean over the defined classes.

    Args:
        scores (np.ndarray): (N, C) predicted probabilities.
        labels (np.ndarray): (N, C) ground truth, 1 / 0; NaN (uncertain or
            missing) entries are left out of their class.
        classes (Sequence[str]): Class names.
        where (str): Dataset name, for the warning.

    Returns:
        dict: ``AUC/<class>`` (NaN when undefined) and ``AUC`` (mean over the
        classes with both label values; NaN if none).
    """
    out, defined = {}, []
    for c, name in enumerate(classes):
        keep = ~np.isnan(labels[:, c])
        y = labels[keep, c]
        if len(np.unique(y)) < 2:
            warnings.warn(
                f'{where}: class {name!r} has a single label value in this '
                'split; its AUC is undefined and left out of the mean.')
            out[f'AUC/{name}'] = float('nan')
            continue
        auc = float(roc_auc_score(y, scores[keep, c]))
        out[f'AUC/{name}'] = auc
        defined.append(auc)
    out['AUC'] = float(np.mean(defined)) if defined else float('nan')
    return out


@METRICS.register_module()
class MultiLabelAUC(BaseMetric):
    """ROC AUC of every class of one dataset's head (scikit-learn's).

    Reads ``pred_score`` (C,) and ``gt_score`` (C,; NaN = unknown) of each
    sample.

    Args:
        classes (Sequence[str], optional): Class names; default: the
            dataset's ``classes``.
        collect_device (str): How the ranks' results reach rank 0: 'gpu'
            (the default; mmengine's name for gathering through the process
            group, NCCL or gloo) or 'cpu' (through a folder that every node
            must share); see :mod:`.rank_collection`.
        prefix (str, optional): Metric name prefix (e.g. ``CheXpert/cls``).
    """

    default_prefix = 'cls'

    def __init__(self, classes: Optional[Sequence[str]] = None,
                 collect_device: str = COLLECT_DEVICE,
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.classes = classes

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            # mmengine's Evaluator hands samples over as dicts.
            self.results.append(dict(
                score=sample['pred_score'].cpu().numpy().astype(np.float64),
                label=sample['gt_score'].cpu().numpy().astype(np.float64)))

    def compute_metrics(self, results: List[dict]) -> dict:
        scores = np.stack([r['score'] for r in results])
        labels = np.stack([r['label'] for r in results])
        classes = self.classes or (self.dataset_meta or {}).get(
            'classes') or [str(i) for i in range(scores.shape[1])]
        return multilabel_auc(scores, labels, classes, where=self.prefix or '')
