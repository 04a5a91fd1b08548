"""Is every dataset of a config prepared? One table before anything is built.

A first run of a Foundation X config usually has no data yet. Building the
runner would stop at the first missing file with a long traceback; instead
:func:`check_config_data` looks at every (dataset, task, split) the run will
read, from the config alone, and :func:`missing_data_table` says in one table
what is missing and the ``python -m data_prep`` command that makes it.
"""
import os
import os.path as osp
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Set, Tuple

from .dataset_table import TASKS, dataset_cfg, table_steps

# The model's branch (config key) of each task.
BRANCHES = dict(cls='classification', loc='localization', seg='segmentation')


@dataclass(frozen=True)
class MissingData:
    """The files one (dataset, task) lacks.

    Attributes:
        dataset (str): Name in the dataset table.
        task (str): 'cls', 'loc' or 'seg'.
        splits (tuple[str]): The splits with something missing, in
            train / val / test order.
        missing (tuple[str]): What is missing: the ``data_root`` folder when
            it is absent altogether, else the files and folders (paths as the
            dataset classes resolve them, relative to the working directory
            when ``data_root`` is).
        data_root (str): The dataset's prepared folder.
        converter (str, optional): The data_prep converter that writes it
            (the converter named like the folder), None when there is none.
    """
    dataset: str
    task: str
    splits: Tuple[str, ...]
    missing: Tuple[str, ...]
    data_root: str
    converter: Optional[str]

    def command(self) -> str:
        """The command that prepares the dataset (or where to read how)."""
        if self.converter is None:
            return ('no converter: write the prepared layout yourself '
                    '(data_prep/README.md)')
        return (f'python -m data_prep {self.converter} --src <official '
                f'download> --out {self.data_root}')


def _converters() -> Dict[str, str]:
    """data_prep's converters and what each reads; empty when data_prep is
    not importable (fx_mm installed without the repository)."""
    try:
        from data_prep import OFFICIAL_FILES
    except ImportError:
        return {}
    return dict(OFFICIAL_FILES)


def _model_heads(cfg) -> Dict[str, Optional[Set[str]]]:
    """The datasets each task's heads serve, from the model config alone
    (as FoundationX builds them); None where the config does not say."""
    model = cfg.get('model') or {}
    table = model.get('datasets')
    heads = {}
    for task, branch in BRANCHES.items():
        if branch in model and model[branch] is None:
            heads[task] = set()  # the variant drops the branch
        elif table is not None:
            heads[task] = {e['name'] for e in table if e.get(task) is not None}
        elif isinstance((model.get(branch) or {}).get('datasets'), dict):
            heads[task] = set(model[branch]['datasets'])
        else:
            heads[task] = None
    return heads


def _served(steps, heads) -> List[Tuple[str, str]]:
    return [(d, t) for d, t in steps if heads[t] is None or d in heads[t]]


def config_reads(cfg, splits: Sequence[str]) -> List[Tuple[str, str, str]]:
    """The (dataset, task, split)s a run of ``cfg`` reads, in table order.

    The train split: the cyclic loop's steps (``train_cfg.steps``, else every
    task of every dataset that the model has a head for). The val and test
    splits: what the evaluation loops evaluate (every task of every dataset
    the model has a head for).

    Args:
        cfg (Config): The run's config (with ``fx_datasets``).
        splits (Sequence[str]): Of 'train', 'val', 'test'.

    Returns:
        list[tuple[str, str, str]]: Dataset, task, split.
    """
    heads = _model_heads(cfg)
    reads = []
    for split in splits:
        loop = cfg.get('train_cfg' if split == 'train' else
                       f'{split}_cfg') or {}
        datasets = loop.get('datasets') or cfg.get('fx_datasets') or []
        steps = loop.get('steps') if split == 'train' else None
        steps = [tuple(s) for s in steps] if steps else _served(
            table_steps(datasets, TASKS), heads)
        reads += [(d, t, split) for d, t in steps]
    return reads


def _needed_paths(ds_cfg: dict) -> List[str]:
    """The annotation file and folders a dataset config reads (relative to
    the working directory, as the dataset classes join them)."""
    if ds_cfg.get('type') == 'DisjointSubset':
        ds_cfg = ds_cfg['dataset']
    root = ds_cfg.get('data_root', '')
    prefix = ds_cfg.get('data_prefix', '')
    folders = list(prefix.values()) if isinstance(prefix, dict) else [prefix]
    if ds_cfg.get('type', '').endswith('CXRSegDataset') and not prefix:
        folders = ['images', 'seg/masks']  # CXRSegDataset's default
    return [osp.join(root, ds_cfg['ann_file'])] + [
        osp.join(root, f.rstrip('/')) for f in folders if f]


def check_config_data(cfg, splits: Sequence[str]) -> List[MissingData]:
    """What the run of ``cfg`` would find missing, per (dataset, task).

    Only existence is checked (the annotation file, the image and mask
    folders); what is in them is the dataset classes' to check when they
    are built. An entry the dataset table cannot turn into a dataset config
    is left to the loops, whose errors name the field at fault.

    Args:
        cfg (Config): The run's config.
        splits (Sequence[str]): The splits the run reads.

    Returns:
        list[MissingData]: One per (dataset, task) with anything missing,
        in table order; empty when everything is there.
    """
    pipelines = cfg.get('fx_pipelines') or {}
    tables = {split: (cfg.get('train_cfg' if split == 'train' else
                              f'{split}_cfg') or {}).get('datasets')
              or cfg.get('fx_datasets') or [] for split in splits}
    reads = config_reads(cfg, splits)
    # Rows in table order, whichever split misses what.
    found: Dict[Tuple[str, str], dict] = {
        (d, t): None for d, t, _ in reads}
    for dataset, task, split in reads:
        entry = next((e for e in tables[split] if e.get('name') == dataset),
                     None)
        if entry is None or entry.get(task) is None:
            continue
        pipeline = pipelines.get(task, {}).get(
            'train' if split == 'train' else 'test', [])
        try:
            ds_cfg = dataset_cfg(entry, task, split, pipeline)
        except (ValueError, KeyError):
            continue
        inner = ds_cfg.get('dataset', ds_cfg)
        root = inner.get('data_root', '')
        if root and not osp.isdir(root):
            missing = [f'{root}/ (the whole folder)']
        else:
            missing = [p for p in _needed_paths(ds_cfg)
                       if not osp.exists(p)]
        if not missing:
            continue
        item = found[(dataset, task)] = found[(dataset, task)] or dict(
            splits=[], missing=[], data_root=root,
            converter=osp.basename(osp.normpath(root)) if root else None)
        item['splits'].append(split)
        item['missing'] += [m for m in missing if m not in item['missing']]
    found = {k: v for k, v in found.items() if v is not None}
    # Imported only now: data_prep loads every converter's modules.
    converters = _converters() if found else {}
    return [MissingData(dataset, task, tuple(v['splits']), tuple(v['missing']),
                        v['data_root'],
                        v['converter'] if v['converter'] in converters
                        else None)
            for (dataset, task), v in found.items()]


def missing_data_table(missing: Sequence[MissingData],
                       config: str = 'the config') -> str:
    """A plain-text table of what is missing and how to make it.

    Args:
        missing (Sequence[MissingData]): From :func:`check_config_data`.
        config (str): The config's name, for the heading.

    Returns:
        str: A heading, one row per (dataset, task) -- dataset, task, split,
        what is missing, the command that makes it -- and where to read more.
    """
    datasets = list(dict.fromkeys(m.dataset for m in missing))
    header = ('dataset', 'task', 'split', 'missing', 'make it with')
    rows = [(m.dataset, m.task, ', '.join(m.splits), '; '.join(m.missing),
             m.command()) for m in missing]
    widths = [max(len(r[i]) for r in rows + [header])
              for i in range(len(header) - 1)]

    def line(row):
        return '  '.join(c.ljust(w) for c, w in zip(row, widths)) \
            + '  ' + row[-1]

    converters = _converters()
    sources = [f'  {m.converter}: {converters[m.converter]}'
               for m in dict((m.converter, m) for m in missing
                             if m.converter).values()]
    return '\n'.join(
        [f'{config}: {len(datasets)} dataset(s) are not prepared '
         f'({", ".join(datasets)}). Nothing was built.', '',
         line(header), line(tuple('-' * len(h) for h in header))]
        + [line(r) for r in rows]
        + ['', '--src is the official download as delivered; what each '
           'converter reads:'] + sources
        + ['(python -m data_prep --list; data_prep/README.md has the '
           'sources and licences). Relative paths are from the working '
           f'directory ({osp.abspath(".")}).']) + '\n'


def exit_if_data_missing(cfg, splits: Sequence[str], config: str) -> None:
    """Print :func:`missing_data_table` to stderr and exit with status 2
    when anything ``cfg`` reads in ``splits`` is missing.

    Args:
        cfg (Config): The run's config.
        splits (Sequence[str]): The splits the run reads.
        config (str): The config's path, for the heading.

    Raises:
        SystemExit: With status 2 (a usage error, as argparse's), after the
            table is printed.
    """
    missing = check_config_data(cfg, splits)
    if missing:
        # Under a launcher every process checks; one prints.
        if os.environ.get('RANK', '0') == '0':
            print(missing_data_table(missing, config), file=sys.stderr,
                  end='')
        raise SystemExit(2)
