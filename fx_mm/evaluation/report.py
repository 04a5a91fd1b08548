"""Metrics of a multi-task evaluation as a JSON file and a Table-4 table."""
import json
import math
import os.path as osp
from typing import Dict

# (task, metric) in the paper's Table 4 columns.
COLUMNS = (('cls', 'AUC'), ('loc', 'mAP40'), ('seg', 'Dice'))


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
            cells.append('-' if v is None else
                         'undefined' if isinstance(v, float) and math.isnan(v)
                         else f'{100 * v:.2f}')
        lines.append(f'| {dataset} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def write_report(metrics: Dict[str, float], out_dir: str,
                 name: str = 'test') -> Dict[str, str]:
    """Write ``<name>_metrics.json`` and ``<name>_table.md`` into ``out_dir``.

    Returns:
        dict: The paths written, by kind.
    """
    json_path = osp.join(out_dir, f'{name}_metrics.json')
    table_path = osp.join(out_dir, f'{name}_table.md')
    with open(json_path, 'w') as f:
        json.dump({k: (None if isinstance(v, float) and math.isnan(v) else v)
                   for k, v in metrics.items()}, f, indent=2, sort_keys=True)
    with open(table_path, 'w') as f:
        f.write(metrics_table(metrics))
    return dict(json=json_path, table=table_path)
