"""Weighted boxes fusion of readers' ground-truth boxes."""
import itertools

import numpy as np
import pytest

from data_prep.box_fusion import (DEFAULT_IOU_THR, box_iou,
                                  weighted_boxes_fusion)


def test_box_iou_known_values():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [10, 10, 20, 20],
                  [3, 3, 3, 8]])  # same, half shifted, touching, no area
    assert np.allclose(box_iou(a, b), [[1.0, 50 / 150, 0.0, 0.0]])
    assert box_iou(a, np.zeros((0, 4))).shape == (1, 0)


def test_three_readers_near_duplicates_become_their_mean():
    boxes = np.array([[100, 200, 300, 400], [104, 198, 310, 396],
                      [96, 205, 305, 410]], float)
    fused = weighted_boxes_fusion(boxes, ['Nodule/Mass'] * 3)
    assert fused.boxes.shape == (1, 4)
    assert np.allclose(fused.boxes[0], boxes.mean(0))
    assert list(fused.labels) == ['Nodule/Mass']
    assert [m.tolist() for m in fused.members] == [[0, 1, 2]]


def test_classes_are_never_fused():
    box = [10, 10, 50, 50]
    fused = weighted_boxes_fusion([box, box, box], [3, 0, 3])
    assert fused.labels.tolist() == [0, 3]
    assert np.allclose(fused.boxes, [box, box])
    assert [m.tolist() for m in fused.members] == [[1], [0, 2]]


def test_threshold_is_strict_and_configurable():
    # IoU of these two is exactly 1/3 (50 / 150), then 0.6 (60 / 100).
    a, b = [0, 0, 10, 10], [5, 0, 15, 10]
    assert len(weighted_boxes_fusion([a, b], [1, 1]).boxes) == 2
    assert len(weighted_boxes_fusion([a, b], [1, 1], iou_thr=1 / 3).boxes) \
        == 2  # above, not at, the threshold (as in the paper)
    assert len(weighted_boxes_fusion([a, b], [1, 1], iou_thr=0.3).boxes) == 1
    c = [0, 0, 10, 6]  # IoU with a: 0.6
    assert len(weighted_boxes_fusion([a, c], [1, 1]).boxes) == 1
    assert len(weighted_boxes_fusion([a, c], [1, 1], iou_thr=0.7).boxes) \
        == 2
    assert DEFAULT_IOU_THR == 0.5


def test_separate_lesions_of_one_class_stay_separate():
    left = [[10, 10, 40, 40], [11, 9, 41, 42], [9, 11, 39, 40]]
    right = [[60, 10, 90, 40], [62, 12, 90, 41]]
    fused = weighted_boxes_fusion(left + right, ['Nodule/Mass'] * 5)
    assert np.allclose(fused.boxes, [np.mean(left, 0), np.mean(right, 0)])
    assert [m.tolist() for m in fused.members] == [[0, 1, 2], [3, 4]]


def test_a_box_joins_the_cluster_it_overlaps_most():
    # Scores make c the last box visited; it overlaps both a (IoU 0.58) and
    # b (IoU 0.62) above the threshold, while a and b stay apart: it joins b.
    a, b, c = [0, 0, 10, 10], [4, 0, 16, 10], [3, 0, 12, 10]
    assert box_iou([c], [b])[0, 0] > box_iou([c], [a])[0, 0] > 0.5
    assert box_iou([a], [b])[0, 0] < 0.5
    fused = weighted_boxes_fusion([a, b, c], [0, 0, 0], scores=[3, 2, 1])
    assert [m.tolist() for m in fused.members] == [[0], [1, 2]]
    assert np.allclose(fused.boxes, [a, (2 * np.array(b) + c) / 3])


def test_scores_weight_the_mean():
    fused = weighted_boxes_fusion([[0, 0, 10, 10], [2, 0, 12, 10]], [0, 0],
                                  scores=[3, 1])
    assert np.allclose(fused.boxes, [[0.5, 0, 10.5, 10]])
    with pytest.raises(ValueError, match='positive'):
        weighted_boxes_fusion([[0, 0, 1, 1]], [0], scores=[0])


def test_result_does_not_depend_on_the_order_of_the_boxes():
    # A chain where greedy clustering would differ with the visiting order:
    # a-b and b-c overlap above the threshold, a-c below it.
    rng = np.random.default_rng(0)
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [4, 0, 14, 10],
                      [50, 50, 60, 60], [51, 50, 61, 61], [0, 0, 10, 10],
                      [30, 30, 40, 45]], float)
    boxes[:, :2] += rng.uniform(0, 0.01, (len(boxes), 2))
    labels = np.array([0, 0, 0, 1, 1, 1, 0])
    reference = weighted_boxes_fusion(boxes, labels)
    for perm in itertools.islice(itertools.permutations(range(len(boxes))),
                                 0, None, 97):
        perm = np.array(perm)
        fused = weighted_boxes_fusion(boxes[perm], labels[perm])
        assert np.array_equal(fused.boxes, reference.boxes)
        assert np.array_equal(fused.labels, reference.labels)
        # Members name the same boxes, through the permutation.
        assert [sorted(perm[m].tolist()) for m in fused.members] == \
            [m.tolist() for m in reference.members]


def test_empty_and_malformed_input():
    fused = weighted_boxes_fusion(np.zeros((0, 4)), [])
    assert fused.boxes.shape == (0, 4) and len(fused.labels) == 0 and \
        fused.members == []
    with pytest.raises(ValueError, match='labels'):
        weighted_boxes_fusion([[0, 0, 1, 1]], [0, 1])
