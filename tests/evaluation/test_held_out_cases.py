"""Which held-out images a report shows as each head's worst and typical."""
import pytest

from fx_mm.evaluation.held_out_cases import (held_out_cases, image_dice,
                                             match_boxes)


def seg(name, stats):
    return dict(dataset='D', task='seg', img_path=name, dice_stats=stats)


def test_segmentation_lowest_dice_first_and_median_typical():
    # Dice: a 0.0, b 1.0 (both empty), c 0.5, d 2*3/(4+4)=0.75, e 0.9.
    records = [seg('a', [[0, 5, 5]]), seg('b', [[0, 0, 0]]),
               seg('c', [[2, 4, 4]]), seg('d', [[3, 4, 4]]),
               seg('e', [[9, 10, 10]])]
    assert image_dice([[2, 4, 4]]).tolist() == [0.5]
    cases = held_out_cases(records, dict(D=dict(seg=['Lungs'])), worst=2,
                           typical=1)[('D', 'seg')]
    assert [(c.kind, c.img_path) for c in cases] == [
        ('worst', 'a'), ('worst', 'c'), ('typical', 'd')]
    assert cases[1].caption == 'Dice 50.0%'
    assert cases[1].value == pytest.approx(0.5)


def loc(name, gt, pred, gt_labels=None, pred_labels=None):
    return dict(dataset='D', task='loc', img_path=name, gt_bboxes=gt,
                gt_labels=gt_labels or [0] * len(gt),
                gt_ignore=[False] * len(gt),
                pred_bboxes=[b for b, _ in pred],
                pred_scores=[s for _, s in pred],
                pred_labels=pred_labels or [0] * len(pred))


def test_boxes_missed_and_false_are_counted_at_iou_040():
    box = [0, 0, 10, 10]
    half = [0, 0, 10, 5]          # IoU 0.5 with box: found
    third = [0, 0, 10, 3.5]       # IoU 0.35: not found at 0.40
    r = loc('x', [box, [20, 20, 30, 30]],
            [(half, 0.9), (third, 0.8), ([50, 50, 60, 60], 0.2)])
    matched, missed, false = match_boxes(r, score_thr=0.3)
    assert matched == [(0, 0)] and missed == [1] and false == [1]
    # The low-scored box is neither false nor counted.
    assert 2 not in false
    # Another class does not match.
    r = loc('y', [box], [(box, 0.9)], gt_labels=[1], pred_labels=[0])
    assert match_boxes(r, 0.3) == ([], [0], [0])


def test_localization_worst_has_most_errors():
    box = [0, 0, 10, 10]
    records = [loc('ok', [box], [(box, 0.9)]),
               loc('one_missed', [box], []),
               loc('missed_and_false', [box], [([40, 40, 50, 50], 0.7)])]
    cases = held_out_cases(records, dict(D=dict(loc=['Lung'])), worst=1,
                           typical=1)[('D', 'loc')]
    assert [(c.kind, c.img_path) for c in cases] == [
        ('worst', 'missed_and_false'), ('typical', 'one_missed')]
    assert cases[0].caption.startswith('1 missed (Lung), 1 false (Lung 0.70)')


def test_classification_most_confident_wrong_call_first():
    def cls(name, scores, labels):
        return dict(dataset='D', task='cls', img_path=name,
                    pred_score=scores, gt_score=labels)
    records = [cls('right', [0.9, 0.1], [1, 0]),
               cls('wrong_0.8', [0.8, 0.1], [0, 0]),
               cls('wrong_0.95', [0.2, 0.05], [0, 1]),
               # An unknown label (null) is no call to judge.
               cls('unknown', [0.99, 0.5], [None, 1])]
    cases = held_out_cases(records, dict(D=dict(cls=['A', 'B'])), worst=2,
                           typical=0)[('D', 'cls')]
    assert [c.img_path for c in cases] == ['wrong_0.95', 'wrong_0.8']
    assert cases[0].value == pytest.approx(0.95)
    assert 'B: p=0.05, truth positive (wrong)' in cases[0].caption
