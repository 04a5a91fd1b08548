"""Train Foundation X (mmdet's tools/train.py conventions).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]]
                          [--amp [--amp-dtype float16|bfloat16]]
                          [--cfg-options K=V ...] [--launcher none|pytorch|slurm]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.runner import Runner  # noqa: E402

import fx_mm  # noqa: E402,F401  (registers components, safe checkpoint load)
from fx_mm.datasets.data_check import exit_if_data_missing  # noqa: E402
from fx_mm.utils.runtime import (add_runner_args,  # noqa: E402
                                 runtime_cfg_from_args)


def parse_args():
    parser = argparse.ArgumentParser(description='Train Foundation X')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp', action='store_true',
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--amp-dtype', choices=['float16', 'bfloat16'], default=None,
        help='autocast dtype with --amp: float16 (with dynamic loss scaling; '
        'the GPU default) or bfloat16 (no loss scaling; the only choice on '
        'the CPU, and the default there)')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the learning rates linearly by the total batch over '
        "the config's auto_scale_lr.base_batch_size (the paper's 24)")
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or, without one, from the '
        'latest checkpoint in the work dir')
    add_runner_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = runtime_cfg_from_args(args)
    # Every dataset the run reads, checked before anything is built: one
    # table of what is missing and how to make it, exit status 2.
    exit_if_data_missing(cfg, ('train', 'val') if cfg.get('val_cfg')
                         else ('train', ), args.config)
    if args.amp:
        amp_type = dict(FXOptimWrapper='FXAmpOptimWrapper',
                        OptimWrapper='AmpOptimWrapper')
        kind = cfg.optim_wrapper.get('type', 'OptimWrapper')
        cfg.optim_wrapper.type = amp_type.get(kind, kind)
        cfg.optim_wrapper.loss_scale = 'dynamic'
        if args.amp_dtype is not None:
            cfg.optim_wrapper.dtype = args.amp_dtype
    elif args.amp_dtype is not None:
        raise SystemExit('--amp-dtype needs --amp')
    if args.auto_scale_lr:
        if not cfg.get('auto_scale_lr', {}).get('base_batch_size'):
            raise SystemExit('--auto-scale-lr: the config has no '
                             'auto_scale_lr.base_batch_size')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
