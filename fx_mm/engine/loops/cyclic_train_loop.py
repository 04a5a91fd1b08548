"""The cyclic Lock-Release training loop of Foundation X."""
import copy
import json
import os
import os.path as osp
import zlib
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.dist import get_world_size
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import DATASETS, LOOPS
from mmengine.runner import EpochBasedTrainLoop

from ..pass_sampler import PassSampler
from ..shared_seed import shared_seed
from fx_mm.datasets.dataset_table import (check_table, dataset_cfg,
                                          find_entry, table_steps)


@dataclass(frozen=True)
class Pass:
    """One pass of the schedule (an mmengine 'epoch').

    Attributes:
        index (int): Global pass index (mmengine's epoch).
        cycle (int): Cycle index, from 0.
        step (int): Step index within the cycle, from 0.
        dataset (str): The step's dataset.
        task (str): The step's task: 'cls', 'loc' or 'seg'.
        kind (str): 'lock' (only the dataset's head trains, on a random half),
            'release' (everything trains, on all of it) or 'full' (a step
            without a lock pass: everything trains, on all of it).
    """
    index: int
    cycle: int
    step: int
    dataset: str
    task: str
    kind: str

    def describe(self, num_cycles: int, num_steps: int) -> str:
        return (f'cycle {self.cycle + 1}/{num_cycles} step {self.step + 1}/'
                f'{num_steps} {self.dataset}/{self.task} {self.kind}')


def build_schedule(steps: Sequence[Tuple[str, str]],
                   lock_tasks: Sequence[str], num_cycles: int) -> List[Pass]:
    """The passes of a run: every step of every cycle, a step of a task in
    ``lock_tasks`` as a lock and a release pass, any other as one full pass.

    Args:
        steps (Sequence[tuple[str, str]]): The cycle's ``(dataset, task)``s.
        lock_tasks (Sequence[str]): Tasks whose steps start with a lock pass.
        num_cycles (int): Number of cycles.

    Returns:
        list[Pass]: The schedule, in order.
    """
    schedule = []
    for cycle in range(num_cycles):
        for step, (dataset, task) in enumerate(steps):
            kinds = ('lock', 'release') if task in lock_tasks else ('full', )
            for kind in kinds:
                schedule.append(Pass(len(schedule), cycle, step, dataset,
                                     task, kind))
    return schedule


def _with_context(error: Exception, context: str) -> Exception:
    """The same kind of error, its message prefixed with ``context``."""
    try:
        return type(error)(f'{context}: {error}')
    except Exception:
        return ValueError(f'{context}: {error}')


def unwrap(model):
    """The model inside a DDP wrapper, or the model."""
    return model.module if is_model_wrapper(model) else model


@LOOPS.register_module()
class CyclicTrainLoop(EpochBasedTrainLoop):
    """Train dataset by dataset and task by task, in cycles (paper Sec. 3.2).

    A cycle visits every step -- a (dataset, task) pair -- in order: dataset
    by dataset, and within a dataset cls -> loc -> seg, skipping tasks a
    dataset has no labels for or the model has no branch for (or an explicit
    ``steps`` list). A step of a task in ``lock_tasks`` is two passes: a lock
    pass over a random ``lock_fraction`` of the dataset (fresh every cycle,
    the same on every rank), then a release pass over all of it; other steps
    are one pass. Each pass is one mmengine epoch, so checkpoints, resuming,
    schedulers and logging work per pass; :class:`LockReleaseHook` freezes
    and :class:`EMATeacherHook` updates the teacher at pass boundaries.

    The runner's ``train_dataloader`` config gives the dataloader settings
    (batch size, workers, collate_fn); each pass gets its own dataset and a
    :class:`PassSampler`.

    Args:
        runner (Runner): The runner.
        dataloader (dict): Dataloader settings (``dataset`` and ``sampler``
            are set per pass).
        max_cycles (int): Number of cycles.
        datasets (list[dict], optional): The dataset table; defaults to the
            config's ``fx_datasets``.
        pipelines (dict, optional): ``{task: {'train': [...], 'test': [...]}}``;
            defaults to the config's ``fx_pipelines``.
        steps (list[tuple[str, str]], optional): Explicit cycle, as
            ``(dataset, task)`` pairs (e.g. the organ schedule of supplement
            Table 8). Defaults to the order derived from the table.
        lock_tasks (Sequence[str]): Tasks whose steps start with a lock pass.
            ``()`` turns Lock-Release off. Defaults to ``('loc', 'seg')``.
        lock_fraction (float): Share of the dataset in a lock pass.
        val_interval (int): Validate every this many cycles (``val_by=
            'cycle'``), steps (``'step'``) or passes (``'pass'``).
        val_by (str): 'cycle', 'step' (after a step's last pass -- its
            release or full pass -- so a lock pass is not validated on its
            own: the cross-task curves at a third of the cost of 'pass' in
            a loc + seg cycle) or 'pass'. The last pass is always validated.
        batch_size_per_task (dict[str, int], optional): A batch size for a
            task's passes other than the dataloader's, e.g. ``dict(cls=16)``:
            classification at a small input size spends most of a step on
            per-step overhead (two forwards, the optimizer), which a larger
            batch shares out. Learning rates are not rescaled for it.
        seed (int, optional): Seed of the lock subsets, shuffles and soft
            labels; defaults to the run's seed shared by all ranks (rank 0's:
            with ``diff_rank_seed`` the runner's seed differs per rank).
    """

    def __init__(self,
                 runner,
                 dataloader: dict,
                 max_cycles: int,
                 datasets: Optional[List[dict]] = None,
                 pipelines: Optional[dict] = None,
                 steps: Optional[Sequence[Tuple[str, str]]] = None,
                 lock_tasks: Sequence[str] = ('loc', 'seg'),
                 lock_fraction: float = 0.5,
                 val_interval: int = 1,
                 val_by: str = 'cycle',
                 batch_size_per_task: Optional[Dict[str, int]] = None,
                 seed: Optional[int] = None) -> None:
        self._runner = runner
        cfg = runner.cfg
        self.datasets = copy.deepcopy(
            datasets if datasets is not None else cfg.get('fx_datasets'))
        self.pipelines = pipelines if pipelines is not None else cfg.get(
            'fx_pipelines')
        if not self.datasets:
            raise ValueError('CyclicTrainLoop: no dataset table (train_cfg.'
                             'datasets or the config key fx_datasets).')
        if not self.pipelines:
            raise ValueError('CyclicTrainLoop: no pipelines (train_cfg.'
                             'pipelines or the config key fx_pipelines).')
        if not isinstance(max_cycles, int) or max_cycles < 1:
            raise ValueError(f'max_cycles must be a positive int, got '
                             f'{max_cycles!r}.')
        if val_by not in ('cycle', 'step', 'pass'):
            raise ValueError(f"val_by must be 'cycle', 'step' or 'pass', not "
                             f'{val_by!r}.')
        if not isinstance(val_interval, int) or val_interval < 1:
            raise ValueError(f'val_interval must be a positive int, got '
                             f'{val_interval!r}.')
        self.val_by = val_by
        self.dataloader_cfg = dict(copy.deepcopy(dataloader))
        for key in ('dataset', 'sampler', 'batch_sampler'):
            self.dataloader_cfg.pop(key, None)
        self.dataloader_cfg.setdefault('collate_fn', dict(type='pseudo_collate'))
        self.batch_size_per_task = dict(batch_size_per_task or {})
        for task, size in self.batch_size_per_task.items():
            if task not in ('cls', 'loc', 'seg') or not isinstance(
                    size, int) or size < 1:
                raise ValueError(
                    f'batch_size_per_task: {task!r}: {size!r} -- give a '
                    "positive int for 'cls', 'loc' or 'seg'.")
        self.lock_tasks = tuple(lock_tasks)
        self.lock_fraction = lock_fraction
        self.seed = shared_seed(runner) if seed is None else seed

        model_tasks = unwrap(runner.model).datasets
        if steps is None:
            steps = [(d, t) for d, t in table_steps(self.datasets)
                     if d in model_tasks[t]]
        steps = [tuple(s) for s in steps]
        check_table(self.datasets, steps)
        for dataset, task in steps:
            if dataset not in model_tasks[task]:
                raise ValueError(
                    f'Step ({dataset!r}, {task!r}): the model has no {task} '
                    f'head for {dataset!r} (its {task} heads: '
                    f'{model_tasks[task]}); add the dataset to model.datasets.')
        if not steps:
            raise ValueError('CyclicTrainLoop: the cycle has no steps (no '
                             'dataset has labels for a task the model has).')
        self.steps = steps
        self.num_cycles = max_cycles
        self.schedule = build_schedule(self.steps, self.lock_tasks, max_cycles)
        self.passes_per_cycle = len(self.schedule) // max_cycles
        self._milestones_in_passes(runner)
        self._check_total_batch(runner)

        # Build every dataset up front: bad files or empty splits fail now,
        # before any training.
        self.train_datasets = {}
        for dataset, task in dict.fromkeys(self.steps):
            entry = find_entry(self.datasets, dataset)
            ds_cfg = dataset_cfg(entry, task, 'train',
                                 self.pipelines[task]['train'])
            try:
                built = DATASETS.build(ds_cfg)
            except Exception as e:
                raise _with_context(e, f'Dataset {dataset!r}, task {task!r}, '
                                    f'train split ({ds_cfg["data_root"]}/'
                                    f'{ds_cfg["ann_file"]})') from e
            if len(built) == 0:
                raise ValueError(
                    f'Dataset {dataset!r}, task {task!r}: the train split '
                    f'({ds_cfg["data_root"]}/{ds_cfg["ann_file"]}) is empty.')
            self.train_datasets[(dataset, task)] = built

        self._loaders: Dict[Pass, object] = {}
        self._max_epochs = len(self.schedule)
        self._max_iters = sum(self._num_iters(p) for p in self.schedule)
        self._epoch = 0
        self._iter = 0
        self.val_begin = 1
        # In passes for 'cycle' and 'pass'; in steps for 'step'.
        interval = val_interval * (self.passes_per_cycle
                                   if val_by == 'cycle' else 1)
        self.val_interval = interval
        self._validated_passes = self._passes_to_validate()
        self.stop_training = False
        self.dataloader = self._loader(self.schedule[0])

    # ------------------------------------------------------------ schedule
    def _milestones_in_passes(self, runner) -> None:
        """Turn ``milestone_cycles`` of the param schedulers into pass
        indices (``milestones``), now that the passes per cycle are known;
        the runner builds the schedulers after the loop."""
        cfgs = runner.param_schedulers
        if cfgs is None:
            return
        if isinstance(cfgs, dict) and 'type' not in cfgs:  # per optimizer
            groups = list(cfgs.values())
        else:
            groups = [cfgs]
        for group in groups:
            for cfg in group if isinstance(group, (list, tuple)) else [group]:
                if not isinstance(cfg, dict) or 'milestone_cycles' not in cfg:
                    continue
                if 'milestones' in cfg:
                    raise ValueError(
                        f'param_scheduler {cfg.get("type")}: give milestones '
                        '(passes) or milestone_cycles (cycles), not both.')
                cycles = list(cfg.pop('milestone_cycles'))
                late = [c for c in cycles if c >= self.num_cycles]
                if late:
                    print_log(
                        f'param_scheduler {cfg.get("type")}: milestone '
                        f'cycle(s) {late} are not before max_cycles='
                        f'{self.num_cycles}: no decay happens there.',
                        logger='current', level=30)
                cfg['milestones'] = [int(c) * self.passes_per_cycle
                                     for c in cycles]
                cfg['by_epoch'] = True

    def _check_total_batch(self, runner) -> None:
        """Say when the total batch differs from the one the learning rates
        were set for (``auto_scale_lr.base_batch_size``: the paper's 24)."""
        auto = runner.cfg.get('auto_scale_lr') or {}
        base = auto.get('base_batch_size')
        total = get_world_size() * self.dataloader_cfg.get('batch_size', 1)
        if base and total != base:
            scaled = auto.get('enable', False)
            print_log(
                f'Total batch {total} ({get_world_size()} process(es) x '
                f'{self.dataloader_cfg.get("batch_size", 1)}) differs from the '
                f'{base} the learning rates were set for; ' + (
                    'auto_scale_lr scales them linearly.' if scaled else
                    'they are used as they are (tools/train.py '
                    '--auto-scale-lr scales them linearly).'),
                logger='current', level=30)

    @property
    def current_pass(self) -> Pass:
        """Pass: The pass running now (or next, between passes)."""
        return self.schedule[min(self._epoch, len(self.schedule) - 1)]

    def describe_current(self) -> str:
        """A short description of the current pass, for log lines."""
        return self.current_pass.describe(self.num_cycles, len(self.steps))

    def _sampler_cfg(self, p: Pass) -> dict:
        # The lock half is keyed on the step too: two datasets of one length
        # (or the loc and seg steps of one dataset) get independent halves.
        step_key = zlib.crc32(f'{p.dataset}/{p.task}'.encode())
        return dict(type='PassSampler', shuffle=True, seed=self.seed,
                    subset_key=[p.cycle, step_key],
                    fraction=self.lock_fraction if p.kind == 'lock' else 1.0)

    def _num_iters(self, p: Pass) -> int:
        """Iterations of a pass, as its dataloader will have them, without
        building the dataloader (a long run has thousands of passes)."""
        cfg = self._sampler_cfg(p)
        cfg.pop('type')
        samples = len(PassSampler(
            self.train_datasets[(p.dataset, p.task)], **cfg))
        batch = self._batch_size(p)
        return samples // batch if self.dataloader_cfg.get('drop_last') \
            else -(-samples // batch)

    def _batch_size(self, p: Pass) -> int:
        """The batch size of a pass: its task's, else the dataloader's."""
        return self.batch_size_per_task.get(
            p.task, self.dataloader_cfg.get('batch_size', 1))

    def _worker_seed_base(self, p: Pass) -> int:
        """The seed a pass's dataloader is built with.

        mmengine's ``worker_init_fn`` seeds worker ``w`` of rank ``r`` with
        ``base + num_workers * r + w``. Each pass takes the next block of
        ``world_size * num_workers`` seeds after the shared seed, so every
        worker of every pass on every rank draws from a seed of its own
        (``shared seed + pass index`` made worker 1 of a pass replay worker
        0 of the next, and rank 1 replay rank 0 a few passes on), and a
        resumed run's workers get the seeds the uninterrupted run's had.

        Args:
            p (Pass): The pass.

        Returns:
            int: ``seed + p.index * world_size * max(num_workers, 1)``.
        """
        workers = max(self.dataloader_cfg.get('num_workers', 0) or 0, 1)
        return self.seed + p.index * get_world_size() * workers

    def _loader(self, p: Pass):
        """The dataloader of a pass (built on first use)."""
        if p not in self._loaders:
            cfg = copy.deepcopy(self.dataloader_cfg)
            dataset = self.train_datasets[(p.dataset, p.task)]
            # Transforms with per-pass randomness (soft labels) are keyed on
            # the pass, so workers, passes and resumed runs draw as they
            # should (see ResolveUncertainLabels).
            for transform in getattr(dataset.pipeline, 'transforms', []):
                if hasattr(transform, 'set_pass'):
                    transform.set_pass(self.seed, p.index)
            cfg['dataset'] = dataset
            cfg['sampler'] = self._sampler_cfg(p)
            cfg['batch_size'] = self._batch_size(p)
            self._loaders[p] = self.runner.build_dataloader(
                cfg, seed=self._worker_seed_base(p))
            assert len(self._loaders[p]) == self._num_iters(p)
        return self._loaders[p]

    # ---------------------------------------------------------------- run
    def _pass_ends(self, index: int, unit: str) -> bool:
        """Whether pass ``index`` is the last of its cycle (``unit=
        'cycle'``) or of its step (``'step'``)."""
        if index == len(self.schedule) - 1:
            return True
        here, after = self.schedule[index], self.schedule[index + 1]
        if unit == 'cycle':
            return after.cycle != here.cycle
        return (after.cycle, after.step) != (here.cycle, here.step)

    def pass_ends_cycle(self, index: int) -> bool:
        """Whether pass ``index`` is the last of its cycle."""
        return self._pass_ends(index, 'cycle')

    def _passes_to_validate(self) -> frozenset:
        """Indices of the passes validation follows (``val_by`` and
        ``val_interval``; the last pass always)."""
        last = len(self.schedule) - 1
        if self.val_by == 'step':
            ends = [p.index for p in self.schedule
                    if self._pass_ends(p.index, 'step')]
            chosen = ends[self.val_interval - 1::self.val_interval]
        else:
            chosen = range(self.val_interval - 1, last, self.val_interval)
        return frozenset(chosen) | {last}

    def run(self):
        """Write the schedule into the work dir, then train pass by pass,
        validating after the passes ``val_by`` names (mmengine's loop decides
        by epoch count alone, which cannot say 'after each step')."""
        if self.runner.rank == 0:
            os.makedirs(self.runner.work_dir, exist_ok=True)
            with open(osp.join(self.runner.work_dir, 'schedule.json'), 'w') as f:
                json.dump([asdict(p) for p in self.schedule], f, indent=1)
        self.runner.call_hook('before_train')
        while self._epoch < self._max_epochs and not self.stop_training:
            self.run_epoch()
            if self.runner.val_loop is not None and \
                    self._epoch - 1 in self._validated_passes:
                self.runner.val_loop.run()
        self.runner.call_hook('after_train')
        return self.runner.model

    def run_epoch(self) -> None:
        """Run the current pass with its own dataloader."""
        # Per-task optimizer behaviour (FXOptimWrapper's clipping).
        set_task = getattr(self.runner.optim_wrapper, 'set_task', None)
        if set_task is not None:
            set_task(self.current_pass.task)
        self.dataloader = self._loader(self.current_pass)
        super().run_epoch()
        # A pass's dataloader is not needed again (each pass is unique).
        self._loaders.pop(self.schedule[self._epoch - 1], None)

    def run_iter(self, idx, data_batch) -> None:
        """One iteration; a non-finite loss stops training with context."""
        try:
            super().run_iter(idx, data_batch)
        except FloatingPointError as e:
            p = self.current_pass
            raise FloatingPointError(
                f'{e} -- dataset {p.dataset!r}, task {p.task!r}, {p.kind} pass '
                f'{p.index}, iteration {self._iter} (cycle {p.cycle + 1}). '
                'Training stopped; the last checkpoint in the work dir is the '
                'last good one.') from None
