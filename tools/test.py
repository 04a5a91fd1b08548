"""Evaluate a Foundation X checkpoint on every task of every dataset.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--split test|val]
                         [--predict-with teacher|student] [--out FILE]
                         [--cfg-options K=V ...] [--launcher none|pytorch|slurm]

The EMA teacher predicts when the checkpoint holds one, else the student (a
run trained with ``model.teacher=False``; said in the output);
``--predict-with`` chooses.

Writes ``test_metrics.json`` (every metric, ``<dataset>/<task>/<metric>``),
``test_table.md`` (paper Table 4 layout: dataset rows; AUC, mAP40, Dice) and
``test_table_per_class.md`` (AUC, AP40 and Dice of every class of every
dataset) into the work dir and prints the Table-4 one, and every image's
predictions and truth to ``<split>_predictions.json`` (``--out`` elsewhere;
JSON, read by ``tools/analysis/report.py`` for each head's worst cases).

Every dataset the config evaluates is checked first: when any is not
prepared, one table says what is missing and the ``python -m data_prep``
command that makes it, and the exit status is 2.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.dist import get_rank  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import fx_mm  # noqa: E402,F401
from fx_mm.datasets.data_check import exit_if_data_missing  # noqa: E402
from fx_mm.engine.hooks import PerImageResultsHook  # noqa: E402
from fx_mm.evaluation import metrics_table, write_report  # noqa: E402
from fx_mm.utils.checkpoint_parts import (checkpoint_state,  # noqa: E402
                                          holds_teacher, predictor_for)
from fx_mm.utils.runtime import (add_runner_args,  # noqa: E402
                                 runtime_cfg_from_args)


def parse_args():
    parser = argparse.ArgumentParser(description='Test Foundation X')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where metrics and logs go')
    parser.add_argument('--split', choices=['test', 'val'], default='test',
                        help='which split of every dataset to evaluate')
    parser.add_argument(
        '--predict-with', choices=['teacher', 'student'],
        help='which model predicts (default: the teacher when the '
        'checkpoint holds one, else the student)')
    parser.add_argument(
        '--out', help="every image's predictions and truth, as JSON "
        '(default: WORK_DIR/<split>_predictions.json)')
    add_runner_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = runtime_cfg_from_args(args)
    exit_if_data_missing(cfg, (args.split, ), args.config)
    cfg.load_from = args.checkpoint
    state = checkpoint_state(args.checkpoint)
    try:
        predictor = predictor_for(args.checkpoint, state, args.predict_with,
                                  cfg.model.get('predict_with', 'teacher'))
    except ValueError as e:
        raise SystemExit(str(e))
    if not holds_teacher(state) and cfg.model.get('teacher', True):
        print(f'{args.checkpoint} holds no teacher weights (trained with '
              'model.teacher=False): evaluating its student.')
        cfg.model.teacher = False
    cfg.model.predict_with = predictor
    del state
    if args.split == 'val':
        cfg.test_cfg = dict(cfg.get('test_cfg') or {}, type='MultiTaskValLoop')
    runner = Runner.from_cfg(cfg)
    per_image = PerImageResultsHook(args.out)
    runner.register_hook(per_image)
    metrics = runner.test()
    if get_rank() == 0:
        paths = write_report(metrics, cfg.work_dir, name=args.split)
        print(metrics_table(metrics))
        print(f'metrics:   {paths["json"]}\ntable:     {paths["table"]}\n'
              f'per class: {paths["per_class"]}\nper image: '
              f'{per_image.written}')


if __name__ == '__main__':
    main()
