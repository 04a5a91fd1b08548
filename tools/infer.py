"""Run a trained Foundation X on radiographs: JSON and overlay per image.

    python tools/infer.py CONFIG CHECKPOINT INPUT [INPUT ...] --out-dir DIR
                          [--score-thr 0.3] [--predict-with teacher|student]

INPUT: PNG, JPEG, DICOM or MHA files, or folders of them. For each image,
``DIR/<stem>.json`` holds every classification head's probabilities, every
localization head's boxes (original pixels, score, class) and each
segmentation head's mask areas; ``DIR/<stem>_overlay.png`` shows masks,
boxes and the top findings. An unreadable file is reported and skipped.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import cv2  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402

import fx_mm  # noqa: E402,F401
from fx_mm.apis import FXInferencer  # noqa: E402
from fx_mm.apis.inferencer import list_inputs  # noqa: E402
from fx_mm.visualization import draw_overlay  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('inputs', nargs='+', help='images or folders')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='boxes below this score are not drawn')
    parser.add_argument('--predict-with', choices=['teacher', 'student'])
    parser.add_argument(
        '--device', default=None,
        help="torch device, e.g. cuda:1 or cpu (default: cuda when torch "
        'sees a GPU, else cpu)')
    return parser.parse_args(argv)


def to_json(result: dict) -> dict:
    """The JSON-able part of a result (masks as areas and boxes)."""
    seg = {}
    for dataset, masks in result['seg'].items():
        seg[dataset] = {}
        for name, mask in masks.items():
            ys, xs = mask.nonzero()
            seg[dataset][name] = dict(
                area_px=int(mask.sum()),
                area_fraction=round(float(mask.mean()), 5),
                bbox=None if len(xs) == 0 else
                [int(xs.min()), int(ys.min()), int(xs.max()) + 1,
                 int(ys.max()) + 1])
    validation = result.get('validation') or {}
    return dict(image=result['path'], classification=result['cls'],
                localization=result['loc'], segmentation=seg,
                cautions=validation.get('cautions', []),
                validation=dict(pass_=validation.get('pass_'),
                                metrics=validation.get('metrics', {}),
                                at_chance=validation.get('at_chance', {})))


def main(argv=None) -> int:
    args = parse_args(argv)
    inferencer = FXInferencer(args.config, args.checkpoint,
                              predict_with=args.predict_with,
                              device=args.device)
    os.makedirs(args.out_dir, exist_ok=True)
    items = list_inputs(args.inputs)
    if not items:
        print(f'no images found in {args.inputs}', file=sys.stderr)
        return 1
    bar, failed, written = ProgressBar(len(items)), [], 0
    for item in items:
        result = inferencer(item)[0]
        bar.update()
        if 'error' in result:
            failed.append(result)
            continue
        stem = osp.splitext(osp.basename(result['path']))[0]
        with open(osp.join(args.out_dir, f'{stem}.json'), 'w') as f:
            json.dump(to_json(result), f, indent=2)
        cv2.imwrite(osp.join(args.out_dir, f'{stem}_overlay.png'),
                    draw_overlay(result['image'], result,
                                 score_thr=args.score_thr))
        written += 1
    print(f'\n{written} image(s) written to {args.out_dir}')
    for result in failed:
        print(f'skipped {result["path"]}: {result["error"]}', file=sys.stderr)
    return 0 if written else 1


if __name__ == '__main__':
    sys.exit(main())
