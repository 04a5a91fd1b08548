"""Weighted boxes fusion of several readers' ground-truth boxes.

Weighted boxes fusion (WBF; Solovyev, Wang and Gabruseva, "Weighted boxes
fusion: ensembling boxes from different object detection models", Image and
Vision Computing 2021, arXiv:1910.13302), applied to annotations rather than
predictions: on one image, the boxes that several radiologists drew around the
same lesion become one box. The algorithm, per class:

1. sort the boxes by score, highest first;
2. take each box in turn and compare it with the *fused* box of every cluster
   made so far; it joins the cluster with the highest IoU when that IoU is
   above ``iou_thr``, else it starts a cluster of its own;
3. a cluster's fused box is the score-weighted mean of its members'
   coordinates (recomputed whenever a member joins).

Boxes of different classes are never fused. For ground truth every reader's
box has score 1, so the fused box is the plain mean of the cluster.

Differences from the ensemble-boxes package (ZFTurbo's reference
implementation of the paper), all deliberate:

* coordinates are taken as they are (pixels or normalised alike: IoU and the
  mean do not depend on the scale), not clipped to [0, 1];
* boxes of equal score are visited in a fixed order (by their coordinates),
  so the result does not depend on the order of the input rows -- the package
  sorts by score alone, which leaves ties in an arbitrary order, and the
  greedy clustering can depend on that order;
* no fused confidence is computed (ground truth has none); each fused box
  instead reports which input boxes it merges.
"""
from typing import List, NamedTuple, Optional, Sequence

import numpy as np

#: IoU above which a reader's box joins a cluster. 0.5 is what published
#: ground-truth fusion of VinDr-CXR's readers used: Tschirschwitz et al.,
#: "Drawing the Same Bounding Box Twice? Coping Noisy Annotations in Object
#: Detection with Repeated Labels" (GCPR 2023), fuse the VinDr-CXR train
#: readers with WBF at ``iou_threshold=0.5`` (their config
#: ``configs/vindrcxr/dataset/base/vindrcxr_train_wbf.py``), which is also the
#: value of the ensemble-boxes README example. Kaggle VinBigData notebooks
#: used 0.5 to 0.7; a lower threshold merges more, and the competition's own
#: match criterion (mAP at IoU 0.4) sits below all of them.
DEFAULT_IOU_THR = 0.5


class FusedBoxes(NamedTuple):
    """The result of :func:`weighted_boxes_fusion`.

    Attributes:
        boxes (np.ndarray): (K, 4) float64 fused ``x1, y1, x2, y2``.
        labels (np.ndarray): (K,) the class of each fused box (the input's
            label dtype).
        members (list[np.ndarray]): K int arrays: the indices, into the
            input, of the boxes each fused box merges (ascending).
    """
    boxes: np.ndarray
    labels: np.ndarray
    members: List[np.ndarray]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of two sets of corner boxes.

    A box with no area (or inverted corners) has IoU 0 with everything, so it
    is never fused with another.

    Args:
        a (np.ndarray): (N, 4) ``x1, y1, x2, y2``.
        b (np.ndarray): (M, 4) ``x1, y1, x2, y2``.

    Returns:
        np.ndarray: (N, M) float64 IoU.
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - \
        np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - \
        np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * \
        np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * \
        np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou


def weighted_boxes_fusion(boxes: np.ndarray, labels: Sequence,
                          scores: Optional[np.ndarray] = None,
                          iou_thr: float = DEFAULT_IOU_THR) -> FusedBoxes:
    """Fuse one image's boxes from several readers, class by class.

    Args:
        boxes (np.ndarray): (N, 4) ``x1, y1, x2, y2`` of every reader's box.
        labels (Sequence): (N,) class of each box (ints or strings).
        scores (np.ndarray, optional): (N,) positive weight of each box;
            None gives every box weight 1 (readers count alike).
        iou_thr (float): A box joins a cluster when its IoU with the
            cluster's fused box is above this (strictly, as in the paper).

    Returns:
        FusedBoxes: Fused boxes sorted by label, then by coordinates; the same
        for any order of the input boxes.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    labels = np.asarray(labels)
    n = len(boxes)
    if labels.shape != (n,):
        raise ValueError(f'{n} boxes but labels of shape {labels.shape}.')
    scores = np.ones(n) if scores is None else \
        np.asarray(scores, np.float64)
    if scores.shape != (n,):
        raise ValueError(f'{n} boxes but scores of shape {scores.shape}.')
    if n and not np.all(scores > 0):
        raise ValueError('box scores must be positive (they weight the mean).')
    out_boxes, out_labels, out_members = [], [], []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        # Highest score first; equal scores by their coordinates, so the
        # visiting order -- and with it the greedy clustering -- is a
        # function of the boxes, not of the order they were listed in.
        b, s = boxes[idx], scores[idx]
        order = np.lexsort((b[:, 3], b[:, 2], b[:, 1], b[:, 0], -s))
        clusters: List[List[int]] = []  # positions into idx
        fused = np.empty((0, 4))
        for j in order:
            iou = box_iou(b[j:j + 1], fused)[0] if len(fused) else \
                np.empty(0)
            if len(iou) and iou.max() > iou_thr:
                k = int(np.argmax(iou))  # first of equal IoUs: deterministic
                clusters[k].append(j)
                w = s[clusters[k]]
                fused[k] = (w[:, None] * b[clusters[k]]).sum(0) / w.sum()
            else:
                clusters.append([j])
                fused = np.vstack([fused, b[j]])
        for k, members in enumerate(clusters):
            out_boxes.append(fused[k])
            out_labels.append(label)
            out_members.append(np.sort(idx[members]))
    if not out_boxes:
        return FusedBoxes(np.zeros((0, 4)), labels[:0], [])
    out = np.asarray(out_boxes)
    lab = np.asarray(out_labels, dtype=labels.dtype)
    # Labels come out of np.unique in order; within one, order by box.
    order = np.lexsort((out[:, 3], out[:, 2], out[:, 1], out[:, 0],
                        np.searchsorted(np.unique(labels), lab)))
    return FusedBoxes(out[order], lab[order],
                      [out_members[i] for i in order])
