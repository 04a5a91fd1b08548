"""Log the labels every classification head trains and is evaluated on."""
from typing import Dict, List, Sequence, Tuple

from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.registry import DATASETS, HOOKS
from prettytable import PrettyTable

from fx_mm.datasets.dataset_table import SPLITS, dataset_cfg, find_entry
from fx_mm.datasets.label_policy import count_split_labels
from ..loops.cyclic_train_loop import unwrap

# Columns of a split in the table, and the count each shows.
COLUMNS = (('pos', 'positive'), ('neg', 'negative'), ('soft', 'soft'),
           ('ign', 'ignored'))


@HOOKS.register_module()
class LabelCountsHook(Hook):
    """Log each classification head's label counts per split when training
    starts, and warn where a class has no positives or no negatives.

    A head that sees only positives learns to answer "positive" (CheXpert's
    No Finding with blanks ignored: 16,974 positives, no negative); a val or
    test split without one of the two leaves the class's AUC undefined. The
    counts are taken after each dataset's label policy (its
    ``ResolveUncertainLabels`` step, see :mod:`fx_mm.datasets.label_policy`):
    ``pos`` / ``neg`` labels with target 1 / 0, ``soft`` LSR-drawn targets,
    ``ign`` labels left out of the loss (train) or the metrics (val, test).
    Each dataset's header line gives its policy per split and the raw
    uncertain (-1) and blank cells.

    Cheap: the labels come from the annotation CSVs (the train splits the
    train loop has built, the val / test splits built as the evaluation
    loops build them); no image is read. Runs on rank 0 only.

    Args:
        splits (Sequence[str]): Splits to count, of those the run has: train
            always, val with a validation loop, test with a test config.
    """

    priority = 'VERY_LOW'

    def __init__(self, splits: Sequence[str] = SPLITS) -> None:
        bad = [s for s in splits if s not in SPLITS]
        if bad:
            raise ValueError(f'LabelCountsHook: splits {bad} are not among '
                             f'{SPLITS}.')
        self.splits = tuple(splits)

    def before_train(self, runner) -> None:
        """Log the table (and the warnings) once training starts."""
        if runner.rank != 0:
            return
        logger = MMLogger.get_current_instance()
        counts = self.collect(runner)
        if not counts:
            return
        logger.info(
            'Classification labels per dataset and split, after each '
            "dataset's label policy: pos / neg = target 1 / 0, soft = LSR-"
            'drawn target, ign = left out of the loss (train) or the metrics '
            '(val, test).')
        for dataset, per_split in counts.items():
            logger.info(self.format_dataset(dataset, per_split))
            for warning in self.warnings(dataset, per_split):
                logger.warning(warning)

    # ----------------------------------------------------------- counting
    def collect(self, runner) -> Dict[str, Dict[str, dict]]:
        """Counts of every classification dataset of the run, per split.

        Returns:
            dict: ``{dataset: {split: counts}}`` in table order, ``counts``
            as :func:`count_split_labels` gives them plus ``classes``; a
            split that cannot be read holds ``error`` (str) instead.
        """
        out: Dict[str, Dict[str, dict]] = {}
        for split, datasets in self._split_datasets(runner):
            for name, classes, build in datasets:
                try:
                    counts = count_split_labels(build())
                except (OSError, ValueError) as e:
                    # e.g. no test CSV yet: training can still run, and the
                    # evaluation loop reports it when it gets there.
                    counts = dict(error=f'{type(e).__name__}: {e}')
                counts['classes'] = classes
                out.setdefault(name, {})[split] = counts
        return out

    def _split_datasets(self, runner) -> List[Tuple[str, list]]:
        """Per split of the run: (name, classes, build) of its cls datasets.

        The train splits are those the train loop has built; val and test
        are built with the evaluation loops' dataset table, pipeline and
        seam (:func:`dataset_cfg`, the ``test`` pipeline), so that they are
        the splits the metrics will see.
        """
        sources = []
        loop = runner.train_loop
        if 'train' in self.splits and hasattr(loop, 'train_datasets'):
            sources.append(('train', [
                (name, list(find_entry(loop.datasets, name)['cls']['classes']),
                 lambda ds=ds: ds)
                for (name, task), ds in loop.train_datasets.items()
                if task == 'cls']))
        cfg = runner.cfg
        heads = set(unwrap(runner.model).datasets.get('cls', ()))
        val_loop = runner.val_loop
        evals = []
        if 'val' in self.splits and val_loop is not None:
            evals.append(('val', getattr(val_loop, 'datasets', None),
                          getattr(val_loop, 'pipelines', None),
                          getattr(val_loop, 'tasks', ('cls', ))))
        test_cfg = cfg.get('test_cfg')
        if 'test' in self.splits and test_cfg and cfg.get('test_dataloader'):
            evals.append(('test', test_cfg.get('datasets'),
                          test_cfg.get('pipelines'),
                          test_cfg.get('tasks') or ('cls', )))
        for split, table, pipelines, tasks in evals:
            table = table or cfg.get('fx_datasets') or []
            pipelines = pipelines or cfg.get('fx_pipelines') or {}
            if 'cls' not in tasks or 'cls' not in pipelines:
                continue
            sources.append((split, [
                (e['name'], list(e['cls']['classes']),
                 lambda e=e, split=split, pipelines=pipelines: DATASETS.build(
                     dataset_cfg(e, 'cls', split, pipelines['cls']['test'])))
                for e in table
                if e.get('cls') is not None and e['name'] in heads]))
        return sources

    # ----------------------------------------------------------- printing
    @staticmethod
    def format_dataset(dataset: str, per_split: Dict[str, dict]) -> str:
        """One dataset's header lines and count table.

        Args:
            dataset (str): Dataset name.
            per_split (dict): ``{split: counts}`` (see :meth:`collect`).

        Returns:
            str: The text to log.
        """
        lines = [f'{dataset}:']
        for split, c in per_split.items():
            if 'error' in c:
                lines.append(f'  {split}: not counted ({c["error"]})')
                continue
            lines.append(
                f'  {split}: {c["images"]} images; {c["policy"]}; raw cells: '
                f'{int(c["uncertain"].sum())} uncertain, '
                f'{int(c["blank"].sum())} blank')
        # A split whose policy draws no soft target has no soft column.
        columns = [(split, short, key) for split, c in per_split.items()
                   if 'error' not in c for short, key in COLUMNS
                   if key != 'soft' or c['lsr']]
        if columns:
            table = PrettyTable()
            table.field_names = ['class'] + [
                f'{split} {short}' for split, short, _ in columns]
            classes = next(c for c in per_split.values()
                           if 'error' not in c)['classes']
            for i, name in enumerate(classes):
                table.add_row([name] + [
                    int(per_split[split][key][i])
                    for split, _, key in columns])
            table.align = 'r'
            table.align['class'] = 'l'
            lines.append(table.get_string())
        return '\n'.join(lines)

    @staticmethod
    def warnings(dataset: str, per_split: Dict[str, dict]) -> List[str]:
        """Warning lines for classes without positives or negatives.

        Args:
            dataset (str): Dataset name.
            per_split (dict): ``{split: counts}`` (see :meth:`collect`).

        Returns:
            list[str]: One line per (split, missing kind of label), and one
            per split that could not be read.
        """
        out = []
        for split, c in per_split.items():
            if 'error' in c:
                out.append(f'{dataset} {split}: labels not counted '
                           f'({c["error"]}).')
                continue
            if split == 'train':
                effect = 'its head learns a single answer'
                fields = 'cls.missing / cls.uncertain'
            else:
                effect = 'its AUC is undefined'
                fields = 'cls.eval_missing / cls.eval_uncertain'
            for key, kind in (('negative', 'negatives'),
                              ('positive', 'positives')):
                names = [n for n, v in zip(c['classes'], c[key]) if v == 0]
                if names:
                    out.append(
                        f'{dataset} {split}: no {kind} after the label '
                        f'policy ({c["policy"]}) for {names}: {effect}. '
                        'The policy is set in the dataset table entry '
                        f'({fields}).')
        return out
