"""Metrics of a multi-task evaluation as a JSON file, a Table-4 table and
a per-class table."""
import json
import math
import os.path as osp
from typing import Dict

# (task, metric) in the paper's Table 4 columns.
COLUMNS = (('cls', 'AUC'), ('loc', 'mAP40'), ('seg', 'Dice'))
# Per task: the metric whose per-class values (``<metric>/<class>``) the
# per-class table lists, and its name there (mAP40/<class> is one class's
# AP at IoU 0.40, not a mean).
PER_CLASS = dict(cls=('AUC', 'AUC'), loc=('mAP40', 'AP40'),
                 seg=('Dice', 'Dice'))


def _percent(value) -> str:
    """A table cell: percent with two decimals; NaN is 'undefined'."""
    if isinstance(value, float) and math.isnan(value):
        return 'undefined'
    return f'{100 * value:.2f}'


def metrics_table(metrics: Dict[str, float]) -> str:
    """A Markdown table: one row per dataset, AUC / mAP40 / Dice columns.

    Args:
        metrics (dict): ``<dataset>/<task>/<metric>`` -> value, as the
            MultiTask loops report them.
    """
    rows = {}
    for key, value in metrics.items():
        parts = key.split('/')
        if len(parts) == 3:
            dataset, task, name = parts
            rows.setdefault(dataset, {})[(task, name)] = value
    header = '| dataset | AUC (%) | mAP40 (%) | Dice (%) |'
    lines = [header, '|---|---:|---:|---:|']
    for dataset, values in rows.items():
        cells = []
        for column in COLUMNS:
            v = values.get(column)
            cells.append('-' if v is None else _percent(v))
        lines.append(f'| {dataset} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def per_class_table(metrics: Dict[str, float]) -> str:
    """A Markdown table of the per-class values beside the Table-4 means.

    One row per dataset, task and class: AUC (cls), AP at IoU 0.40 (loc)
    and Dice (seg) of that class; 'undefined' where the metric is (e.g. AUC
    of a class with a single label value, AP of a class without boxes).
    Datasets in the order of ``metrics``, tasks cls / loc / seg.

    Args:
        metrics (dict): ``<dataset>/<task>/<metric>/<class>`` -> value, as
            the MultiTask loops report them (class names may hold '/').
    """
    rows = {}
    for key, value in metrics.items():
        parts = key.split('/', 3)
        if len(parts) != 4 or parts[1] not in PER_CLASS:
            continue
        dataset, task, name, cls_name = parts
        metric, label = PER_CLASS[task]
        if name == metric:
            rows.setdefault(dataset, {}).setdefault(task, []).append(
                (label, cls_name, value))
    lines = ['| dataset | metric | class | value (%) |', '|---|---|---|---:|']
    for dataset, tasks in rows.items():
        for task in PER_CLASS:
            for label, cls_name, value in tasks.get(task, []):
                lines.append(f'| {dataset} | {label} | {cls_name} | '
                             f'{_percent(value)} |')
    return '\n'.join(lines) + '\n'


def write_report(metrics: Dict[str, float], out_dir: str,
                 name: str = 'test') -> Dict[str, str]:
    """Write ``<name>_metrics.json``, ``<name>_table.md`` (Table 4) and
    ``<name>_table_per_class.md`` into ``out_dir``.

    Returns:
        dict: The paths written, by kind (``json``, ``table``,
        ``per_class``).
    """
    json_path = osp.join(out_dir, f'{name}_metrics.json')
    table_path = osp.join(out_dir, f'{name}_table.md')
    per_class_path = osp.join(out_dir, f'{name}_table_per_class.md')
    with open(json_path, 'w') as f:
        json.dump({k: (None if isinstance(v, float) and math.isnan(v) else v)
                   for k, v in metrics.items()}, f, indent=2, sort_keys=True)
    with open(table_path, 'w') as f:
        f.write(metrics_table(metrics))
    with open(per_class_path, 'w') as f:
        f.write(per_class_table(metrics))
    return dict(json=json_path, table=table_path, per_class=per_class_path)
