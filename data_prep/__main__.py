"""python -m data_prep DATASET --src DIR --out DIR [--resize N] [--seed S]
[--allow-partial] [--options KEY=VALUE ...]"""
import argparse
import ast
import inspect
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
    parser.add_argument('--options', nargs='+', default=[], metavar='KEY=VALUE',
                        help="a converter's own options, e.g. node21 "
                        'subset=original, vindr_cxr eval_boxes=raw (see '
                        '--list and the converter\'s docstring)')
    parser.add_argument('--list', action='store_true',
                        help='list converters, the files they read and their '
                        'own options')
    args = parser.parse_args(argv)
    if args.list or not args.dataset:
        for name in sorted(CONVERTERS):
            print(f'{name:16s} {OFFICIAL_FILES[name]}')
            own = converter_options(CONVERTERS[name])
            if own:
                print(' ' * 17 + 'options: ' + ', '.join(
                    f'{k}={v!r}' for k, v in own.items()))
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
    own = converter_options(CONVERTERS[args.dataset])
    for option in args.options:
        key, sep, value = option.partition('=')
        if not sep or key not in own:
            parser.error(f'--options {option}: {args.dataset} takes '
                         + (', '.join(f'{k}=...' for k in own) or
                            'no options of its own'))
        try:  # numbers, booleans and None as Python literals, else a string
            kwargs[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            kwargs[key] = value
    try:
        CONVERTERS[args.dataset](args.src, args.out, **kwargs)
    except (ConversionError, ValueError, FileNotFoundError) as e:
        # One clear line naming the file / dataset / field, not a traceback.
        print(f'python -m data_prep {args.dataset}: {e}', file=sys.stderr)
        return 1
    return 0


COMMON = ('src', 'out', 'resize', 'seed', 'limit', 'allow_partial')


def converter_options(convert) -> dict:
    """A converter's own keyword options and their defaults (beyond the
    common --src / --out / --resize / --seed / --limit)."""
    params = inspect.signature(inspect.unwrap(convert)).parameters
    return {k: p.default for k, p in params.items()
            if k not in COMMON and p.default is not inspect.Parameter.empty}


if __name__ == '__main__':
    sys.exit(main())
