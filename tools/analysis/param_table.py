"""Parameter count of each Foundation X component (rows of paper Table 9).

Usage:
    python tools/analysis/param_table.py CONFIG [--cfg-options K=V ...]

Builds the model from the config alone (no data, no weights) and prints one
row per component, then ``total N`` (the student; the EMA teacher is a copy
and is not counted).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config, DictAction  # noqa: E402

from fx_mm.utils import build_model_from_cfg, component_param_counts  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, xxx=yyy format')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_model_from_cfg(cfg)
    rows = component_param_counts(model)
    width = max(len(name) for name, _ in rows)
    print(f'{"component":<{width}}  {"parameters":>12}')
    for name, count in rows:
        print(f'{name:<{width}}  {count:>12,}')
    print(f'total {sum(count for _, count in rows)}')


if __name__ == '__main__':
    main()
