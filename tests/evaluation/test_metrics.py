"""The metrics against scikit-learn, pycocotools and hand-made masks."""
import contextlib
import io
import json
import os.path as osp

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from sklearn.metrics import roc_auc_score

from fx_mm.evaluation import coco_box_ap, dice_from_stats, dice_stats, \
    multilabel_auc


def test_auc_agrees_with_sklearn_and_skips_undefined_classes():
    rng = np.random.default_rng(0)
    labels = (rng.random((60, 3)) > 0.5).astype(float)
    labels[:, 2] = 1.0  # a class with a single label value
    labels[rng.random((60, 3)) < 0.1] = np.nan  # unknown labels
    labels[:2, 0], labels[2:4, 0] = 0, 1
    scores = np.clip(labels + rng.normal(0, 0.6, labels.shape), 0, 1)
    scores = np.nan_to_num(scores, nan=0.5)
    with pytest.warns(UserWarning, match="'c'.*single label value"):
        out = multilabel_auc(scores, labels, ['a', 'b', 'c'], where='X')
    for i, name in enumerate('ab'):
        keep = ~np.isnan(labels[:, i])
        assert out[f'AUC/{name}'] == pytest.approx(
            roc_auc_score(labels[keep, i], scores[keep, i]))
    assert np.isnan(out['AUC/c'])
    assert out['AUC'] == pytest.approx((out['AUC/a'] + out['AUC/b']) / 2)


def _cocoeval(gts, preds, classes, iou_thrs, cat_ids=None):
    """pycocotools' COCOeval of the boxes, evaluated and accumulated."""
    images, anns, dets = [], [], []
    for i, (g, p) in enumerate(zip(gts, preds), 1):
        images.append(dict(id=i, width=g['width'], height=g['height']))
        for b, l in zip(g['bboxes'], g['labels']):
            anns.append(dict(id=len(anns) + 1, image_id=i,
                             category_id=int(l) + 1,
                             bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]],
                             area=(b[2] - b[0]) * (b[3] - b[1]), iscrowd=0))
        for b, s, l in zip(p['bboxes'], p['scores'], p['labels']):
            dets.append(dict(image_id=i, category_id=int(l) + 1, score=s,
                             bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]]))
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = dict(images=images, annotations=anns, categories=[
            dict(id=i + 1, name=n) for i, n in enumerate(classes)])
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(dets), 'bbox')
        ev.params.iouThrs = np.array(iou_thrs)
        if cat_ids is not None:
            ev.params.catIds = list(cat_ids)
        ev.evaluate()
        ev.accumulate()
    return ev


def _pycocotools_ap(gts, preds, classes):
    """AP40 / AP50 / AP@[.40:.95] straight from pycocotools' COCOeval."""
    ev = _cocoeval(gts, preds, classes, [0.40, 0.45, 0.50, 0.55, 0.60, 0.65,
                                         0.70, 0.75, 0.80, 0.85, 0.90, 0.95])
    prec = ev.eval['precision'][:, :, :, 0, -1]

    def mean(p):
        return float(p[p > -1].mean())

    return mean(prec[0]), mean(prec[2]), mean(prec)


def _real_boxes(covid_lungs):
    with open(osp.join(covid_lungs, 'loc', 'test.json')) as f:
        coco = json.load(f)
    gts = {im['id']: dict(bboxes=[], labels=[], width=im['width'],
                          height=im['height']) for im in coco['images']}
    for a in coco['annotations']:
        x, y, w, h = a['bbox']
        gts[a['image_id']]['bboxes'].append([x, y, x + w, y + h])
        gts[a['image_id']]['labels'].append(a['category_id'] - 1)
    return [dict(g, bboxes=np.array(g['bboxes'], float).reshape(-1, 4),
                 labels=np.array(g['labels'], int)) for g in gts.values()]


@pytest.mark.parametrize('noise', [2.0, 8.0, 20.0])
def test_coco_ap40_agrees_with_pycocotools_on_real_boxes(covid_lungs, noise):
    gts = _real_boxes(covid_lungs)
    assert sum(len(g['labels']) for g in gts) > 100
    rng = np.random.default_rng(int(noise))
    preds = []
    for g in gts:
        boxes = g['bboxes'] + rng.normal(0, noise, g['bboxes'].shape)
        # plus false positives and shuffled scores
        fp = rng.uniform(0, 100, (2, 2))
        boxes = np.concatenate([boxes, np.concatenate([fp, fp + 40], 1)])
        labels = np.concatenate([g['labels'], rng.integers(0, 2, 2)])
        preds.append(dict(bboxes=boxes, labels=labels,
                          scores=rng.random(len(labels))))
    classes = ['Right Lung', 'Left Lung']
    ours = coco_box_ap(gts, preds, classes)
    ap40, ap50, ap = _pycocotools_ap(gts, preds, classes)
    assert ours['mAP40'] == pytest.approx(ap40)
    assert ours['mAP50'] == pytest.approx(ap50)
    assert ours['mAP'] == pytest.approx(ap)
    # Looser IoU, higher AP: the thresholds are where they should be.
    assert ours['mAP40'] >= ours['mAP50'] >= ours['mAP']


def test_perfect_boxes_score_one(covid_lungs):
    gts = _real_boxes(covid_lungs)
    preds = [dict(bboxes=g['bboxes'], labels=g['labels'],
                  scores=np.ones(len(g['labels']))) for g in gts]
    out = coco_box_ap(gts, preds, ['Right Lung', 'Left Lung'])
    assert out['mAP40'] == out['mAP50'] == out['mAP'] == pytest.approx(1.0)


def test_dice_on_hand_made_masks():
    pred = np.zeros((2, 4, 4), np.uint8)
    gt = np.zeros((2, 4, 4), np.uint8)
    pred[0, 0, :4] = 1          # 4 px
    gt[0, 0, 2:4] = 1           # 2 px, 2 shared -> 2*2/(4+2) = 2/3
    gt[0, 1, :2] = 1            # +2 px -> 2*2/(4+4) = 0.5
    # class 1: both empty in image 0
    img0 = dice_stats(pred, gt)
    pred1 = np.zeros((2, 4, 4), np.uint8)
    gt1 = np.zeros((2, 4, 4), np.uint8)
    pred1[1, :2, :2] = 1        # 4 px, truth empty -> 0
    img1 = dice_stats(pred1, gt1)
    out = dice_from_stats(np.stack([img0, img1]), ['lung', 'heart'])
    # class 0: image 0 Dice 0.5, image 1 both empty -> 1
    assert out['Dice/lung'] == pytest.approx((0.5 + 1.0) / 2)
    # class 1: image 0 both empty -> 1, image 1 -> 0
    assert out['Dice/heart'] == pytest.approx(0.5)
    assert out['Dice'] == pytest.approx((0.75 + 0.5) / 2)
    # global: lung 2*2/(4+4) = 0.5; heart 0/(4+0) = 0
    assert out['globalDice/lung'] == pytest.approx(0.5)
    assert out['globalDice/heart'] == pytest.approx(0.0)
    with pytest.raises(ValueError, match='differ in shape'):
        dice_stats(pred, gt[:, :3])


def _pycocotools_class_ap40(gts, preds, classes, category):
    """AP at IoU 0.40 of one category, from a COCOeval of that category only
    (pycocotools' catIds), i.e. computed apart from the other classes."""
    ev = _cocoeval(gts, preds, classes, [0.40], cat_ids=[category + 1])
    prec = ev.eval['precision'][0, :, 0, 0, -1]
    return float(prec[prec > -1].mean())


def test_coco_ap40_per_class_agrees_with_one_class_cocoeval(covid_lungs):
    gts = _real_boxes(covid_lungs)
    rng = np.random.default_rng(1)
    preds = []
    for g in gts:
        # Right lungs (label 0) found well, left lungs (1) badly.
        noise = np.where(g['labels'][:, None] == 0, 2.0, 25.0)
        boxes = g['bboxes'] + rng.normal(0, 1, g['bboxes'].shape) * noise
        preds.append(dict(bboxes=boxes, labels=g['labels'],
                          scores=rng.random(len(g['labels']))))
    classes = ['Right Lung', 'Left Lung']
    ours = coco_box_ap(gts, preds, classes)
    for c, name in enumerate(classes):
        assert ours[f'mAP40/{name}'] == pytest.approx(
            _pycocotools_class_ap40(gts, preds, classes, c))
    assert ours['mAP40/Right Lung'] > ours['mAP40/Left Lung']
    assert ours['mAP40'] == pytest.approx(
        (ours['mAP40/Right Lung'] + ours['mAP40/Left Lung']) / 2)


def test_coco_ap40_without_boxes_lists_every_class_undefined():
    gts = [dict(bboxes=np.zeros((0, 4)), labels=np.zeros(0, int), width=8,
                height=8)]
    preds = [dict(bboxes=np.array([[0., 0., 4., 4.]]), scores=np.ones(1),
                  labels=np.zeros(1, int))]
    out = coco_box_ap(gts, preds, ['Heart', 'Aorta'])
    assert set(out) == {'mAP40', 'mAP50', 'mAP', 'mAP40/Heart',
                        'mAP40/Aorta'}
    assert all(np.isnan(v) for v in out.values())
