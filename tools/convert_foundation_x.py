"""Convert a released Foundation X checkpoint (the authors' reference code)
for fx_mm.

    python tools/convert_foundation_x.py REF_CKPT OUT \\
        [--config configs/reference/fx_cls_reference.py]
        [--loc-class-offset {0,1} | NAME=0|1 ...] [--reverse]

Reads the reference checkpoint of jlianglab/Foundation_X (``model`` and, if
present, ``teacher_model``; a file with ``teacher_model`` only -- an
EMA-only release -- gives its teacher as both student and teacher, and
says so; a ``state_dict`` wrapper or a bare state dict; DDP's ``module.``
prefix), renames every key for the model of ``--config``
(a reference config: its ``foundation_x_reference`` table names the
dataset of every per-dataset module index), reorders the Swin patch-merging
weights and the localization class rows, checks every shape against the
model built from the config, and writes OUT as fx_mm's training writes its
checkpoints: ``state_dict`` (student, and ``teacher.*`` when the file has a
teacher) and ``meta`` (the source file and its sha256). OUT loads in
tools/test.py, tools/infer.py and LoadFoundationXHook.

It prints mapped / unmapped / missing keys and the entries it ignores
(optimizer state, epoch, ...). Any unmapped key of the network or missing
fx_mm key exits 1 without writing OUT; a file that is not a reference
checkpoint exits 2 without writing, naming what it looks like -- a
Foundation X+ checkpoint (the authors' later model, one DINO decoder shared
by the localization datasets) among them: fx_mm does not load it.

``--loc-class-offset``: a reference class layer trains row c for COCO
category_id c; fx_mm class k takes reference row k + offset. The offset is
per localization dataset: ``NAME=0|1`` pairs (e.g. ``TBX11K=1``;
``label_enc=`` for the denoising label embedding the six share) over the
defaults, or one number for all. The defaults follow the reference code:
1 for ChestX-Det and NODE21, whose category ids it shows to start at 1,
and for label_enc; 0 (rows kept) for the other four, of which it shows
nothing. The authors' annotation files are not public; the evidence, with
file paths, is in fx_mm/utils/foundation_x_conversion.py.

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
    convert_fx_file, convert_reference_file, parse_offset_option)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='reference checkpoint (with --reverse: '
                        'an fx_mm checkpoint)')
    parser.add_argument('out', help='checkpoint to write')
    parser.add_argument('--config',
                        default='configs/reference/fx_cls_reference.py',
                        help='reference config whose model the weights are '
                        'for')
    parser.add_argument('--loc-class-offset', nargs='+', metavar='OFFSET',
                        help='fx_mm localization class k <- reference row '
                        'k + offset: 0 or 1 for every dataset, or NAME=0|1 '
                        'pairs (NAME: a localization dataset or label_enc) '
                        'over the defaults (1 for ChestX-Det, NODE21 and '
                        'label_enc, 0 for the others)')
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
        offsets = parse_offset_option(args.loc_class_offset)
        result = convert(args.src, args.config, offsets)
    except ValueError as e:  # includes NotAReferenceCheckpoint
        print(f'error: {e}', file=sys.stderr)
        print(f'not written: {args.out}', file=sys.stderr)
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
