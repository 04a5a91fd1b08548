"""Initialise Foundation X's backbone from an official / timm Swin checkpoint.

    python tools/convert_swin.py SRC OUT [--config configs/fx_cls.py]
        [--key teacher] [--layout official|timm]

Reads a Swin checkpoint in the official Swin or timm key layout (Ark-6 is
distributed that way; ``--key teacher`` picks Ark's teacher), converts it to
the key layout of the config's mmpretrain ``SwinTransformer`` (renames,
patch-merging order, relative-position tables resized to the config's window),
prints a report of every unmatched key, and writes OUT in the format of
``tools/export_backbone.py``: ``state_dict`` with ``backbone.*`` keys. Use it
in a config or on the command line::

    --cfg-options model.backbone.init_cfg.type=Pretrained \\
        model.backbone.init_cfg.checkpoint=OUT \\
        model.backbone.init_cfg.prefix=backbone.

SRC is read under torch's ``weights_only``: a file holding objects other
than tensors, plain data and an ``argparse.Namespace`` is refused (exit 2)
before any of it runs, with the way to keep only its weights.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config  # noqa: E402

import fx_mm  # noqa: E402,F401
from fx_mm.utils.backbone_checkpoint import save_backbone_checkpoint  # noqa: E402
from fx_mm.utils.checkpoint_safety import load_weights_only  # noqa: E402
from fx_mm.utils.swin_conversion import (convert_swin, target_template,  # noqa: E402
                                         unwrap_state_dict)


def convert_file(src: str, out: str, config: str, key: str = None,
                 layout: str = None):
    """Convert ``src`` for the backbone of ``config`` and write ``out``.

    Returns:
        SwinConversion: The weights and the key report.

    Raises:
        ValueError: If ``out`` is ``src`` (the source is never overwritten).
    """
    if osp.realpath(src) == osp.realpath(out):
        raise ValueError(f'{out} is the source checkpoint; choose another '
                         'output path (the source is never overwritten).')
    backbone_cfg = Config.fromfile(config).model.backbone.to_dict()
    _, template = target_template(backbone_cfg)
    checkpoint = load_weights_only(
        src, keep=(key, ) if key else ('state_dict', 'model', 'teacher'))
    state = unwrap_state_dict(checkpoint, key)
    result = convert_swin(state, template, layout)
    save_backbone_checkpoint(out, result.state_dict, backbone_cfg,
                             source=src, layout=result.layout,
                             unmatched=result.unmatched,
                             missing=result.missing, resized=result.resized)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official / timm Swin checkpoint')
    parser.add_argument('out', help='converted checkpoint to write')
    parser.add_argument('--config', default='configs/fx_cls.py',
                        help='config whose model.backbone the weights are for')
    parser.add_argument('--key', default=None,
                        help='checkpoint entry holding the weights (default: '
                        'state_dict, model or teacher, whichever exists)')
    parser.add_argument('--layout', choices=['official', 'timm'],
                        default=None, help='key layout (default: detected)')
    args = parser.parse_args(argv)
    try:
        result = convert_file(args.src, args.out, args.config, args.key,
                              args.layout)
    except ValueError as e:  # the source itself as OUT, or an unsafe file
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(result.report())
    print(f'wrote {args.out}; load it with --cfg-options '
          'model.backbone.init_cfg.type=Pretrained '
          f'model.backbone.init_cfg.checkpoint={args.out} '
          'model.backbone.init_cfg.prefix=backbone.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
