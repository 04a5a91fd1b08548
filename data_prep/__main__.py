"""python -m data_prep DATASET --src DIR --out DIR [--resize N] [--seed S]"""
import argparse
import sys

from . import CONVERTERS, OFFICIAL_FILES
from .layout import ConversionError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog='python -m data_prep',
        description='Convert an official chest X-ray download to the prepared '
        'layout of fx_mm.')
    parser.add_argument('dataset', nargs='?', help='converter name (--list)')
    parser.add_argument('--src', help='the official download, as delivered')
    parser.add_argument('--out', help='output folder (never inside --src)')
    parser.add_argument('--resize', type=int, default=None,
                        help='decode and resize images to this longest side')
    parser.add_argument('--seed', type=int, default=0, help='split seed')
    parser.add_argument('--limit', type=int, default=None,
                        help='convert only the first N items (for trials)')
    parser.add_argument('--allow-partial', action='store_true',
                        help='convert a partial download: without it, more '
                        'than half of the listed images missing is an error')
    parser.add_argument('--list', action='store_true',
                        help='list converters and the files they read')
    args = parser.parse_args(argv)
    if args.list or not args.dataset:
        for name in sorted(CONVERTERS):
            print(f'{name:16s} {OFFICIAL_FILES[name]}')
        return 0
    if args.dataset not in CONVERTERS:
        parser.error(f'unknown dataset {args.dataset!r}; known: '
                     f'{sorted(CONVERTERS)}')
    if not (args.src and args.out):
        parser.error('--src and --out are required')
    kwargs = dict(resize=args.resize, seed=args.seed,
                  allow_partial=args.allow_partial)
    if args.limit:
        kwargs['limit'] = args.limit
    try:
        CONVERTERS[args.dataset](args.src, args.out, **kwargs)
    except (ConversionError, ValueError, FileNotFoundError) as e:
        # One clear line naming the file / dataset / field, not a traceback.
        print(f'python -m data_prep {args.dataset}: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
