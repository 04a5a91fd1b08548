"""The converters, by dataset name."""
from typing import Callable, Dict

CONVERTERS: Dict[str, Callable] = {}
OFFICIAL_FILES: Dict[str, str] = {}


def register(name: str, official_files: str):
    """Register ``convert(src, out, resize, seed, **kw)`` under ``name``.

    Args:
        name (str): The command-line name (``python -m data_prep NAME``).
        official_files (str): What the converter reads, for ``--list``.
    """

    def wrap(fn):
        if name in CONVERTERS:
            raise KeyError(f'converter {name!r} registered twice')
        CONVERTERS[name] = fn
        OFFICIAL_FILES[name] = official_files
        return fn

    return wrap
