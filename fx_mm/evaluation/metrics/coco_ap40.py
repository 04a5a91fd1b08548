"""COCO box AP at IoU 0.40 (the paper's mAP40), with AP50 and AP@[.40:.95]."""
import contextlib
import io
from typing import List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from .rank_collection import COLLECT_DEVICE

IOU_THRS = np.round(np.arange(0.40, 0.951, 0.05), 2)  # 0.40, 0.45, ..., 0.95


def coco_box_ap(gts: Sequence[dict], preds: Sequence[dict],
                classes: Sequence[str], max_dets: int = 100) -> dict:
    """Box AP of pycocotools' COCOeval at IoU thresholds 0.40:0.05:0.95.

    Args:
        gts (Sequence[dict]): Per image: ``bboxes`` (K, 4) x1y1x2y2 pixels,
            ``labels`` (K,), optional ``ignore`` (K,) bool, ``width``,
            ``height``.
        preds (Sequence[dict]): Per image: ``bboxes`` (M, 4), ``scores``
            (M,), ``labels`` (M,).
        classes (Sequence[str]): Class names (label i is class i).
        max_dets (int): Detections kept per image (COCO's largest maxDets).

    Returns:
        dict: ``mAP40``, ``mAP50``, ``mAP`` (over 0.40:0.95) and
        ``mAP40/<class>`` (that class's AP at IoU 0.40); NaN where there is
        no ground truth (for a class: no box of that class).
    """
    images, anns, dets = [], [], []
    for i, (gt, pred) in enumerate(zip(gts, preds), start=1):
        images.append(dict(id=i, width=gt.get('width', 1),
                           height=gt.get('height', 1)))
        ignore = gt.get('ignore', np.zeros(len(gt['labels']), bool))
        for box, label, ign in zip(gt['bboxes'], gt['labels'], ignore):
            x1, y1, x2, y2 = map(float, box)
            anns.append(dict(id=len(anns) + 1, image_id=i,
                             category_id=int(label) + 1,
                             bbox=[x1, y1, x2 - x1, y2 - y1],
                             area=(x2 - x1) * (y2 - y1), iscrowd=int(ign)))
        for box, score, label in zip(pred['bboxes'], pred['scores'],
                                     pred['labels']):
            x1, y1, x2, y2 = map(float, box)
            dets.append(dict(image_id=i, category_id=int(label) + 1,
                             bbox=[x1, y1, x2 - x1, y2 - y1],
                             score=float(score)))
    nan = float('nan')
    if not anns:
        # Every class is listed, undefined, so per-class reports keep a row.
        return dict(mAP40=nan, mAP50=nan, mAP=nan,
                    **{f'mAP40/{name}': nan for name in classes or ()})
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = dict(
            images=images, annotations=anns,
            categories=[dict(id=c + 1, name=n) for c, n in enumerate(classes)])
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(dets) if dets else COCO()
        if not dets:
            coco_dt.dataset = dict(images=images, annotations=[],
                                   categories=coco_gt.dataset['categories'])
            coco_dt.createIndex()
        ev = COCOeval(coco_gt, coco_dt, 'bbox')
        ev.params.iouThrs = IOU_THRS
        ev.params.maxDets = [1, 10, max_dets]
        ev.evaluate()
        ev.accumulate()
    # precision: (T thresholds, R recall points, K classes, A areas, M maxDets)
    precision = ev.eval['precision'][:, :, :, 0, -1]

    def ap(p):
        p = p[p > -1]
        return float(p.mean()) if p.size else nan

    out = dict(mAP40=ap(precision[0]), mAP50=ap(precision[2]),
               mAP=ap(precision))
    for c, name in enumerate(classes):
        out[f'mAP40/{name}'] = ap(precision[0, :, c])
    return out


def _numpy(x) -> np.ndarray:
    """Tensor or mmdet box structure -> numpy."""
    x = getattr(x, 'tensor', x)  # mmdet's HorizontalBoxes
    return x.cpu().numpy() if hasattr(x, 'cpu') else np.asarray(x)


@METRICS.register_module()
class CocoAP40Metric(BaseMetric):
    """mAP40 (COCO AP at IoU 0.40), mAP50 and AP@[.40:.95] of one dataset.

    Works on mmdet samples: ``pred_instances`` (boxes in original pixels) and
    ``gt_instances`` (loaded after resizing, hence also original pixels).

    Args:
        classes (Sequence[str], optional): Class names (label i is class i);
            default: the dataset's ``classes``.
        max_dets (int): Detections kept per image (COCO's largest maxDets).
        collect_device (str): How the ranks' results reach rank 0: 'gpu'
            (the default; mmengine's name for gathering through the process
            group, NCCL or gloo) or 'cpu' (through a folder that every node
            must share); see :mod:`.rank_collection`.
        prefix (str, optional): Metric name prefix (e.g. ``TBX11K/loc``).
    """

    default_prefix = 'loc'

    def __init__(self, classes: Optional[Sequence[str]] = None,
                 max_dets: int = 100, collect_device: str = COLLECT_DEVICE,
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.classes, self.max_dets = classes, max_dets

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            # mmengine's Evaluator hands samples over as dicts.
            pred, gt = sample['pred_instances'], sample['gt_instances']
            h, w = sample['ori_shape'][:2]
            ignore = gt.get('ignore_flags')
            self.results.append((
                dict(bboxes=_numpy(gt['bboxes']), labels=_numpy(gt['labels']),
                     width=w, height=h,
                     ignore=None if ignore is None else
                     _numpy(ignore).astype(bool)),
                dict(bboxes=_numpy(pred['bboxes']),
                     scores=_numpy(pred['scores']),
                     labels=_numpy(pred['labels']))))

    def compute_metrics(self, results: List[tuple]) -> dict:
        gts = [g if g['ignore'] is not None else {
            k: v for k, v in g.items() if k != 'ignore'} for g, _ in results]
        preds = [p for _, p in results]
        classes = self.classes or (self.dataset_meta or {}).get('classes')
        return coco_box_ap(gts, preds, classes, self.max_dets)
