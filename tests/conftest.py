"""Shared helpers for the fx_mm tests."""
import os
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHARED_DATA = osp.abspath(
    os.environ.get('FX_SHARED_DATA', osp.join(REPO, '..', 'shared', 'data')))


def repo_path(*parts: str) -> str:
    """Absolute path of a file in the repository."""
    return osp.join(REPO, *parts)


def shared_data(*parts: str) -> str:
    """Path under ../shared/data; skips the test when it is absent."""
    path = osp.join(SHARED_DATA, *parts)
    if not osp.exists(path):
        pytest.skip(f'shared data not present: {path} (set FX_SHARED_DATA to '
                    'the folder holding cxr_covid_lungs and official_formats)')
    return path
