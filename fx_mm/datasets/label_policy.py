"""A dataset's classification label policy: from its table entry to the
:class:`ResolveUncertainLabels` steps of its pipelines, and what the policy
makes of a split's labels.

The policy is part of a dataset's ``cls`` entry in the dataset table::

    dict(name='CheXpert', data_root='data/chexpert',
         cls=dict(classes=[...], uncertain='lsr-ones', missing='negative',
                  eval_missing='negative'))

Training (the ``train`` split) and evaluation (``val`` and ``test``) have
separate settings, because they answer different questions: training needs
a target for every label it can use, while a metric should only count
labels whose meaning is known. A key the entry leaves out keeps what the
task's pipeline (``fx_pipelines.cls.train`` / ``.test``) says, so a table
without policy keys behaves as before: LSR-Ones for uncertain and blank
ignored in training, both ignored in evaluation.

``uncertain`` (train)
    ``'lsr-ones'``, ``'lsr-zeros'``, ``'ones'``, ``'zeros'`` or
    ``'ignore'`` (:class:`ResolveUncertainLabels`).
``lsr_range`` (train)
    ``(low, high)`` of the LSR draws; only with an LSR ``uncertain``. Without
    it an entry's LSR policy draws from its default interval (0.55-0.85 for
    ones, 0-0.3 for zeros), not from the pipeline's.
``missing`` (train)
    ``'ignore'`` (a blank is left out of the loss) or ``'negative'`` (a
    blank is a 0).
``eval_uncertain`` (val / test)
    ``'ignore'``, ``'ones'`` or ``'zeros'``. LSR is not offered: a metric on
    randomly drawn targets measures the draw.
``eval_missing`` (val / test)
    ``'ignore'`` or ``'negative'``. Ignore is right where a blank means
    "unknown" (e.g. VinDr-CXR's Kaggle labels that the CSV cannot tell).
    Negative is right where a blank is a labeler's "not mentioned" that
    training also reads as absent -- CheXpert's and MIMIC-CXR's
    labeler-derived val / test labels: metrics then use the training's
    reading of the labels, and a class such as "No Finding", which the
    labeler only ever marks positive, keeps negatives (its AUC would
    otherwise be undefined).

A config changes a dataset's policy like any table setting: on the command
line, ``--cfg-options fx_datasets.0.cls.missing=ignore``; in a config that
inherits the table, ``fx_datasets = _base_.fx_datasets`` then
``fx_datasets[0]['cls'].update(missing='ignore')`` (and ``model =
dict(datasets=fx_datasets)``). :class:`LabelCountsHook` logs what each
dataset's policy makes of its labels when training starts.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np

from .transforms import ResolveUncertainLabels

# Table key -> allowed values. Keys of the train split and of val / test.
POLICY_VALUES = dict(
    uncertain=('lsr-ones', 'lsr-zeros', 'ones', 'zeros', 'ignore'),
    missing=('ignore', 'negative'),
    eval_uncertain=('ignore', 'ones', 'zeros'),
    eval_missing=('ignore', 'negative'))
POLICY_KEYS = tuple(POLICY_VALUES) + ('lsr_range', )
# Table key -> ResolveUncertainLabels argument, per kind of split.
_SPLIT_KEYS = dict(train=dict(uncertain='uncertain', missing='missing'),
                   eval=dict(eval_uncertain='uncertain',
                             eval_missing='missing'))


def label_policy(entry: dict) -> dict:
    """The policy keys a dataset's ``cls`` entry sets, checked.

    Args:
        entry (dict): The dataset table entry.

    Returns:
        dict: The subset of :data:`POLICY_KEYS` the entry sets (empty for a
        dataset without ``cls`` labels).

    Raises:
        ValueError: Naming the dataset and the field, with the values
            expected.
    """
    name = entry.get('name')
    cls_entry = entry.get('cls') or {}
    policy = {k: cls_entry[k] for k in POLICY_KEYS if k in cls_entry}
    for key, allowed in POLICY_VALUES.items():
        if key in policy and policy[key] not in allowed:
            raise ValueError(
                f'Dataset {name!r}, field cls.{key}: {policy[key]!r} is not '
                f'one of {allowed} (dataset table, fx_datasets).')
    if 'lsr_range' in policy:
        lsr = policy['lsr_range']
        if policy.get('uncertain') not in ResolveUncertainLabels.LSR_RANGES:
            raise ValueError(
                f'Dataset {name!r}, field cls.lsr_range: set, but cls.'
                f'uncertain is {policy.get("uncertain")!r}; the interval '
                "needs uncertain='lsr-ones' or 'lsr-zeros' in the same entry.")
        ok = isinstance(lsr, (list, tuple)) and len(lsr) == 2 and all(
            isinstance(v, (int, float)) for v in lsr)
        if not ok or not 0 <= lsr[0] <= lsr[1] <= 1:
            raise ValueError(
                f'Dataset {name!r}, field cls.lsr_range: {lsr!r} is not '
                '(low, high) with 0 <= low <= high <= 1.')
    return policy


def transform_overrides(entry: dict, split: str) -> dict:
    """The :class:`ResolveUncertainLabels` arguments a dataset's policy sets
    for one split (empty: the pipeline's own settings apply).

    Args:
        entry (dict): The dataset table entry.
        split (str): 'train', 'val' or 'test'.

    Returns:
        dict: Some of ``uncertain``, ``missing``, ``low``, ``high``. With
        ``uncertain`` set, ``low`` / ``high`` are always given (None: the
        policy's default), so the pipeline's interval -- meant for its own
        policy -- is not carried over.
    """
    policy = label_policy(entry)
    keys = _SPLIT_KEYS['train' if split == 'train' else 'eval']
    overrides = {arg: policy[key] for key, arg in keys.items()
                 if key in policy}
    if split == 'train' and 'uncertain' in overrides:
        overrides['low'], overrides['high'] = policy.get('lsr_range',
                                                         (None, None))
    return overrides


def _is_resolve_step(step) -> bool:
    kind = step.get('type') if isinstance(step, dict) else None
    if isinstance(kind, str):
        return kind.split('.')[-1] == ResolveUncertainLabels.__name__
    return isinstance(kind, type) and issubclass(kind,
                                                 ResolveUncertainLabels)


def apply_label_policy(pipeline: Sequence[dict], entry: dict,
                       split: str) -> List[dict]:
    """A dataset's ``cls`` pipeline of one split, with its label policy in
    the :class:`ResolveUncertainLabels` step(s).

    Args:
        pipeline (Sequence[dict]): The task's pipeline for this split (not
            modified).
        entry (dict): The dataset table entry.
        split (str): 'train', 'val' or 'test'.

    Returns:
        list[dict]: The pipeline, the policy's arguments written into its
        ResolveUncertainLabels steps.

    Raises:
        ValueError: If the entry sets a policy for the split and the
            pipeline has no ResolveUncertainLabels step to take it.
    """
    overrides = transform_overrides(entry, split)
    out = [dict(step) if _is_resolve_step(step) else step
           for step in pipeline]
    steps = [step for step in out if _is_resolve_step(step)]
    if overrides and not steps:
        keys = sorted(k for k in label_policy(entry)
                      if k in _SPLIT_KEYS['train' if split == 'train'
                                          else 'eval'])
        raise ValueError(
            f'Dataset {entry.get("name")!r}, field(s) '
            f'{["cls." + k for k in keys]}: the cls pipeline of the {split} '
            'split has no ResolveUncertainLabels step to apply them to.')
    for step in steps:
        step.update(overrides)
    return out


def split_raw_labels(dataset) -> np.ndarray:
    """(N, C) raw labels (1 / 0 / -1 / NaN) of a built classification split:
    a :class:`CXRClsDataset` or a :class:`DisjointSubset` of one."""
    inner = getattr(dataset, 'dataset', None)
    indices = getattr(dataset, 'indices', None)
    if inner is not None and indices is not None \
            and not hasattr(dataset, 'get_raw_labels'):
        return split_raw_labels(inner)[np.asarray(indices, dtype=np.int64)]
    return dataset.get_raw_labels()


def split_policy(dataset) -> Optional[ResolveUncertainLabels]:
    """The ResolveUncertainLabels step of a built dataset's pipeline (the
    last one, whose targets the model sees), or None."""
    transforms = getattr(getattr(dataset, 'pipeline', None), 'transforms', [])
    found = [t for t in transforms if isinstance(t, ResolveUncertainLabels)]
    return found[-1] if found else None


def count_split_labels(dataset) -> Dict[str, object]:
    """What a built classification split's label policy makes of its labels.

    Cheap: the labels come from the annotation CSV already loaded; no image
    is read and no LSR value drawn.

    Args:
        dataset: A built classification split (see :func:`split_raw_labels`).

    Returns:
        dict: ``images`` (int), ``policy`` (str, in words), ``lsr`` (bool:
        whether the policy draws soft targets) and the (C,) count arrays of
        :meth:`ResolveUncertainLabels.count_targets`. A pipeline without the
        step is counted as giving no target to uncertain and blank labels,
        as the metrics then do.
    """
    raw = split_raw_labels(dataset)
    resolve = split_policy(dataset)
    policy = 'no ResolveUncertainLabels step' if resolve is None \
        else resolve.describe()
    if resolve is None:
        resolve = ResolveUncertainLabels(uncertain='ignore')
    return dict(images=len(raw), policy=policy, lsr=resolve.is_lsr,
                **resolve.count_targets(raw))
