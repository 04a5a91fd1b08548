"""data_prep: converters from official chest X-ray downloads to the prepared
layout that fx_mm's dataset classes read (see data_prep/README.md)."""
from . import converters  # noqa: F401
from .registry import CONVERTERS, OFFICIAL_FILES

__all__ = ['CONVERTERS', 'OFFICIAL_FILES']
