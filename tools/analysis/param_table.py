"""Parameter count of each Foundation X component (rows of paper Table 9).

Usage:
    python tools/analysis/param_table.py CONFIG [--cfg-options K=V ...]
        [--strict]

Builds the model from the config alone (no data, no weights) and prints one
row per component, then ``total N`` (the student; the EMA teacher is a copy
and is not counted).

A config may define ``param_table`` -- its own rows and the paper's figure
for each (configs/reference/fx_cls_reference.py does, for paper Table 9)::

    param_table = dict(
        title='Table 9',
        rows=[
            dict(name='backbone', prefixes=['backbone.'], paper=86_751_673),
            dict(name='localization decoder {dataset}', task='loc',
                 prefixes=['loc.per_dataset.{dataset}.decoder.'],
                 paper=9_608_978),
            ...])

Each student parameter is counted in the first row one of whose ``prefixes``
starts its name; a row with ``task`` is repeated for every dataset of that
task (``{dataset}`` in its name and prefixes). The table then has a column
with the paper's figures, and every row whose count differs from its figure
is flagged (with the row's ``note``, if any); ``paper=None`` marks parts the
paper does not list. Parameters no row claims are an error. ``--strict``
exits with status 1 when a row differs.
"""
import argparse
import os.path as osp
import sys
from typing import List, NamedTuple, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config, DictAction  # noqa: E402

from fx_mm.utils import build_model_from_cfg, component_param_counts  # noqa: E402


class Row(NamedTuple):
    """One row of a config-defined table."""
    name: str
    prefixes: tuple
    paper: Optional[int]
    note: str
    count: int = 0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, xxx=yyy format')
    parser.add_argument(
        '--strict', action='store_true',
        help="exit with status 1 if a row differs from the config's "
        'param_table figures')
    return parser.parse_args()


def student_parameters(model):
    """(name, tensor) of every student parameter, each shared tensor once."""
    for part_name, part in model.student_parts().items():
        yield from part.named_parameters(prefix=part_name)


def table_rows(model, spec: dict, config: str = '?') -> List[Row]:
    """Count the model's parameters into the rows of a ``param_table``.

    Args:
        model (FoundationX): The model.
        spec (dict): The config's ``param_table``.
        config (str): Config path, for error messages.

    Returns:
        list[Row]: The rows, with their counts.

    Raises:
        ValueError: If a parameter matches no row, or a row names a task the
            model has no datasets for.
    """
    rows = []
    for entry in spec['rows']:
        datasets = [None]
        if entry.get('task'):
            datasets = model.datasets.get(entry['task'])
            if not datasets:
                raise ValueError(
                    f'{config}: param_table row {entry["name"]!r} repeats '
                    f'over task {entry["task"]!r}, but the model has no '
                    'dataset of that task.')
        for dataset in datasets:
            fill = (lambda s: s.format(dataset=dataset)) if dataset else str
            rows.append(Row(fill(entry['name']),
                            tuple(fill(p) for p in entry['prefixes']),
                            entry.get('paper'), entry.get('note', '')))
    counts = [0] * len(rows)
    unclaimed = []
    for name, param in student_parameters(model):
        for i, row in enumerate(rows):
            if any(name.startswith(p) for p in row.prefixes):
                counts[i] += param.numel()
                break
        else:
            unclaimed.append(name)
    if unclaimed:
        raise ValueError(
            f'{config}: param_table has no row for {len(unclaimed)} '
            f'parameters, e.g. {unclaimed[:5]}; add their prefixes to a row.')
    return [row._replace(count=n) for row, n in zip(rows, counts)]


def print_table(rows: List[Row], title: str) -> int:
    """Print rows beside the paper's figures; return how many differ."""
    width = max(len(r.name) for r in rows)
    print(f'{"component":<{width}}  {"parameters":>12}  {title:>12}')
    differ = 0
    for r in rows:
        if r.paper is None:
            paper, flag = '-', f'not in {title}'
        else:
            paper = f'{r.paper:,}'
            flag = 'equal' if r.count == r.paper else \
                f'DIFFERS by {r.count - r.paper:+,}'
            differ += r.count != r.paper
        print(f'{r.name:<{width}}  {r.count:>12,}  {paper:>12}  {flag}')
        if r.note and r.paper is not None and r.count != r.paper:
            print(f'{"":<{width}}  note: {r.note}')
    compared = sum(r.paper is not None for r in rows)
    print(f'{title}: {compared - differ} of {compared} rows equal'
          + (f', {differ} DIFFER' if differ else ''))
    print(f'total {sum(r.count for r in rows)}')
    return differ


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_model_from_cfg(cfg)
    spec = cfg.get('param_table')
    if spec:
        differ = print_table(table_rows(model, spec, args.config),
                             spec.get('title', 'paper'))
        if args.strict and differ:
            sys.exit(1)
        return
    rows = component_param_counts(model)
    width = max(len(name) for name, _ in rows)
    print(f'{"component":<{width}}  {"parameters":>12}')
    for name, count in rows:
        print(f'{name:<{width}}  {count:>12,}')
    print(f'total {sum(count for _, count in rows)}')


if __name__ == '__main__':
    main()
