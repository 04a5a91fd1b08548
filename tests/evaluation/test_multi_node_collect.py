"""Evaluation with several ranks needs no folder shared between nodes
(issue 16 item 14).

mmengine 0.10.7's ``collect_results_cpu`` (BaseMetric's
``collect_device='cpu'``, mmengine/dist/dist.py lines 991-1027) has rank 0
make ``.dist_test/<tmp>`` under *its* working directory, broadcasts that
relative path, and every rank writes ``part_<rank>.pkl`` there: across
nodes without a shared working directory, a rank finds no such folder. The
two ranks here run in folders of their own, as on two such nodes, and
evaluate fx_mm's metrics as the evaluation loops build them.
"""
import datetime
import os

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import fx_mm  # noqa: F401
from fx_mm.evaluation.metrics import (CocoAP40Metric, MultiLabelAUC,
                                      MultiLabelDice)

# Eight samples of a 3-class head; rank r evaluates samples r, r+2, ... (as
# mmengine's DefaultSampler splits them).
SCORES = np.random.RandomState(0).rand(8, 3)
LABELS = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1],
                   [1, 0, 0], [0, 1, 1], [1, 0, 1], [0, 1, 0]], np.float64)


def evaluate_auc(indices):
    metric = MultiLabelAUC(classes=['a', 'b', 'c'], prefix='D/cls')
    metric.process(None, [dict(pred_score=torch.tensor(SCORES[i]),
                               gt_score=torch.tensor(LABELS[i]))
                          for i in indices])
    return metric.evaluate(len(SCORES))


def rank_main(rank, world_dir, outputs):
    """One rank: its own working directory, a gloo group through a file
    store, the AUC of its half of the samples evaluated."""
    os.chdir(os.path.join(world_dir, f'node{rank}'))
    dist.init_process_group(
        'gloo', init_method=f'file://{world_dir}/store', rank=rank,
        world_size=2, timeout=datetime.timedelta(seconds=20))
    try:
        outputs[rank] = evaluate_auc(range(rank, len(SCORES), 2))
    finally:
        dist.destroy_process_group()


def test_metrics_collect_through_the_process_group():
    """fx_mm's metrics default to mmengine's 'gpu' collection
    (all_gather_object, which works on gloo too), not to a folder."""
    for metric in (MultiLabelAUC(), MultiLabelDice(), CocoAP40Metric()):
        assert metric.collect_device == 'gpu', type(metric).__name__


def test_ranks_without_a_shared_folder_evaluate(tmp_path):
    for rank in (0, 1):
        (tmp_path / f'node{rank}').mkdir()
    with mp.Manager() as manager:
        outputs = manager.dict()
        mp.start_processes(rank_main, args=(str(tmp_path), outputs),
                           nprocs=2, join=True, start_method='spawn')
        outputs = dict(outputs)
    expected = evaluate_auc(range(len(SCORES)))
    assert outputs[0] == outputs[1] == pytest.approx(expected)
    # nothing was written into either working directory
    assert [list((tmp_path / f'node{rank}').iterdir()) for rank in (0, 1)] \
        == [[], []]
