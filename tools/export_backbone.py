"""Export the Foundation X backbone for downstream work.

    python tools/export_backbone.py CONFIG CHECKPOINT OUT_PREFIX [--use teacher|student]

Writes
- ``OUT_PREFIX_mmpretrain.pth``: an mmpretrain checkpoint (``state_dict`` with
  ``backbone.*`` keys and a ``meta.backbone`` config) that an mmpretrain /
  mmdet / mmseg config loads with
  ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``;
- ``OUT_PREFIX_state_dict.pth``: the plain state dict of
  ``mmpretrain.models.SwinTransformer(**meta_backbone)``, for plain PyTorch.
The teacher (the model the paper evaluates and fine-tunes) is exported unless
``--use student``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.runner.checkpoint import _load_checkpoint  # noqa: E402

import fx_mm  # noqa: E402,F401
from fx_mm.utils.backbone_checkpoint import save_backbone_checkpoint  # noqa: E402


def export(config: str, checkpoint: str, out_prefix: str,
           use: str = 'teacher') -> dict:
    """Write both files; returns their paths."""
    cfg = Config.fromfile(config)
    state = _load_checkpoint(checkpoint, map_location='cpu')
    state = state.get('state_dict', state)
    prefix = 'teacher.backbone.' if use == 'teacher' else 'backbone.'
    backbone = {k[len(prefix):]: v for k, v in state.items()
                if k.startswith(prefix)}
    if not backbone:
        raise ValueError(f'{checkpoint}: no {prefix}* weights (use='
                         f'{use!r}).')
    paths = dict(mmpretrain=f'{out_prefix}_mmpretrain.pth',
                 state_dict=f'{out_prefix}_state_dict.pth')
    save_backbone_checkpoint(paths['mmpretrain'], backbone,
                             cfg.model.backbone.to_dict(), source=checkpoint,
                             weights=use)
    torch.save(backbone, paths['state_dict'])
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out_prefix')
    parser.add_argument('--use', choices=['teacher', 'student'],
                        default='teacher')
    args = parser.parse_args()
    for kind, path in export(args.config, args.checkpoint, args.out_prefix,
                             args.use).items():
        print(f'{kind}: {path}')


if __name__ == '__main__':
    main()
