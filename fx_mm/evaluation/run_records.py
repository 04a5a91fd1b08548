"""What a work dir recorded about its training run: the schedule, each pass's
iterations and time, and the validation metrics after each pass.

Read from what ``tools/train.py`` leaves there: ``schedule.json``
(:class:`CyclicTrainLoop`), and per run (a ``<timestamp>/`` folder; a resumed
run adds one) mmengine's log ``<timestamp>.log`` and the LocalVisBackend's
``vis_data/scalars.json``. Where runs overlap (a resumed run repeats the pass
it resumed in), the later run's records win.
"""
import glob
import json
import os.path as osp
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, List, Optional, Tuple

# mmengine's training log line: ``Epoch(train)  [pass][iter/iters]``.
TRAIN_LINE = re.compile(r'Epoch\(train\)\s*\[(\d+)\]\[\s*(\d+)/(\d+)\]')
# mmengine's timestamp at the start of every log line.
STAMP = re.compile(r'^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)')
# Task -> the headline metric (paper Table 4).
HEADLINE = dict(cls='AUC', loc='mAP40', seg='Dice')


@dataclass
class PassRecord:
    """One pass as it ran.

    Attributes:
        index (int): Pass index (mmengine epoch - 1).
        cycle (int): Cycle, from 0.
        dataset (str): The pass's dataset.
        task (str): Its task.
        kind (str): 'lock', 'release' or 'full'.
        iterations (int, optional): Iterations (the log's ``[i/N]``);
            None when the log has no line of the pass.
        sec_per_iter (float, optional): Mean time per iteration of the
            logged iterations (mmengine's IterTimerHook, data loading
            included).
        seconds (float, optional): ``iterations * sec_per_iter``: the
            pass's training time, validation and checkpoints left out.
    """
    index: int
    cycle: int
    dataset: str
    task: str
    kind: str
    iterations: Optional[int] = None
    sec_per_iter: Optional[float] = None
    seconds: Optional[float] = None


def run_dirs(work_dir: str) -> List[str]:
    """The ``<timestamp>/`` folders of the work dir's training runs (those
    with a ``vis_data/scalars.json`` or a training log line), oldest first."""
    out = []
    for folder in sorted(glob.glob(osp.join(work_dir, '*', ''))):
        folder = folder.rstrip('/\\')
        if osp.isfile(osp.join(folder, 'vis_data', 'scalars.json')):
            out.append(folder)
    return out


def read_schedule(work_dir: str) -> List[dict]:
    """``schedule.json``: one dict per pass (index, cycle, step, dataset,
    task, kind).

    Raises:
        FileNotFoundError: Naming the file, when the work dir has none
            (not a CyclicTrainLoop run).
    """
    path = osp.join(work_dir, 'schedule.json')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: not a CyclicTrainLoop work dir '
                                '(no schedule.json).')
    with open(path) as f:
        return json.load(f)


def read_scalars(work_dir: str) -> Tuple[Dict[int, dict], Dict[int, dict]]:
    """The training and validation scalars of every run, merged.

    Returns:
        tuple[dict, dict]: Training records by global iteration and
        validation records by step (validation after the pass of index p
        has step p + 1).
    """
    train, val = {}, {}
    for folder in run_dirs(work_dir):
        with open(osp.join(folder, 'vis_data', 'scalars.json')) as f:
            for line in f:
                if not line.strip():
                    continue
                rec = json.loads(line)
                if 'iter' in rec and 'epoch' in rec:
                    train[rec['iter']] = rec
                elif 'step' in rec:
                    val[rec['step']] = rec
    return train, val


def _log_files(work_dir: str) -> List[str]:
    return [f for folder in run_dirs(work_dir)
            for f in sorted(glob.glob(osp.join(folder, '*.log')))]


def _iterations_per_pass(work_dir: str) -> Dict[int, int]:
    """Pass index -> iterations, from the logs' ``[p][i/N]``."""
    out = {}
    for path in _log_files(work_dir):
        with open(path, errors='replace') as f:
            for line in f:
                m = TRAIN_LINE.search(line)
                if m:
                    out[int(m.group(1)) - 1] = int(m.group(3))
    return out


def wall_clock(work_dir: str) -> Optional[float]:
    """Seconds from the first to the last line of the training logs, each
    run counted on its own (the time between a stop and a resume is not);
    None without a log."""
    total, found = 0.0, False
    for path in _log_files(work_dir):
        stamps = []
        with open(path, errors='replace') as f:
            for line in f:
                m = STAMP.match(line)
                if m:
                    stamps.append(m.group(1))
        if stamps:
            fmt = '%Y/%m/%d %H:%M:%S'
            total += (datetime.strptime(stamps[-1], fmt) -
                      datetime.strptime(stamps[0], fmt)).total_seconds()
            found = True
    return total if found else None


def pass_records(work_dir: str) -> List[PassRecord]:
    """Every pass of the schedule, with its iterations and time where the
    run got to it.

    Returns:
        list[PassRecord]: In schedule order (passes the run did not reach
        have no iterations or time).
    """
    schedule = read_schedule(work_dir)
    train, _ = read_scalars(work_dir)
    iters = _iterations_per_pass(work_dir)
    times: Dict[int, List[float]] = {}
    for rec in train.values():
        if 'time' in rec:
            times.setdefault(rec['epoch'] - 1, []).append(rec['time'])
    out = []
    for p in schedule:
        rec = PassRecord(p['index'], p['cycle'], p['dataset'], p['task'],
                         p['kind'], iters.get(p['index']))
        t = times.get(p['index'])
        if t:
            rec.sec_per_iter = sum(t) / len(t)
            if rec.iterations is not None:
                rec.seconds = rec.iterations * rec.sec_per_iter
        out.append(rec)
    return out


def validation_series(work_dir: str, prefix: str = '') -> Dict[
        Tuple[str, str], List[Tuple[int, float]]]:
    """The headline validation metric of every head after every validated
    pass.

    Args:
        work_dir (str): The work dir.
        prefix (str): '' for the teacher (or the predicting model),
            'student/' for the student evaluated beside it.

    Returns:
        dict: {(dataset, task): [(pass, value)]} in pass order; passes
        counted from 1, as mmengine's epochs (validation after pass ``n``
        is logged at step ``n``; its checkpoint is ``epoch_<n>.pth``).
    """
    _, val = read_scalars(work_dir)
    out: Dict[Tuple[str, str], List[Tuple[int, float]]] = {}
    for step in sorted(val):
        for key, value in val[step].items():
            if not key.startswith(prefix):
                continue
            parts = key[len(prefix):].split('/')
            if len(parts) == 3 and HEADLINE.get(parts[1]) == parts[2] \
                    and isinstance(value, (int, float)):
                out.setdefault((parts[0], parts[1]), []).append(
                    (step, float(value)))
    return out
