"""From the config's dataset table to the toolboxes' dataset configs.

A dataset table entry names a dataset, the folder of its prepared layout and,
per task it has labels for, its classes (and optionally overrides)::

    dict(name='SIIM-ACR', data_root='data/siim_acr',
         cls=dict(classes=['Pneumothorax']),
         loc=dict(classes=['Pneumothorax']),
         seg=dict(classes=['Pneumothorax'], train=dict(ann_file=...)))

The task's files follow the prepared layout of data_prep (``cls/<split>.csv``,
``loc/<split>.json``, ``seg/<split>.txt``); a ``<split>`` dict in the task
entry overrides any dataset argument for that split, and its ``subset``
(``dict(part=k, parts=n[, seed=0])``) trains on one of n disjoint parts of
the split (:class:`DisjointSubset`). The ``cls`` entry may also set the
dataset's label policy -- ``uncertain``, ``missing``, ``lsr_range``,
``eval_uncertain``, ``eval_missing`` (:mod:`fx_mm.datasets.label_policy`) --
which :func:`dataset_cfg` writes into the pipeline's ResolveUncertainLabels.
"""
import copy
from typing import List, Optional, Sequence, Tuple

from .label_policy import POLICY_KEYS, apply_label_policy, label_policy

TASKS = ('cls', 'loc', 'seg')
SPLITS = ('train', 'val', 'test')
# Keys a task entry may have besides its per-split overrides.
TASK_KEYS = dict(cls=('classes', 'data_root') + POLICY_KEYS,
                 loc=('classes', 'data_root'), seg=('classes', 'data_root'))


def table_steps(datasets: Sequence[dict],
                tasks: Sequence[str] = TASKS) -> List[Tuple[str, str]]:
    """The (dataset, task) steps of one cycle: dataset by dataset, and within a
    dataset cls -> loc -> seg, skipping tasks it has no labels for or that are
    not in ``tasks`` (e.g. the branches the model has)."""
    return [(entry['name'], task) for entry in datasets for task in TASKS
            if task in tasks and entry.get(task) is not None]


def find_entry(datasets: Sequence[dict], name: str) -> dict:
    """The table entry of ``name``; the error lists the declared names."""
    for entry in datasets:
        if entry.get('name') == name:
            return entry
    raise KeyError(f'Dataset {name!r} is not declared in the dataset table; '
                   f'declared: {[e.get("name") for e in datasets]}.')


def dataset_cfg(entry: dict, task: str, split: str,
                pipeline: Sequence[dict]) -> dict:
    """The dataset config of one (dataset, task, split).

    Args:
        entry (dict): The dataset table entry.
        task (str): 'cls', 'loc' or 'seg'.
        split (str): 'train', 'val' or 'test'.
        pipeline (Sequence[dict]): The task's pipeline for this split; the
            ``AnnotateDataset`` transform that routes the samples is appended,
            and for 'cls' the dataset's label policy is written into its
            ``ResolveUncertainLabels`` step (the train policy for 'train',
            the evaluation policy for 'val' and 'test').

    Raises:
        ValueError: If the dataset has no labels for the task or no
            data_root, or its label policy is not valid.
    """
    name = entry['name']
    task_entry = entry.get(task)
    if task_entry is None:
        raise ValueError(
            f'Dataset {name!r} has no {task!r} labels; its table entry has '
            f'tasks {[t for t in TASKS if entry.get(t) is not None]}.')
    data_root = task_entry.get('data_root', entry.get('data_root'))
    if not data_root:
        raise ValueError(f"Dataset {name!r}: no 'data_root' in its table entry "
                         '(the folder written by python -m data_prep).')
    classes = list(task_entry['classes'])
    pipeline = list(copy.deepcopy(pipeline))
    if task == 'cls':
        pipeline = apply_label_policy(pipeline, entry, split)
    pipeline = pipeline + [
        dict(type='AnnotateDataset', dataset=name, task=task)]
    test_mode = split != 'train'
    if task == 'cls':
        cfg = dict(type='mmpretrain.CXRClsDataset', data_root=data_root,
                   ann_file=f'cls/{split}.csv', data_prefix='images',
                   classes=classes, pipeline=pipeline, test_mode=test_mode)
    elif task == 'loc':
        cfg = dict(type='mmdet.CocoDataset', data_root=data_root,
                   ann_file=f'loc/{split}.json',
                   data_prefix=dict(img='images/'),
                   metainfo=dict(classes=tuple(classes)),
                   # Images without boxes are negatives DINO learns from.
                   filter_cfg=dict(filter_empty_gt=False, min_size=1),
                   pipeline=pipeline, test_mode=test_mode)
    else:
        cfg = dict(type='mmseg.CXRSegDataset', data_root=data_root,
                   ann_file=f'seg/{split}.txt', classes=classes,
                   pipeline=pipeline, test_mode=test_mode)
    cfg.update(copy.deepcopy(task_entry.get(split, {})))
    subset = cfg.pop('subset', None)
    if subset is not None:
        cfg = dict(type='DisjointSubset', dataset=cfg, **subset)
    return cfg


def check_table(datasets: Sequence[dict],
                steps: Optional[Sequence[Tuple[str, str]]] = None) -> None:
    """Validate a dataset table (and an explicit step list) up front.

    Raises:
        ValueError / KeyError: Naming the dataset and field at fault.
    """
    names = [e.get('name') for e in datasets]
    if not datasets:
        raise ValueError('The dataset table (fx_datasets) is empty.')
    for i, entry in enumerate(datasets):
        if not entry.get('name'):
            raise ValueError(f'Dataset table entry {i} has no name.')
        unknown = set(entry) - set(TASKS) - {'name', 'data_root'}
        if unknown:
            raise ValueError(f'Dataset {entry["name"]!r}: unknown keys '
                             f'{sorted(unknown)}; tasks are {TASKS}.')
        for task in TASKS:
            if entry.get(task) is None:
                continue
            if not entry[task].get('classes'):
                raise ValueError(f'Dataset {entry["name"]!r}, task {task!r}: '
                                 "no 'classes'.")
            # A misspelt key would otherwise be ignored without a word (a
            # label policy silently left at the pipeline's).
            unknown = set(entry[task]) - set(TASK_KEYS[task]) - set(SPLITS)
            if unknown:
                raise ValueError(
                    f'Dataset {entry["name"]!r}, task {task!r}: unknown '
                    f'key(s) {sorted(unknown)}; expected '
                    f'{list(TASK_KEYS[task]) + list(SPLITS)}.')
        label_policy(entry)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f'Datasets declared twice in the table: {dup}.')
    for dataset, task in steps or []:
        entry = find_entry(datasets, dataset)
        if task not in TASKS:
            raise ValueError(f'Step ({dataset!r}, {task!r}): task must be one '
                             f'of {TASKS}.')
        if entry.get(task) is None:
            raise ValueError(
                f'Step ({dataset!r}, {task!r}): dataset {dataset!r} has no '
                f'{task!r} labels in the table (it has '
                f'{[t for t in TASKS if entry.get(t) is not None]}).')

