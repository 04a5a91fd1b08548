"""Convert a released Foundation X checkpoint (the authors' reference code)
for fx_mm.

    python tools/convert_foundation_x.py REF_CKPT OUT \\
        [--config configs/reference/fx_cls_reference.py]
        [--loc-class-offset {0,1}] [--reverse]

Reads the reference checkpoint of jlianglab/Foundation_X (``model`` and, if
present, ``teacher_model``; a ``state_dict`` wrapper or a bare state dict;
DDP's ``module.`` prefix), renames every key for the model of ``--config``
(a reference config: its ``foundation_x_reference`` table names the
dataset of every per-dataset module index), reorders the Swin patch-merging
weights and the localization class rows, checks every shape against the
model built from the config, and writes OUT as fx_mm's training writes its
checkpoints: ``state_dict`` (student, and ``teacher.*`` when the file has a
teacher) and ``meta`` (the source file and its sha256). OUT loads in
tools/test.py, tools/infer.py and LoadFoundationXHook.

It prints mapped / unmapped / missing keys and the entries it ignores
(optimizer state, epoch, ...). Any unmapped key of the network or missing
fx_mm key exits non-zero without writing OUT; so does a file that is not a
reference checkpoint, naming what it looks like.

``--loc-class-offset``: a reference class layer trains row c for COCO
category_id c. The default 1 takes reference row k + 1 for fx_mm class k --
the reference repository's class-id tables number classes from 1, and its 14
rows are ChestX-Det's 13 classes + 1 (DETR's ``num_classes = max_id + 1``);
0 keeps the rows. The authors' annotation files are not public, so this is
the most likely reading, not a certainty (fx_mm/utils/
foundation_x_conversion.py).

``--reverse``: OUT is REF_CKPT (an fx_mm checkpoint of the config) in the
reference's layout, ``{'model', 'teacher_model'}``.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402

import fx_mm  # noqa: E402,F401
from fx_mm.utils.foundation_x_conversion import (  # noqa: E402
    DEFAULT_LOC_CLASS_OFFSET, convert_fx_file, convert_reference_file)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='reference checkpoint (with --reverse: '
                        'an fx_mm checkpoint)')
    parser.add_argument('out', help='checkpoint to write')
    parser.add_argument('--config',
                        default='configs/reference/fx_cls_reference.py',
                        help='reference config whose model the weights are '
                        'for')
    parser.add_argument('--loc-class-offset', type=int, choices=[0, 1],
                        default=DEFAULT_LOC_CLASS_OFFSET,
                        help='fx_mm localization class k <- reference row '
                        'k + offset (default: %(default)s)')
    parser.add_argument('--reverse', action='store_true',
                        help='fx_mm -> reference names')
    args = parser.parse_args(argv)
    if not osp.isfile(args.src):
        print(f'error: {args.src} does not exist.', file=sys.stderr)
        return 2
    if osp.exists(args.out) and osp.samefile(args.src, args.out):
        print(f'{args.out} is the source checkpoint; choose another output '
              'path (the source is never overwritten).', file=sys.stderr)
        return 2
    convert = convert_fx_file if args.reverse else convert_reference_file
    try:
        result = convert(args.src, args.config, args.loc_class_offset)
    except ValueError as e:  # includes NotAReferenceCheckpoint
        print(f'error: {e}', file=sys.stderr)
        return 2
    print('\n'.join(result.lines))
    if not result.ok:
        print(f'not written: {args.out} (unmapped or missing keys above)',
              file=sys.stderr)
        return 1
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    torch.save(result.checkpoint, args.out)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
