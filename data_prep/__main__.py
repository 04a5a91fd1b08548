"""python -m data_prep DATASET --src DIR --out DIR [--resize N] [--seed S]"""
import argparse
import sys

from . import CONVERTERS, OFFICIAL_FILES
from .layout import check_out_dir


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
    check_out_dir(args.src, args.out)
    kwargs = dict(resize=args.resize, seed=args.seed)
    if args.limit:
        kwargs['limit'] = args.limit
    CONVERTERS[args.dataset](args.src, args.out, **kwargs)
    return 0


if __name__ == '__main__':
    sys.exit(main())
