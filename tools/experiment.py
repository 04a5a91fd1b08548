"""Run a grid of training runs with seeds, and report it with statistics.

    python tools/experiment.py run GRID [--jobs N] [--threads T]
                                        [--only PATTERN ...]
                                        [--data-root DIR] [--dry-run]
    python tools/experiment.py status GRID [--only PATTERN ...]
    python tools/experiment.py report GRID [--out DIR]

A grid is a small Python file (e.g. ``configs/experiments/mini_fx_grid.py``)
that defines:

- ``variants`` (dict): name -> ``dict(config=..., options=[...])``, the
  ``--cfg-options`` of that variant, and optionally ``init`` (the name of
  another variant whose final checkpoint this one starts from, passed as
  ``init_option=<checkpoint>``, e.g. ``custom_hooks.0.checkpoint``),
  ``group`` (variants compared with each other; default ``'main'``) and
  ``reference`` (the variant of the group the others are compared with;
  default the group's first).
- ``seeds`` (list[int]).
- optional: ``name`` (default: the file's name without ``_grid.py``),
  ``data_root`` (substituted for ``{data_root}`` in configs and options;
  ``--data-root`` overrides it), ``schedule`` (run order: a list of
  ``dict(variants=[pattern, ...], seeds=[...])``; cells it leaves out run
  last), ``test_student`` (True: where the checkpoint holds an EMA teacher,
  the student is tested beside it on the same batches and recorded as
  ``student/<key>``), ``metrics`` (fnmatch patterns of the metrics the report
  shows) and ``work_root`` (default ``work_dirs``).

Options may hold ``{seed}`` and ``{data_root}``, replaced per cell; every
cell also gets ``randomness.seed=<seed>``.

``run`` trains and tests each cell -- a (variant, seed) -- into
``<work_root>/<grid>/<variant>/seed<k>/`` through tools/train.py and
tools/test.py subprocesses (logs ``train.log`` and ``test.log``
there). A finished cell has ``done.json`` (its metrics, wall times,
commands, commit, machine) and is skipped; a cell killed while training
resumes from its last checkpoint (``--resume``); a failed cell is reported,
the others go on, and the exit status is 1. A cell whose ``init`` variant has
not finished for its seed waits for it (or is skipped when that one failed
or is not selected). ``--jobs N`` runs N cells at once.

``report`` reads every ``done.json`` of the grid and writes ``report.md``
(per group: mean and t-based 95% confidence interval per metric; paired
per-seed differences against the group's reference with a paired t-test and
its two-sided p-value), ``summary.json`` (the same numbers), ``cells.json``
(every cell's record, with pass times by kind from its train.log), a copy
of each ``done.json`` under ``cells/`` and one PNG per (group, metric): a
point per seed and the interval of the mean.
"""
import argparse
import fnmatch
import glob
import json
import math
import os
import os.path as osp
import platform
import re
import runpy
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_METRICS = ('*/cls/AUC', '*/loc/mAP40', '*/seg/Dice')
COLUMNS = 5  # metrics per report table
TIME_METRICS = ('time/train_s', 'time/test_s', 'time/lock_s',
                'time/release_s', 'time/full_s')
# LockReleaseHook's line at the start of every pass, and mmengine's at every
# checkpoint (the end of a pass).
PASS_LINE = re.compile(r'^(\d\d/\d\d \d\d:\d\d:\d\d) - mmengine - INFO - '
                       r'(lock|release|full) pass (\d+) \(')
SAVE_LINE = re.compile(r'^(\d\d/\d\d \d\d:\d\d:\d\d) - mmengine - INFO - '
                       r'Saving checkpoint at (\d+) epochs')


# ----------------------------------------------------------------- the grid
@dataclass
class Variant:
    """One row of the grid: a config and its options."""
    name: str
    config: str
    options: List[str] = field(default_factory=list)
    init: Optional[str] = None
    init_option: str = 'custom_hooks.0.checkpoint'
    group: str = 'main'
    reference: Optional[str] = None


@dataclass
class Grid:
    """A grid file, read."""
    path: str
    name: str
    variants: Dict[str, Variant]
    seeds: List[int]
    data_root: Optional[str] = None
    schedule: List[dict] = field(default_factory=list)
    test_student: bool = False
    metrics: Sequence[str] = DEFAULT_METRICS
    work_root: str = 'work_dirs'

    @property
    def root(self) -> str:
        """The grid's work folder."""
        root = self.work_root if osp.isabs(self.work_root) else osp.join(
            REPO, self.work_root)
        return osp.join(root, self.name)

    def cell_dir(self, variant: str, seed: int) -> str:
        return osp.join(self.root, variant, f'seed{seed}')

    def reference_of(self, variant: str) -> str:
        """The variant ``variant`` is compared with (itself for a group's
        reference)."""
        v = self.variants[variant]
        if v.reference:
            return v.reference
        return next(n for n, o in self.variants.items() if o.group == v.group)


VARIANT_KEYS = {'config', 'options', 'init', 'init_option', 'group',
                'reference'}


def load_grid(path: str, data_root: Optional[str] = None) -> Grid:
    """Read a grid file (a Python file defining ``variants`` and ``seeds``).

    Raises:
        SystemExit: Naming the file and the field at fault.
    """
    if not osp.isfile(path):
        raise SystemExit(f'{path}: no such grid file.')
    ns = {k: v for k, v in runpy.run_path(path).items()
          if not k.startswith('_')}
    for key in ('variants', 'seeds'):
        if key not in ns:
            raise SystemExit(f'{path}: the grid defines no {key!r}.')
    name = ns.get('name') or re.sub(r'_grid$', '', osp.splitext(
        osp.basename(path))[0])
    variants = {}
    for vname, spec in ns['variants'].items():
        if not isinstance(spec, dict) or 'config' not in spec:
            raise SystemExit(f'{path}: variant {vname!r} needs a dict with '
                             "'config'.")
        unknown = set(spec) - VARIANT_KEYS
        if unknown:
            raise SystemExit(f'{path}: variant {vname!r}: unknown keys '
                             f'{sorted(unknown)}; expected {sorted(VARIANT_KEYS)}.')
        if not re.fullmatch(r'[A-Za-z0-9_.@+-]+', vname):
            raise SystemExit(f'{path}: variant name {vname!r}: use letters, '
                             'digits and _.@+- only (it names a folder).')
        variants[vname] = Variant(name=vname, **spec)
    for v in variants.values():
        for other in (v.init, v.reference):
            if other is not None and other not in variants:
                raise SystemExit(f'{path}: variant {v.name!r} names unknown '
                                 f'variant {other!r}.')
    seeds = [int(s) for s in ns['seeds']]
    if not seeds or len(set(seeds)) != len(seeds):
        raise SystemExit(f'{path}: seeds must be distinct, got {seeds}.')
    return Grid(
        path=osp.abspath(path), name=name, variants=variants, seeds=seeds,
        data_root=data_root or ns.get('data_root'),
        schedule=list(ns.get('schedule', [])),
        test_student=bool(ns.get('test_student', False)),
        metrics=tuple(ns.get('metrics', DEFAULT_METRICS)),
        work_root=ns.get('work_root', 'work_dirs'))


@dataclass(frozen=True)
class Cell:
    variant: str
    seed: int

    def __str__(self):
        return f'{self.variant}/seed{self.seed}'


def plan(grid: Grid, only: Sequence[str] = ()) -> List[Cell]:
    """Every cell of the grid in run order: the schedule's entries first
    (entry by entry, seed by seed, variants in grid order), then the rest
    (seed by seed); ``only`` (fnmatch patterns on ``variant`` or
    ``variant/seed<k>``) selects."""
    order, seen = [], set()

    def add(cell):
        if cell not in seen:
            seen.add(cell)
            order.append(cell)

    for entry in grid.schedule:
        pats = entry.get('variants', ['*'])
        for seed in entry.get('seeds', grid.seeds):
            if seed not in grid.seeds:
                continue
            for name in grid.variants:
                if any(fnmatch.fnmatchcase(name, p) for p in pats):
                    add(Cell(name, seed))
    for seed in grid.seeds:
        for name in grid.variants:
            add(Cell(name, seed))
    if only:
        order = [c for c in order if any(
            fnmatch.fnmatchcase(c.variant, p)
            or fnmatch.fnmatchcase(str(c), p) for p in only)]
    return order


def fill(text: str, grid: Grid, seed: int) -> str:
    """Replace ``{seed}`` and ``{data_root}`` in a config path or option."""
    text = text.replace('{seed}', str(seed))
    if '{data_root}' in text:
        if not grid.data_root:
            raise SystemExit(f'{grid.path}: an option uses {{data_root}} but '
                             'the grid sets no data_root (or give --data-root).')
        text = text.replace('{data_root}', grid.data_root)
    return text


# ------------------------------------------------------------------ running
def machine() -> dict:
    """Where a cell ran."""
    return dict(host=platform.node(), cpus=os.cpu_count(),
                platform=platform.platform(), python=platform.python_version())


def git_commit() -> str:
    """HEAD, with '+dirty' when tracked files differ from it."""
    try:
        head = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=REPO,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(['git', 'diff', '--quiet', 'HEAD', '--'],
                               cwd=REPO).returncode != 0
        return head + ('+dirty' if dirty else '')
    except OSError:
        return 'unknown'


def final_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint mmengine last wrote in ``work_dir`` (None: none).

    mmengine removes the oldest kept checkpoint before it writes the next,
    so a run killed while saving can leave ``last_checkpoint`` naming a
    deleted file: then the newest ``epoch_<k>.pth`` left is the one."""
    path = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(path):
        with open(path) as f:
            ckpt = f.read().strip()
        if osp.isfile(ckpt):
            return ckpt
    found = glob.glob(osp.join(work_dir, 'epoch_*.pth'))
    if not found:
        return None
    return max(found, key=lambda p: int(re.findall(r'\d+', osp.basename(p))[0]))


def pass_times(train_log: str) -> Dict[str, float]:
    """Wall seconds of a run's passes by kind (lock / release / full),
    from train.log: a pass lasts from its start line to its checkpoint line
    (1 s resolution; a pass killed and rerun counts its last run)."""
    starts, ends, kinds = {}, {}, {}
    year = time.gmtime().tm_year
    with open(train_log, errors='replace') as f:
        for line in f:
            m = PASS_LINE.match(line)
            if m:
                index = int(m.group(3))
                starts[index] = time.mktime(time.strptime(
                    f'{year}/{m.group(1)}', '%Y/%m/%d %H:%M:%S'))
                kinds[index] = m.group(2)
                continue
            m = SAVE_LINE.match(line)
            if m:
                ends[int(m.group(2)) - 1] = time.mktime(time.strptime(
                    f'{year}/{m.group(1)}', '%Y/%m/%d %H:%M:%S'))
    if not kinds:  # a config without LockReleaseHook logs no passes
        return {}
    out = dict(lock_s=0.0, release_s=0.0, full_s=0.0)
    for index, kind in kinds.items():
        if index in ends and ends[index] >= starts[index]:
            out[f'{kind}_s'] += ends[index] - starts[index]
    return out


def read_json(path: str):
    with open(path) as f:
        return json.load(f)


def write_json(path: str, data) -> None:
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)  # a killed writer leaves no half file


class CellFailed(RuntimeError):
    pass


class Runner:
    """Runs cells through tools/train.py and tools/test.py subprocesses."""

    def __init__(self, grid: Grid, jobs: int = 1, threads: int = 1,
                 echo=print) -> None:
        self.grid, self.jobs, self.echo = grid, jobs, echo
        self.procs = set()
        self.lock = threading.Lock()
        self.commit = git_commit()
        self.env = dict(os.environ)
        # Torch's intra-op threads per process. On a busy shared machine
        # more threads than free cores spin against each other: measured
        # here (2 cores, load ~12), a 128 px training iteration took 7-48 s
        # with 2 threads and 0.3-1.2 s with 1.
        self.env['OMP_NUM_THREADS'] = str(threads)
        self.env['MKL_NUM_THREADS'] = str(threads)
        self.env['PYTHONUNBUFFERED'] = '1'

    def done_path(self, cell: Cell) -> str:
        return osp.join(self.grid.cell_dir(cell.variant, cell.seed),
                        'done.json')

    def is_done(self, cell: Cell) -> bool:
        return osp.isfile(self.done_path(cell))

    def _call(self, cmd: List[str], log: str) -> float:
        """Run ``cmd`` with its output into ``log``; the wall time."""
        start = time.time()
        with open(log, 'a') as f:
            f.write(f'\n$ {" ".join(cmd)}\n')
            f.flush()
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=f,
                                    stderr=subprocess.STDOUT, env=self.env)
            with self.lock:
                self.procs.add(proc)
            try:
                rc = proc.wait()
            finally:
                with self.lock:
                    self.procs.discard(proc)
        if rc != 0:
            raise CellFailed(f'exit status {rc}: {" ".join(cmd)} (log: {log})')
        return time.time() - start

    def commands(self, cell: Cell, resume: Optional[str] = None) -> dict:
        """The train command of a cell and its config and options."""
        grid, v = self.grid, self.grid.variants[cell.variant]
        work_dir = grid.cell_dir(cell.variant, cell.seed)
        config = fill(v.config, grid, cell.seed)
        options = [f'randomness.seed={cell.seed}'] + [
            fill(o, grid, cell.seed) for o in v.options]
        if v.init is not None:
            src = grid.cell_dir(v.init, cell.seed)
            ckpt = final_checkpoint(src)
            if ckpt is None or not osp.isfile(osp.join(src, 'done.json')):
                raise CellFailed(f'{cell}: {v.init}/seed{cell.seed} has not '
                                 'finished (its checkpoint starts this one).')
            options.append(f'{v.init_option}={ckpt}')
        train = [sys.executable, osp.join(REPO, 'tools', 'train.py'), config,
                 '--work-dir', work_dir]
        if resume:
            train += ['--resume', resume]
        train += ['--cfg-options'] + options
        return dict(config=config, options=options, train=train,
                    work_dir=work_dir)

    def run_cell(self, cell: Cell) -> dict:
        """Train (or resume) and test one cell; its done.json record."""
        from_ckpt = final_checkpoint(self.grid.cell_dir(cell.variant,
                                                        cell.seed))
        work_dir = self.grid.cell_dir(cell.variant, cell.seed)
        os.makedirs(work_dir, exist_ok=True)
        train_json = osp.join(work_dir, 'train.json')
        timing = read_json(train_json) if osp.isfile(train_json) else None
        cmds = self.commands(cell, resume=from_ckpt)
        if timing is None or not timing.get('finished'):
            # A killed run resumes; its wall times add up.
            prior = read_json(osp.join(work_dir, 'train_partial.json')) \
                if osp.isfile(osp.join(work_dir, 'train_partial.json')) \
                else dict(wall_s=0.0, attempts=[])
            self.echo(f'[train] {cell}' + (' (resuming)' if from_ckpt else ''))
            start = time.time()
            try:
                self._call(cmds['train'], osp.join(work_dir, 'train.log'))
            finally:
                prior['wall_s'] += time.time() - start
                prior['attempts'].append(dict(
                    resumed_from=from_ckpt, wall_s=time.time() - start))
                write_json(osp.join(work_dir, 'train_partial.json'), prior)
            timing = dict(prior, finished=True)
            write_json(train_json, timing)
        ckpt = final_checkpoint(work_dir)
        v = self.grid.variants[cell.variant]
        if ckpt is None:
            raise CellFailed(f'{cell}: training finished without a '
                             f'checkpoint in {work_dir}.')
        out = osp.join(work_dir, 'test')
        test = [sys.executable, osp.join(REPO, 'tools', 'test.py'),
                cmds['config'], ckpt, '--work-dir', out, '--cfg-options'] + [
                    o for o in cmds['options']
                    if not o.startswith(v.init_option + '=')]
        if self.grid.test_student:
            # The student beside the EMA teacher, on the same batches
            # ('student/<key>'); a checkpoint without a teacher is tested
            # with its student under the plain names.
            test.append('test_cfg.with_student=True')
        self.echo(f'[test] {cell}')
        test_s = self._call(test, osp.join(work_dir, 'test.log'))
        metrics = read_json(osp.join(out, 'test_metrics.json'))
        record = dict(
            grid=self.grid.name, variant=cell.variant, seed=cell.seed,
            config=cmds['config'], options=cmds['options'],
            train_command=cmds['train'], test_command=test,
            checkpoint=ckpt, metrics=metrics,
            time=dict(train_s=timing['wall_s'], test_s=test_s,
                      train_attempts=len(timing['attempts']),
                      **pass_times(osp.join(work_dir, 'train.log'))),
            commit=self.commit, machine=machine(),
            finished=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()))
        write_json(self.done_path(cell), record)
        self._prune(work_dir, ckpt)
        return record

    @staticmethod
    def _prune(work_dir: str, keep: str) -> None:
        """Delete a finished cell's checkpoints but the final one."""
        for path in glob.glob(osp.join(work_dir, '*.pth')):
            if osp.abspath(path) != osp.abspath(keep):
                os.remove(path)

    def terminate(self) -> None:
        with self.lock:
            for proc in list(self.procs):
                proc.terminate()


def run(grid: Grid, jobs: int = 1, only: Sequence[str] = (),
        dry_run: bool = False, threads: int = 1, echo=print) -> int:
    """Run the selected cells (finished ones skipped); 0 if all finished."""
    cells = plan(grid, only)
    runner = Runner(grid, jobs, threads, echo)
    todo = [c for c in cells if not runner.is_done(c)]
    echo(f'grid {grid.name}: {len(cells)} cells selected, '
         f'{len(cells) - len(todo)} finished, {len(todo)} to run '
         f'({jobs} at a time) in {grid.root}')
    if dry_run:
        for cell in todo:
            echo(f'  {cell}: {" ".join(runner.commands(cell)["train"])}'
                 if grid.variants[cell.variant].init is None
                 else f'  {cell}: after {grid.variants[cell.variant].init}/'
                 f'seed{cell.seed}')
        return 0
    selected = set(cells)
    failed, pending, running = {}, list(todo), {}
    # `kill PID` of the harness stops its cells too (they resume later).
    signal.signal(signal.SIGTERM, _raise_interrupt)
    # Two harnesses on one grid would train the same cells at once (and
    # delete each other's checkpoints).
    lock = osp.join(grid.root, 'run.pid')
    os.makedirs(grid.root, exist_ok=True)
    if osp.isfile(lock):
        with open(lock) as f:
            other = f.read().strip()
        if other.isdigit() and _alive(int(other)) and int(other) != os.getpid():
            raise SystemExit(f'{grid.root} is being run by process {other} '
                             f'(stop it first: kill {other}).')
    with open(lock, 'w') as f:
        f.write(str(os.getpid()))
    start = time.time()

    def blocked_by(cell):
        """None if the cell can start; 'wait' or a reason to skip."""
        init = grid.variants[cell.variant].init
        if init is None:
            return None
        src = Cell(init, cell.seed)
        if runner.is_done(src):
            return None
        if src in failed:
            return f'{src} failed'
        if src not in selected:
            return f'{src} has not finished and is not selected'
        return 'wait'

    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        while pending or running:
            for cell in list(pending):
                if len(running) >= jobs:
                    break
                why = blocked_by(cell)
                if why == 'wait':
                    continue
                pending.remove(cell)
                if why is not None:
                    failed[cell] = f'skipped: {why}'
                    echo(f'[skip] {cell}: {why}')
                    continue
                running[pool.submit(runner.run_cell, cell)] = cell
            if not running:
                if pending:  # waiting on cells that will never run
                    for cell in pending:
                        failed[cell] = 'skipped: its init never finished'
                    pending = []
                continue
            # A timeout, so that a signal to the harness is handled
            # within seconds.
            finished, _ = wait(list(running), timeout=5,
                               return_when=FIRST_COMPLETED)
            for fut in finished:
                cell = running.pop(fut)
                try:
                    rec = fut.result()
                except Exception as e:  # noqa: BLE001 -- keep the grid going
                    failed[cell] = str(e)
                    echo(f'[failed] {cell}: {e}')
                    continue
                echo(f'[done] {cell} train {rec["time"]["train_s"]:.0f} s '
                     f'test {rec["time"]["test_s"]:.0f} s: ' + ', '.join(
                         f'{k} {v:.4f}' for k, v in rec['metrics'].items()
                         if _shown(k, grid.metrics) and v is not None))
    except BaseException:
        # Stop the running cells before waiting for their threads.
        runner.terminate()
        raise
    finally:
        pool.shutdown(wait=True)
        if osp.isfile(lock):
            os.remove(lock)
    echo(f'grid {grid.name}: {len(todo) - len(failed)} cells run, '
         f'{len(failed)} failed or skipped, {time.time() - start:.0f} s')
    return 1 if failed else 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f'signal {signum}')


def status(grid: Grid, only: Sequence[str] = (), echo=print) -> None:
    """Print each cell's state: done, partial (checkpoint), or not started."""
    runner = Runner(grid)
    for cell in plan(grid, only):
        work_dir = grid.cell_dir(cell.variant, cell.seed)
        if runner.is_done(cell):
            rec = read_json(runner.done_path(cell))
            state = f'done ({rec["time"]["train_s"]:.0f} s)'
        elif final_checkpoint(work_dir):
            state = f'partial ({osp.basename(final_checkpoint(work_dir))})'
        else:
            state = 'not started'
        echo(f'{str(cell):40s} {state}')


# ---------------------------------------------------------------- statistics
def t_quantile(p: float, df: int) -> float:
    """Student's t quantile (scipy's)."""
    from scipy import stats
    return float(stats.t.ppf(p, df))


def t_sf(t: float, df: int) -> float:
    """Student's t survival function (scipy's)."""
    from scipy import stats
    return float(stats.t.sf(t, df))


def mean_ci(values: Sequence[float], level: float = 0.95) -> dict:
    """Mean and t-based confidence interval of the mean.

    Returns:
        dict: ``n``, ``mean``, ``sd`` (n - 1 in the denominator), ``lo``,
        ``hi`` (None when n < 2).
    """
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return dict(n=n, mean=mean, sd=None, lo=None, hi=None)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return dict(n=n, mean=mean, sd=sd, lo=mean - half, hi=mean + half)


def paired(diffs: Sequence[float], level: float = 0.95) -> dict:
    """Paired t-test on per-seed differences: mean, CI, t and two-sided p."""
    out = mean_ci(diffs, level)
    n, sd = out['n'], out['sd']
    if n < 2:
        return dict(out, t=None, p=None)
    # Differences equal up to rounding (e.g. an AUC that moved by one
    # pair in every seed) have no spread: t is infinite, not 1e16.
    if sd <= 1e-12 * max(1.0, abs(out['mean'])):
        t, p = (0.0, 1.0) if abs(out['mean']) <= 1e-12 else (
            math.copysign(math.inf, out['mean']), 0.0)
    else:
        t = out['mean'] / (sd / math.sqrt(n))
        p = 2 * t_sf(abs(t), n - 1)
    return dict(out, t=t, p=p)


# -------------------------------------------------------------------- report
def _shown(key: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, p) for p in patterns) or any(
        fnmatch.fnmatchcase(key, 'student/' + p) for p in patterns)


def load_cells(grid: Grid) -> List[dict]:
    """Every finished cell's record (grid order, then seed)."""
    records = []
    for name in grid.variants:
        for path in sorted(glob.glob(osp.join(grid.root, name, 'seed*',
                                              'done.json'))):
            rec = read_json(path)
            log = osp.join(osp.dirname(path), 'train.log')
            if osp.isfile(log):  # the log is the record of the passes
                for key in ('lock_s', 'release_s', 'full_s'):
                    rec['time'].pop(key, None)
                rec['time'].update(pass_times(log))
            records.append(rec)
    return records


def cell_values(record: dict) -> Dict[str, float]:
    """A cell's reported numbers: its metrics and its wall times."""
    values = {k: v for k, v in record['metrics'].items()
              if isinstance(v, (int, float)) and not (
                  isinstance(v, float) and math.isnan(v))}
    for key in TIME_METRICS:
        name = key[len('time/'):]
        if name in record['time']:
            values[key] = record['time'][name]
    return values


def summarise(grid: Grid, records: List[dict]) -> dict:
    """Per group: per metric, per variant statistics, and paired
    differences against the group's reference."""
    by_variant: Dict[str, Dict[int, Dict[str, float]]] = {}
    for rec in records:
        by_variant.setdefault(rec['variant'], {})[rec['seed']] = \
            cell_values(rec)
    groups = {}
    for name, v in grid.variants.items():
        groups.setdefault(v.group, []).append(name)
    out = {}
    for group, names in groups.items():
        metrics = []
        for name in names:
            for seeds in by_variant.get(name, {}).values():
                for key in seeds:
                    if key not in metrics and (
                            _shown(key, grid.metrics) or key in TIME_METRICS):
                        metrics.append(key)
        metrics.sort(key=lambda k: (k in TIME_METRICS, k.startswith(
            'student/'), k))
        stats, diffs = {}, {}
        for key in metrics:
            stats[key] = {}
            for name in names:
                seeds = by_variant.get(name, {})
                vals = {s: m[key] for s, m in seeds.items() if key in m}
                if vals:
                    stats[key][name] = dict(
                        mean_ci(list(vals.values())),
                        values={str(s): x for s, x in sorted(vals.items())})
            for name in names:
                ref = grid.reference_of(name)
                if ref == name:
                    continue
                a = by_variant.get(name, {})
                b = by_variant.get(ref, {})
                common = sorted(s for s in a if s in b and key in a[s]
                                and key in b[s])
                if common:
                    d = [a[s][key] - b[s][key] for s in common]
                    diffs.setdefault(key, {})[name] = dict(
                        paired(d), reference=ref, seeds=common)
        # The student beside its EMA teacher, paired within each cell:
        # which of the two should be released.
        student = {}
        for key in metrics:
            if not key.startswith('student/'):
                continue
            plain = key[len('student/'):]
            for name in names:
                seeds = by_variant.get(name, {})
                common = sorted(s for s, m in seeds.items()
                                if key in m and plain in m)
                if common:
                    d = [seeds[s][key] - seeds[s][plain] for s in common]
                    student.setdefault(plain, {})[name] = dict(
                        paired(d), seeds=common)
        out[group] = dict(variants=names, metrics=metrics, stats=stats,
                          diffs=diffs, student_minus_teacher=student)
    return out


def _fmt(x: Optional[float], key: str, signed: bool = False) -> str:
    """A number in the table: metrics in percent, times in seconds."""
    if x is None:
        return '-'
    if key.startswith('time/'):
        return f'{x:+.0f}' if signed else f'{x:.0f}'
    return f'{100 * x:+.2f}' if signed else f'{100 * x:.2f}'


def _diff_cells(d: dict, key: str) -> str:
    """n, mean difference, CI, t and p of a paired comparison, as the
    rest of a table row."""
    ci = '-' if d['lo'] is None else \
        f'[{_fmt(d["lo"], key, True)}, {_fmt(d["hi"], key, True)}]'
    t = '-' if d['t'] is None else f'{d["t"]:.2f}'
    p = '-' if d['p'] is None else f'{d["p"]:.3g}'
    return f'{d["n"]} | {_fmt(d["mean"], key, True)} | {ci} | {t} | {p} |'


def markdown(grid: Grid, summary: dict, records: List[dict],
             command: str) -> str:
    """The report's text."""
    commits = sorted({r['commit'] for r in records})
    hosts = sorted({f'{r["machine"]["host"]} ({r["machine"]["cpus"]} CPUs, '
                    f'{r["machine"]["platform"]})' for r in records})
    total = sum(r['time']['train_s'] + r['time']['test_s'] for r in records)
    lines = [
        f'# Grid `{grid.name}`', '',
        f'- grid file: `{osp.relpath(grid.path, REPO)}`',
        f'- run with: `{command}`',
        f'- cells finished: {len(records)} (wall time of their training and '
        f'testing together: {total / 60:.1f} min)',
        f'- commit(s): {", ".join(f"`{c}`" for c in commits) or "-"}',
        f'- machine(s): {"; ".join(hosts) or "-"}', '',
        'Metrics in percent (AUC, mAP at IoU 0.40, Dice; `student/` is the '
        'student beside an EMA teacher, plain names the released model), '
        'times in seconds. Each cell: mean [95% CI] over the seeds, '
        't-based; n seeds. Differences are paired by seed against the '
        "group's reference, with a paired t-test (two-sided p).", '']
    for group, g in summary.items():
        ref = grid.reference_of(g['variants'][0])
        lines += [f'## {group}', '', f'Reference: `{ref}`.', '']
        if not g['metrics']:
            lines += ['No finished cells.', '']
            continue
        # Tables of at most COLUMNS metrics, rows for the variants that
        # have finished cells.
        for i in range(0, len(g['metrics']), COLUMNS):
            keys = g['metrics'][i:i + COLUMNS]
            lines.append('| variant | ' + ' | '.join(
                f'`{m}`' for m in keys) + ' |')
            lines.append('|---|' + '---:|' * len(keys))
            for name in g['variants']:
                cells = []
                for key in keys:
                    s = g['stats'][key].get(name)
                    if s is None:
                        cells.append('')
                    elif s['lo'] is None:
                        cells.append(f'{_fmt(s["mean"], key)} (n={s["n"]})')
                    else:
                        cells.append(
                            f'{_fmt(s["mean"], key)} [{_fmt(s["lo"], key)}, '
                            f'{_fmt(s["hi"], key)}] (n={s["n"]})')
                if any(cells):
                    lines.append(f'| `{name}` | ' + ' | '.join(cells) + ' |')
            lines.append('')
        lines += ['| variant - reference | metric | n | mean difference '
                  '| 95% CI | t | p |', '|---|---|---:|---:|---:|---:|---:|']
        for key in g['metrics']:
            for name, d in g['diffs'].get(key, {}).items():
                lines.append(f'| `{name}` - `{d["reference"]}` | `{key}` | '
                             + _diff_cells(d, key))
        lines.append('')
        if g['student_minus_teacher']:
            lines += ['Student minus EMA teacher, paired within each cell:', '',
                      '| variant | metric | n | mean difference | 95% CI | t '
                      '| p |', '|---|---|---:|---:|---:|---:|---:|']
            for key, per in g['student_minus_teacher'].items():
                for name, d in per.items():
                    lines.append(f'| `{name}` | `{key}` | ' + _diff_cells(d, key))
            lines.append('')
    return '\n'.join(lines) + '\n'


def plot(grid: Grid, summary: dict, out: str) -> List[str]:
    """One PNG per (group, metric): points per seed, mean and its CI."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    paths = []
    for group, g in summary.items():
        for key in g['metrics']:
            stats = g['stats'][key]
            names = [n for n in g['variants'] if n in stats]
            if not names:
                continue
            scale = 1 if key.startswith('time/') else 100
            fig, ax = plt.subplots(figsize=(max(4.0, 1.2 + 0.9 * len(names)),
                                            3.8))
            for i, name in enumerate(names):
                s = stats[name]
                ys = [scale * y for y in s['values'].values()]
                xs = [i + 0.12 * (j - (len(ys) - 1) / 2) / max(1, len(ys))
                      for j in range(len(ys))]
                ax.scatter(xs, ys, s=14, color='0.45', zorder=3)
                if s['lo'] is not None:
                    ax.errorbar(i + 0.25, scale * s['mean'], yerr=[
                        [scale * (s['mean'] - s['lo'])],
                        [scale * (s['hi'] - s['mean'])]], fmt='o',
                        color='C0' if name != grid.reference_of(name)
                        else 'C3', capsize=4, zorder=4)
                else:
                    ax.plot(i + 0.25, scale * s['mean'], 'o', color='C0'
                            if name != grid.reference_of(name) else 'C3')
            ax.set_xticks(range(len(names)))
            ax.set_xticklabels(names, rotation=35, ha='right', fontsize=7)
            ax.set_ylabel(key + (' (s)' if scale == 1 else ' (%)'),
                          fontsize=8)
            ax.set_title(f'{grid.name} / {group}\ngrey: one point per seed; '
                         'colour: mean and 95% CI (red: reference)',
                         fontsize=8)
            ax.grid(axis='y', alpha=0.3)
            fig.tight_layout()
            path = osp.join(out, re.sub(r'[^A-Za-z0-9_.-]+', '_',
                                        f'{group}__{key}') + '.png')
            fig.savefig(path, dpi=110)
            plt.close(fig)
            paths.append(path)
    return paths


def report(grid: Grid, out: Optional[str] = None, command: str = '',
           echo=print) -> dict:
    """Write report.md, summary.json, cells.json and the PNGs into ``out``
    (default ``<grid work folder>/report``); returns the summary."""
    out = out or osp.join(grid.root, 'report')
    os.makedirs(out, exist_ok=True)
    for old in glob.glob(osp.join(out, '*.png')):
        os.remove(old)
    records = load_cells(grid)
    summary = summarise(grid, records)
    with open(osp.join(out, 'report.md'), 'w') as f:
        f.write(markdown(grid, summary, records, command))
    write_json(osp.join(out, 'summary.json'), summary)
    write_json(osp.join(out, 'cells.json'), records)
    # Each cell's done.json as it is, for diffing one cell against a rerun.
    cells_dir = osp.join(out, 'cells')
    os.makedirs(cells_dir, exist_ok=True)
    for rec in records:
        src = osp.join(grid.cell_dir(rec['variant'], rec['seed']), 'done.json')
        if osp.isfile(src):
            shutil.copyfile(src, osp.join(
                cells_dir, f'{rec["variant"]}__seed{rec["seed"]}.json'))
    pngs = plot(grid, summary, out)
    echo(f'{len(records)} cells; wrote {osp.join(out, "report.md")}, '
         f'summary.json, cells.json and {len(pngs)} PNGs')
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description='Run and report a grid of seeded training runs.')
    sub = parser.add_subparsers(dest='command', required=True)
    p_run = sub.add_parser('run', help='train and test every cell')
    p_status = sub.add_parser('status', help="each cell's state")
    p_report = sub.add_parser('report', help='Markdown, JSON and PNGs')
    for p in (p_run, p_status, p_report):
        p.add_argument('grid', help='the grid file')
        p.add_argument('--data-root', help="replaces the grid's data_root")
    for p in (p_run, p_status):
        p.add_argument('--only', nargs='+', default=(),
                       help='fnmatch patterns on VARIANT or VARIANT/seedK')
    p_run.add_argument('--jobs', type=int, default=1,
                       help='cells run at once')
    p_run.add_argument('--threads', type=int, default=1,
                       help='torch threads per cell (OMP_NUM_THREADS); 1 '
                       'suits a shared machine')
    p_run.add_argument('--dry-run', action='store_true',
                       help='list the cells to run and their commands')
    p_report.add_argument('--out', help='output folder (default: '
                          '<work_root>/<grid>/report)')
    args = parser.parse_args(argv)
    grid = load_grid(args.grid, args.data_root)
    if args.command == 'run':
        if args.jobs < 1:
            parser.error('--jobs must be at least 1')
        return run(grid, args.jobs, args.only, args.dry_run, args.threads)
    if args.command == 'status':
        status(grid, args.only)
        return 0
    command = 'python tools/experiment.py ' + ' '.join(
        sys.argv[1:] if argv is None else argv)
    report(grid, args.out, command)
    return 0


if __name__ == '__main__':
    sys.exit(main())
