"""The converters, by dataset name."""
import functools
from typing import Callable, Dict

from .layout import ALLOW_PARTIAL, check_out_dir

CONVERTERS: Dict[str, Callable] = {}
OFFICIAL_FILES: Dict[str, str] = {}


def register(name: str, official_files: str):
    """Register ``convert(src, out, resize, seed, **kw)`` under ``name``.

    The registered (and returned) function checks ``--src`` against ``--out``
    before anything is written, so the check holds for every caller, not
    only the command line, and takes ``allow_partial`` (bool, default False:
    a conversion with most listed images missing fails).

    Args:
        name (str): The command-line name (``python -m data_prep NAME``).
        official_files (str): What the converter reads, for ``--list``.
    """

    def wrap(fn):
        if name in CONVERTERS:
            raise KeyError(f'converter {name!r} registered twice')

        @functools.wraps(fn)
        def convert(src: str, out: str, *args, allow_partial: bool = False,
                    **kwargs):
            check_out_dir(src, out)
            token = ALLOW_PARTIAL.set(allow_partial)
            try:
                return run_converter(fn, src, out, *args, **kwargs)
            finally:
                ALLOW_PARTIAL.reset(token)

        CONVERTERS[name] = convert
        OFFICIAL_FILES[name] = official_files
        return convert

    return wrap


def run_converter(fn: Callable, src: str, out: str, *args, **kwargs):
    """Call one converter (a seam: the tests wrap it to check that ``src`` is
    byte-for-byte unchanged by every conversion)."""
    return fn(src, out, *args, **kwargs)
