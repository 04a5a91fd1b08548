"""Every converter test checks that the conversion left its source as it was.

:func:`data_prep.registry.run_converter` is the one call through which every
registered converter runs (the functions the tests import are the registry's
wrappers), so wrapping it here covers each converter test without a line in
each test.
"""
import hashlib
import os

import pytest

import data_prep.registry


def tree_digest(root: str) -> dict:
    """Relative path -> sha1 of the content (folders map to 'dir').

    Modification times are left out: copying a file reads it, and only a
    write may change the source.
    """
    digest = {}
    for folder, dirs, files in os.walk(root):
        for d in dirs:
            digest[os.path.relpath(os.path.join(folder, d), root)] = 'dir'
        for name in files:
            path = os.path.join(folder, name)
            with open(path, 'rb') as f:
                digest[os.path.relpath(path, root)] = hashlib.sha1(
                    f.read()).hexdigest()
    return digest


@pytest.fixture(autouse=True)
def source_tree_unchanged(monkeypatch):
    """Fail a test whose converter changed, added or removed anything under
    its ``src`` (also when the conversion itself raised)."""
    original = data_prep.registry.run_converter
    checked = []

    def checked_run(fn, src, out, *args, **kwargs):
        before = tree_digest(src)
        try:
            return original(fn, src, out, *args, **kwargs)
        finally:
            after = tree_digest(src)
            changed = sorted(k for k in set(before) | set(after)
                             if before.get(k) != after.get(k))
            checked.append(src)
            assert not changed, (f'{fn.__module__} changed its source {src}: '
                                 f'{changed[:10]}')

    monkeypatch.setattr(data_prep.registry, 'run_converter', checked_run)
    yield checked
