"""Keep every evaluated image's predictions and truth, for reports."""
import json
import math
import os
import os.path as osp
from typing import List, Optional

import numpy as np
from mmengine.dist import all_gather_object, get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner.base_loop import BaseLoop

from fx_mm.evaluation.metrics import dice_stats
from ..loops.cyclic_train_loop import unwrap

# Format version of the file (bumped when a field changes meaning).
FORMAT = 1


def _array(x) -> np.ndarray:
    """Tensor, mmdet box structure or array -> numpy."""
    x = getattr(x, 'tensor', x)  # mmdet's HorizontalBoxes
    return x.detach().cpu().numpy() if hasattr(x, 'detach') \
        else np.asarray(x)


def _floats(x, digits: int) -> list:
    """Numbers as a JSON list, rounded; NaN (an unknown label) as null."""
    return [None if math.isnan(v) else round(v, digits)
            for v in np.asarray(x, np.float64).reshape(-1).tolist()]


def _boxes(x) -> list:
    """(N, 4) boxes as a JSON list, to 0.1 pixel."""
    return np.round(_array(x).reshape(-1, 4).astype(np.float64), 1).tolist()


def sample_record(sample) -> dict:
    """What a report needs of one evaluated sample, as plain JSON data.

    Args:
        sample: A data sample from a MultiTask loop's ``test_step`` (its
            metainfo names ``dataset`` and ``task``).

    Returns:
        dict: ``dataset``, ``task``, ``img_path``, ``ori_shape`` and, by
        task -- cls: ``pred_score`` and ``gt_score`` (C,; null = unknown
        label); loc: ``pred_bboxes`` (M, 4) x1y1x2y2 original pixels,
        ``pred_scores``, ``pred_labels``, ``gt_bboxes`` (K, 4),
        ``gt_labels``, ``gt_ignore``; seg: ``dice_stats`` (C, 3)
        intersection, predicted and true pixels per class at the original
        size (:func:`fx_mm.evaluation.metrics.dice_stats`; the masks
        themselves are not kept: a report redraws the few it shows).
    """
    s = sample.to_dict()
    task = s['task']
    # Absolute: a report may run from another folder than the test did.
    path = s.get('img_path')
    out = dict(dataset=s['dataset'], task=task,
               img_path=osp.abspath(path) if path else None,
               ori_shape=[int(v) for v in s['ori_shape'][:2]])
    if task == 'cls':
        out.update(pred_score=_floats(_array(s['pred_score']), 5),
                   gt_score=_floats(_array(s['gt_score']), 3))
    elif task == 'loc':
        pred, gt = s['pred_instances'], s['gt_instances']
        ignore = gt.get('ignore_flags')
        labels = _array(gt['labels']).astype(int)
        out.update(
            pred_bboxes=_boxes(pred['bboxes']),
            pred_scores=_floats(_array(pred['scores']), 4),
            pred_labels=_array(pred['labels']).astype(int).tolist(),
            gt_bboxes=_boxes(gt['bboxes']),
            gt_labels=labels.tolist(),
            gt_ignore=(np.zeros(len(labels), bool) if ignore is None else
                       _array(ignore).astype(bool)).tolist())
    elif task == 'seg':
        out['dice_stats'] = dice_stats(
            _array(s['pred_sem_seg']['data']),
            _array(s['gt_sem_seg']['data'])).tolist()
    else:
        raise ValueError(f'{out["img_path"]}: sample of unknown task '
                         f'{task!r}.')
    return out


def read_per_image_results(path: str) -> dict:
    """Read a file written by :class:`PerImageResultsHook`.

    Returns:
        dict: ``meta`` and ``results`` (see the hook).

    Raises:
        ValueError: If the file is not one (naming it and what it lacks).
    """
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict) or data.get('format') != FORMAT or \
            'results' not in data:
        raise ValueError(f'{path}: not a per-image results file of format '
                         f'{FORMAT} (written by tools/test.py).')
    return data


@HOOKS.register_module()
class PerImageResultsHook(Hook):
    """Write each evaluated image's predictions and truth to a JSON file.

    The metrics of an evaluation are means; which images a head gets most
    wrong needs each image's result (mmdet's ``tools/test.py --out`` keeps
    them for its ``analyze_results.py``). After a test (or validation) run
    of the MultiTask loops this hook writes, on rank 0, one JSON file
    (no pickle: reading it runs no code)::

        {"format": 1, "meta": {"split", "config", "checkpoint",
                               "predict_with", "classes"},
         "results": [sample_record(...) per image and (dataset, task)]}

    ``tools/test.py`` registers it (``--out``; by default
    ``<work_dir>/<split>_predictions.json``);
    ``tools/analysis/report.py`` reads it.

    Args:
        out_file (str, optional): The file; default
            ``<work_dir>/<split>_predictions.json``.
    """

    priority = 'LOW'

    def __init__(self, out_file: Optional[str] = None) -> None:
        self.out_file = out_file
        self._results: List[dict] = []
        self.written: Optional[str] = None

    def _start(self, runner) -> None:
        self._results = []

    before_test = before_val = _start

    def _collect(self, runner, batch_idx, data_batch=None,
                 outputs=None) -> None:
        self._results += [sample_record(s) for s in outputs or []]

    after_test_iter = after_val_iter = _collect

    def _finish(self, runner, loop) -> None:
        # A distributed sampler pads with repeated samples: one record per
        # (dataset, task, image).
        gathered = all_gather_object(self._results)
        self._results = []
        if get_rank() != 0:
            return
        seen, results = set(), []
        for rank_results in gathered:
            for r in rank_results:
                key = (r['dataset'], r['task'], r['img_path'])
                if key not in seen:
                    seen.add(key)
                    results.append(r)
        model = unwrap(runner.model)
        split = getattr(loop, 'split', 'test')
        meta = dict(
            split=split, config=runner.cfg.pretty_text,
            checkpoint=(osp.abspath(runner.cfg.load_from)
                        if runner.cfg.get('load_from') else None),
            predict_with=getattr(model, 'predict_with', None),
            classes={e['name']: {t: list(e[t]['classes'])
                                 for t in ('cls', 'loc', 'seg') if e.get(t)}
                     for e in loop.datasets})
        path = self.out_file or osp.join(runner.work_dir,
                                         f'{split}_predictions.json')
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        with open(path, 'w') as f:
            json.dump(dict(format=FORMAT, meta=meta, results=results), f,
                      separators=(',', ':'))
        self.written = path

    @staticmethod
    def _loop(runner, stage: str):
        """The loop that ran: tools/test.py --split val runs a val loop as
        the test loop. Read from the runner's attributes, since its
        ``val_loop`` / ``test_loop`` properties would build a loop that has
        not been built."""
        for loop in (getattr(runner, '_test_loop', None),
                     getattr(runner, '_val_loop', None)):
            if isinstance(loop, BaseLoop) and \
                    getattr(loop, 'stage', None) == stage:
                return loop
        raise RuntimeError(f'PerImageResultsHook: no built {stage} loop with '
                           'a dataset table (a MultiTask loop).')

    def after_test(self, runner) -> None:
        self._finish(runner, self._loop(runner, 'test'))

    def after_val(self, runner) -> None:
        self._finish(runner, self._loop(runner, 'val'))
