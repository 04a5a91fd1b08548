"""Evaluate every task of every dataset: validation and test loops."""
import contextlib
import copy
import random
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import DATASETS, LOOPS
from mmengine.runner.amp import autocast
from mmengine.runner.base_loop import BaseLoop
from mmengine.utils import ProgressBar

from fx_mm.datasets.dataset_table import dataset_cfg, find_entry, table_steps
from .cyclic_train_loop import unwrap

DEFAULT_METRICS = dict(cls=dict(type='MultiLabelAUC'),
                       loc=dict(type='CocoAP40Metric'),
                       seg=dict(type='MultiLabelDice'))


@contextlib.contextmanager
def preserved_random_state():
    """Restore the Python, numpy and torch (CPU and CUDA) generators on exit."""
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() \
        else None
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


class _MultiTaskEvalLoop(BaseLoop):
    """Run the model over the ``split`` of every (dataset, task) it has.

    Each (dataset, task) gets its own dataloader (the runner's
    ``{val,test}_dataloader`` settings with that dataset and the task's test
    pipeline) and its own metric (``evaluator[task]``), whose results are
    reported as ``<dataset>/<task>/<metric>``, e.g. ``SIIM-ACR/seg/Dice``.

    Args:
        runner (Runner): The runner.
        dataloader (dict): Dataloader settings (``dataset`` is set per step).
        evaluator (dict): Metric config per task; defaults to AUC (cls),
            COCO AP at IoU 0.40 (loc) and Dice (seg).
        datasets (list[dict], optional): Dataset table; default
            ``fx_datasets``.
        pipelines (dict, optional): Default ``fx_pipelines``.
        tasks (Sequence[str], optional): Restrict to these tasks.
        fp16 (bool): Autocast the forward passes.
        with_student (bool | str): When the model predicts with its EMA
            teacher, evaluate the student too, on the same batches, reported
            as ``student/<dataset>/<task>/<metric>`` beside the teacher's
            (which keep the plain names). Which of the two to use is then a
            measured choice. ``'cycle'``: only in a validation that follows
            the last pass of a cycle of :class:`CyclicTrainLoop` (or outside
            training) -- teacher curves after every step, teacher vs student
            once a cycle (the demo: 187 s of training against 203 s).
            Defaults to True for validation, False for test.
    """

    split = 'val'
    stage = 'val'

    def __init__(self, runner, dataloader: dict, evaluator: Optional[dict] = None,
                 datasets: Optional[List[dict]] = None,
                 pipelines: Optional[dict] = None,
                 tasks: Optional[Sequence[str]] = None,
                 fp16: bool = False,
                 with_student: Optional[bool] = None) -> None:
        self._runner = runner
        cfg = runner.cfg
        self.datasets = datasets if datasets is not None else cfg.get(
            'fx_datasets')
        self.pipelines = pipelines if pipelines is not None else cfg.get(
            'fx_pipelines')
        if not self.datasets or not self.pipelines:
            raise ValueError(f'{type(self).__name__}: needs the dataset table '
                             'and pipelines (fx_datasets, fx_pipelines).')
        self.dataloader_cfg = dict(copy.deepcopy(dataloader))
        for key in ('dataset', 'sampler', 'batch_sampler'):
            self.dataloader_cfg.pop(key, None)
        self.dataloader_cfg.setdefault('collate_fn', dict(type='pseudo_collate'))
        self.metric_cfgs = copy.deepcopy(DEFAULT_METRICS)
        for task, metric in dict(evaluator or {}).items():
            if task in self.metric_cfgs and isinstance(metric, dict):
                self.metric_cfgs[task] = metric
        self.tasks = tuple(tasks) if tasks else ('cls', 'loc', 'seg')
        self.fp16 = fp16
        if with_student is not None and with_student != 'cycle' and \
                not isinstance(with_student, bool):
            raise ValueError(f"{type(self).__name__}: with_student must be "
                             f"True, False or 'cycle', not {with_student!r}.")
        self.with_student = (self.stage == 'val') if with_student is None \
            else with_student
        self._loaders: Dict[tuple, object] = {}
        self._current = None

    @property
    def dataloader(self):
        """The dataloader being evaluated (the first one before a run);
        mmengine's hooks read its length for their progress lines."""
        if self._current is None:
            self._current = self._loader(*self.steps()[0])
        return self._current

    @dataloader.setter
    def dataloader(self, loader) -> None:
        self._current = loader

    def steps(self) -> List[tuple]:
        """The (dataset, task) pairs evaluated: table order, model heads."""
        heads = unwrap(self.runner.model).datasets
        return [(d, t) for d, t in table_steps(self.datasets, self.tasks)
                if d in heads[t]]

    def _loader(self, dataset: str, task: str):
        if (dataset, task) not in self._loaders:
            entry = find_entry(self.datasets, dataset)
            ds = DATASETS.build(dataset_cfg(entry, task, self.split,
                                            self.pipelines[task]['test']))
            cfg = copy.deepcopy(self.dataloader_cfg)
            cfg['dataset'] = ds
            cfg['sampler'] = dict(type='DefaultSampler', shuffle=False)
            self._loaders[(dataset, task)] = self.runner.build_dataloader(cfg)
        return self._loaders[(dataset, task)]

    def run(self) -> dict:
        """Evaluate everything; returns ``{<dataset>/<task>/<metric>: v}``.

        The random generators are restored afterwards, so training draws
        the same numbers whether or not (and however often) it validates --
        a resumed run matches an uninterrupted one.
        """
        with preserved_random_state():
            return self._run()

    def _run(self) -> dict:
        self.runner.call_hook(f'before_{self.stage}')
        self.runner.call_hook(f'before_{self.stage}_epoch')
        self.runner.model.eval()
        metrics = {}
        with_student = self._evaluates_student()
        for dataset, task in self.steps():
            loader = self._loader(dataset, task)
            self.dataloader = loader
            classes = list(find_entry(self.datasets, dataset)[task]['classes'])
            evaluator = Evaluator(dict(
                self.metric_cfgs[task], classes=classes,
                prefix=f'{dataset}/{task}'))
            evaluator.dataset_meta = getattr(loader.dataset, 'metainfo', None)
            student = None
            if with_student:
                student = Evaluator(dict(
                    self.metric_cfgs[task], classes=classes,
                    prefix=f'student/{dataset}/{task}'))
                student.dataset_meta = evaluator.dataset_meta
            bar = ProgressBar(len(loader.dataset)) \
                if self.runner.rank == 0 else None
            for idx, data_batch in enumerate(loader):
                if student is not None:  # before the teacher's pass
                    self._student_iter(copy.deepcopy(data_batch), student)
                self.run_iter(idx, data_batch, evaluator)
                if bar is not None:
                    for _ in data_batch['inputs']:
                        bar.update()
            if bar is not None:
                print()
            metrics.update(evaluator.evaluate(len(loader.dataset)))
            if student is not None:
                metrics.update(student.evaluate(len(loader.dataset)))
        if not with_student:
            self._forget_student_scalars()
        self.runner.call_hook(f'after_{self.stage}_epoch', metrics=metrics)
        self.runner.call_hook(f'after_{self.stage}')
        return metrics

    def _forget_student_scalars(self) -> None:
        """Drop the student's metrics of an earlier validation from the
        message hub: mmengine's logger writes every ``val/`` scalar it holds
        into each validation's record, so a validation without the student
        (``with_student='cycle'``) would log the last one's again, as if
        measured now."""
        scalars = self.runner.message_hub.log_scalars
        for key in [k for k in scalars
                    if k.startswith(f'{self.stage}/student/')]:
            scalars.pop(key)

    def _evaluates_student(self) -> bool:
        model = unwrap(self.runner.model)
        if not (self.with_student and model.teacher is not None
                and model.predict_with == 'teacher'):
            return False
        if self.with_student == 'cycle':
            # The training loop, if one is running (the runner builds it
            # from its config on first access: not here).
            loop = getattr(self.runner, '_train_loop', None)
            ends_cycle = getattr(loop, 'pass_ends_cycle', None)
            if ends_cycle is not None and loop.iter > 0:
                return ends_cycle(loop.epoch - 1)
        return True

    @torch.no_grad()
    def _student_iter(self, data_batch: dict, evaluator) -> None:
        """The student's predictions on a batch (no hooks: one logical
        iteration per batch)."""
        model = unwrap(self.runner.model)
        model.predict_with = 'student'
        try:
            with autocast(enabled=self.fp16):
                outputs = getattr(self.runner.model, f'{self.stage}_step')(
                    data_batch)
        finally:
            model.predict_with = 'teacher'
        evaluator.process(data_samples=outputs, data_batch=data_batch)

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: dict, evaluator) -> None:
        self.runner.call_hook(f'before_{self.stage}_iter', batch_idx=idx,
                              data_batch=data_batch)
        with autocast(enabled=self.fp16):
            outputs = getattr(self.runner.model, f'{self.stage}_step')(
                data_batch)
        evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook(f'after_{self.stage}_iter', batch_idx=idx,
                              data_batch=data_batch, outputs=outputs)


@LOOPS.register_module()
class MultiTaskValLoop(_MultiTaskEvalLoop):
    """Validation on the ``val`` split of every (dataset, task)."""
    split, stage = 'val', 'val'


@LOOPS.register_module()
class MultiTaskTestLoop(_MultiTaskEvalLoop):
    """Test on the ``test`` split of every (dataset, task)."""
    split, stage = 'test', 'test'
