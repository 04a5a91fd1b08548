"""Count the folder listings a converter makes, for the walk-once tests."""
import collections
import os
import os.path as osp
import sys
from types import ModuleType
from typing import Counter


def count_listings(monkeypatch, module: ModuleType) -> Counter:
    """Folder (real path) -> how often code under ``module`` listed it.

    Listings are counted while a frame of ``module``'s file is on the stack,
    so that the source check of conftest.py (which walks ``--src`` before
    and after each conversion) is not counted. ``os.walk`` and ``glob`` list
    through ``os.scandir``; ``os.listdir`` is counted too.

    Args:
        monkeypatch: pytest's fixture (the patches end with the test).
        module (ModuleType): The converter module.

    Returns:
        collections.Counter: Filled in as the test runs.
    """
    counts: Counter = collections.Counter()
    source = module.__file__
    real_scandir, real_listdir = os.scandir, os.listdir

    def in_module() -> bool:
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code.co_filename == source:
                return True
            frame = frame.f_back
        return False

    def scandir(path='.'):
        if in_module():
            counts[osp.realpath(path)] += 1
        return real_scandir(path)

    def listdir(path='.'):
        if in_module():
            counts[osp.realpath(path)] += 1
        return real_listdir(path)

    monkeypatch.setattr(os, 'scandir', scandir)
    monkeypatch.setattr(os, 'listdir', listdir)
    return counts
