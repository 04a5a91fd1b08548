"""Each head's worst held-out images, and a few typical ones.

From the per-image results ``tools/test.py`` writes
(:class:`fx_mm.engine.hooks.PerImageResultsHook`), one ranking per task:

- segmentation: the per-image Dice (mean over the classes; an image whose
  prediction and truth of a class are both empty counts 1 for it, as in
  the Dice metric) -- lowest first;
- localization: the boxes missed (a true box no prediction at or above
  ``score_thr`` overlaps by IoU >= 0.40 with the same class -- the IoU of
  the paper's mAP40) plus the false boxes (a prediction at or above
  ``score_thr`` that matches no true box), most first;
- classification: the most confident wrong call on any class with a known
  label -- the probability of a negative called positive (>= 0.5) or one
  minus that of a positive called negative -- most confident first.

The typical cases are the images nearest the median of the same ranking.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import numpy as np
from mmdet.evaluation.functional import bbox_overlaps

# The IoU of the paper's mAP40: a box within it found its target.
MATCH_IOU = 0.40


@dataclass
class HeldOutCase:
    """One image of one head, picked for the report.

    Attributes:
        dataset (str): The dataset (head).
        task (str): 'cls', 'loc' or 'seg'.
        kind (str): 'worst' or 'typical'.
        img_path (str): The image.
        value (float): The ranking's value (per-image Dice, errors, the
            confidence of the wrong call).
        caption (str): One line saying what is wrong (or right).
        record (dict): The image's per-image result.
        details (dict): Per task: ``dice`` {class: Dice}; ``matched``,
            ``missed`` (truth indices), ``false`` (prediction indices);
            ``calls`` [(class, probability, truth)].
    """
    dataset: str
    task: str
    kind: str
    img_path: str
    value: float
    caption: str
    record: dict
    details: dict = field(default_factory=dict)


def image_dice(stats: Sequence[Sequence[int]]) -> np.ndarray:
    """(C,) Dice of one image from its (C, 3) intersection / predicted /
    true pixel counts; 1 where both are empty (as the Dice metric)."""
    s = np.asarray(stats, np.float64).reshape(-1, 3)
    denom = s[:, 1] + s[:, 2]
    return np.where(denom == 0, 1.0, 2 * s[:, 0] / np.maximum(denom, 1))


def match_boxes(record: dict, score_thr: float,
                iou_thr: float = MATCH_IOU) -> Tuple[list, list, list]:
    """Greedy matching of one image's boxes, highest score first.

    Args:
        record (dict): A loc per-image result (``pred_*``, ``gt_*``).
        score_thr (float): Predictions below it are not counted.
        iou_thr (float): The IoU a match needs.

    Returns:
        tuple[list, list, list]: ``matched`` [(prediction, truth index)],
        ``missed`` (truth indices, ignored boxes left out) and ``false``
        (prediction indices).
    """
    scores = np.asarray(record['pred_scores'], np.float64)
    keep = [i for i in np.argsort(-scores, kind='stable')
            if scores[i] >= score_thr]
    pred = np.asarray(record['pred_bboxes'], np.float32).reshape(-1, 4)
    gt = np.asarray(record['gt_bboxes'], np.float32).reshape(-1, 4)
    ignore = np.asarray(record.get('gt_ignore') or [False] * len(gt), bool)
    ious = bbox_overlaps(pred, gt) if len(pred) and len(gt) else \
        np.zeros((len(pred), len(gt)))
    taken = np.zeros(len(gt), bool)
    matched, false = [], []
    for i in keep:
        same = [j for j in range(len(gt)) if not taken[j]
                and record['gt_labels'][j] == record['pred_labels'][i]
                and ious[i, j] >= iou_thr]
        if same:
            j = max(same, key=lambda j: ious[i, j])
            taken[j] = True
            matched.append((int(i), int(j)))
        else:
            false.append(int(i))
    missed = [j for j in range(len(gt)) if not taken[j] and not ignore[j]]
    return matched, missed, false


def _pick(ranked: List[tuple], worst: int, typical: int) -> List[tuple]:
    """The ``worst`` first of a ranking (worst first) and the ``typical``
    nearest its median, without repeats: [(kind, item)]."""
    picked = [('worst', r) for r in ranked[:worst]]
    rest = ranked[worst:]
    if typical and rest:
        middle = len(ranked) // 2
        order = sorted(range(len(rest)),
                       key=lambda i: abs(i + worst - middle))
        picked += [('typical', rest[i]) for i in sorted(order[:typical])]
    return picked


def seg_cases(records: Sequence[dict], classes: Sequence[str], worst: int,
              typical: int) -> List[HeldOutCase]:
    """Lowest per-image Dice first; typical: the median Dice."""
    ranked = []
    for r in records:
        dice = image_dice(r['dice_stats'])
        ranked.append((float(dice.mean()), r, dict(zip(classes,
                                                       dice.tolist()))))
    ranked.sort(key=lambda x: x[0])
    cases = []
    for kind, (value, r, per_class) in _pick(ranked, worst, typical):
        caption = f'Dice {100 * value:.1f}%'
        if len(classes) > 1:
            caption += ' (' + ', '.join(
                f'{c} {100 * d:.1f}' for c, d in per_class.items()) + ')'
        cases.append(HeldOutCase(r['dataset'], 'seg', kind, r['img_path'],
                                 value, caption, r, dict(dice=per_class)))
    return cases


def loc_cases(records: Sequence[dict], classes: Sequence[str], worst: int,
              typical: int, score_thr: float = 0.3) -> List[HeldOutCase]:
    """Most missed plus false boxes first (ties: the highest-scored false
    box, then the fewest matches); typical: the median count."""
    ranked = []
    for r in records:
        matched, missed, false = match_boxes(r, score_thr)
        top_false = max((r['pred_scores'][i] for i in false), default=0.0)
        ranked.append(((len(missed) + len(false), top_false, -len(matched)),
                       r, dict(matched=matched, missed=missed, false=false,
                               score_thr=score_thr)))
    ranked.sort(key=lambda x: x[0], reverse=True)
    cases = []
    for kind, (key, r, d) in _pick(ranked, worst, typical):
        missed = [classes[r['gt_labels'][j]] for j in d['missed']]
        false = [f"{classes[r['pred_labels'][i]]} {r['pred_scores'][i]:.2f}"
                 for i in d['false']]
        caption = (f'{len(d["missed"])} missed' + (
            f' ({", ".join(missed)})' if missed else '') +
            f', {len(d["false"])} false' + (
            f' ({", ".join(false)})' if false else '') +
            f', {len(d["matched"])} found')
        cases.append(HeldOutCase(r['dataset'], 'loc', kind, r['img_path'],
                                 float(key[0]), caption, r, d))
    return cases


def cls_cases(records: Sequence[dict], classes: Sequence[str], worst: int,
              typical: int) -> List[HeldOutCase]:
    """Most confident wrong call first; typical: the median of each
    image's largest |probability - label|."""
    ranked = []
    for r in records:
        calls, wrong, gap = [], 0.0, 0.0
        for c, p, y in zip(classes, r['pred_score'], r['gt_score']):
            if y is None:  # unknown label: no call to judge
                continue
            positive = y >= 0.5
            calls.append((c, p, positive))
            if positive != (p >= 0.5):
                wrong = max(wrong, p if not positive else 1 - p)
            gap = max(gap, abs(p - y))
        ranked.append(((wrong, gap), r, calls))
    ranked.sort(key=lambda x: x[0], reverse=True)
    cases = []
    for kind, ((wrong, gap), r, calls) in _pick(ranked, worst, typical):
        shown = sorted(calls, key=lambda c: -abs(c[1] - c[2]))[:3]
        caption = '; '.join(
            f'{c}: p={p:.2f}, truth {"positive" if y else "negative"}'
            + ('' if y == (p >= 0.5) else ' (wrong)') for c, p, y in shown)
        cases.append(HeldOutCase(r['dataset'], 'cls', kind, r['img_path'],
                                 wrong, caption or 'no known label', r,
                                 dict(calls=calls)))
    return cases


def held_out_cases(results: Sequence[dict],
                   classes: Dict[str, Dict[str, List[str]]], worst: int = 4,
                   typical: int = 2,
                   score_thr: float = 0.3) -> Dict[Tuple[str, str],
                                                   List[HeldOutCase]]:
    """Each head's worst and typical cases.

    Args:
        results (Sequence[dict]): Per-image results (the file's
            ``results``).
        classes (dict): {dataset: {task: class names}} (the file's
            ``meta.classes``).
        worst (int): Worst cases per head.
        typical (int): Typical cases per head.
        score_thr (float): Boxes below this score are not counted (nor drawn).

    Returns:
        dict: {(dataset, task): [HeldOutCase]} in the order the results
        list the heads; worst first, then typical.
    """
    by_head: Dict[Tuple[str, str], List[dict]] = {}
    for r in results:
        by_head.setdefault((r['dataset'], r['task']), []).append(r)
    out = {}
    for (dataset, task), records in by_head.items():
        names = classes[dataset][task]
        if task == 'seg':
            out[(dataset, task)] = seg_cases(records, names, worst, typical)
        elif task == 'loc':
            out[(dataset, task)] = loc_cases(records, names, worst, typical,
                                             score_thr)
        else:
            out[(dataset, task)] = cls_cases(records, names, worst, typical)
    return out
