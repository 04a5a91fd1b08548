"""Cross-task curves of a Foundation X run (paper Fig. 2).

    python tools/analysis/plot_curves.py WORK_DIR [--out-dir DIR]

Needs a run validated more than once a cycle (``train_cfg.val_by='step'`` or
``'pass'``). For
each dataset, one PNG: x = pass (mmengine epoch), y = each task's metric
(AUC for cls, mAP40 for loc, Dice for seg), one colour per task; points after
a pass that trained that task on that dataset (focused) are dark, the others
(unfocused) light; a dashed line marks the best focused value; a dotted
line follows the student, which validation evaluates beside the EMA teacher.
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

TASK_METRIC = dict(cls='AUC', loc='mAP40', seg='Dice')
TASK_COLOUR = dict(cls='#0072B2', loc='#D55E00', seg='#009E73')
TASK_NAME = dict(cls='classification (AUC)', loc='localization (mAP40)',
                 seg='segmentation (Dice)')


def read_run(work_dir: str):
    """The schedule and the validation scalars of the latest run in a dir."""
    schedule_path = osp.join(work_dir, 'schedule.json')
    if not osp.isfile(schedule_path):
        raise FileNotFoundError(f'{schedule_path}: not a CyclicTrainLoop work '
                                'dir (no schedule.json).')
    with open(schedule_path) as f:
        schedule = json.load(f)
    scalars = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                        'scalars.json')))
    if not scalars:
        raise FileNotFoundError(f'{work_dir}: no */vis_data/scalars.json '
                                '(LocalVisBackend) found.')
    records = []
    with open(scalars[-1]) as f:
        for line in f:
            records.append(json.loads(line))
    return schedule, records


def curves(schedule, records, prefix=''):
    """{dataset: {task: [(pass index, value, focused)]}} of val metrics
    (the teacher's; ``prefix='student/'`` for the student's)."""
    out = {}
    for rec in records:
        step = rec.get('step')
        for key, value in rec.items():
            if not key.startswith(prefix):
                continue
            parts = key[len(prefix):].split('/')
            if len(parts) != 3 or TASK_METRIC.get(parts[1]) != parts[2]:
                continue
            dataset, task, _ = parts
            # Validation after pass p is logged with step p + 1.
            p = schedule[step - 1] if 0 < step <= len(schedule) else None
            focused = p is not None and p['dataset'] == dataset \
                and p['task'] == task
            out.setdefault(dataset, {}).setdefault(task, []).append(
                (step, value, focused))
    return out


def plot(work_dir: str, out_dir: str) -> list:
    schedule, records = read_run(work_dir)
    data = curves(schedule, records)
    student = curves(schedule, records, prefix='student/')
    if not data:
        raise ValueError(f'{work_dir}: no validation metrics in the scalars; '
                         "validate by step or pass (train_cfg.val_by='step').")
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for dataset, tasks in data.items():
        fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
        for task, points in tasks.items():
            colour = TASK_COLOUR[task]
            xs, ys, focused = zip(*points)
            ax.plot(xs, ys, color=colour, alpha=0.35, lw=1)
            ax.scatter([x for x, f in zip(xs, focused) if not f],
                       [y for y, f in zip(ys, focused) if not f],
                       color=colour, alpha=0.3, s=14)
            fx = [(x, y) for x, y, f in points if f]
            if fx:
                ax.scatter(*zip(*fx), color=colour, s=22,
                           label=f'{TASK_NAME[task]}, focused')
                ax.axhline(max(y for _, y in fx), color=colour, ls='--',
                           lw=1)
            # The student, evaluated on the same images (dotted).
            st = student.get(dataset, {}).get(task)
            if st:
                ax.plot([x for x, _, _ in st], [y for _, y, _ in st],
                        color=colour, ls=':', lw=1.2,
                        label=f'{TASK_NAME[task]}, student')
        ax.set_xlabel('pass (epoch)')
        ax.set_ylabel('metric')
        ax.set_ylim(0, 1.02)
        ax.set_title(f'{dataset}: focused (dark) vs unfocused (light) passes')
        ax.legend(loc='lower right', fontsize=7)
        fig.tight_layout()
        path = osp.join(out_dir, f'curves_{dataset}.png')
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir')
    parser.add_argument('--out-dir', help='default: WORK_DIR/curves')
    args = parser.parse_args()
    for path in plot(args.work_dir, args.out_dir or osp.join(
            args.work_dir, 'curves')):
        print(path)


if __name__ == '__main__':
    sys.exit(main())
