"""Every dataset config has a converter, and they agree on classes."""
import glob
import importlib
import os.path as osp

import pytest
from mmengine.config import Config

from data_prep import CONVERTERS
from tests.conftest import run_python, repo_path

CONFIGS = sorted(glob.glob(repo_path('configs', '_base_', 'datasets', '*.py')))


def entries(path):
    cfg = Config.fromfile(path)
    return [v for v in cfg.to_dict().values()
            if isinstance(v, dict) and 'data_root' in v]


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_classes_are_the_converters(path):
    for entry in entries(path):
        converter = osp.basename(entry['data_root'])
        assert converter in CONVERTERS, (
            f'{path}: data_root {entry["data_root"]} has no converter')
        classes = importlib.import_module(
            f'data_prep.converters.{converter}').CLASSES
        for task in ('cls', 'loc', 'seg'):
            if task not in entry:
                continue
            expected = classes[task] if isinstance(classes, dict) else classes
            assert entry[task]['classes'] == expected, (path, task)


def test_every_paper_dataset_is_listed():
    proc = run_python(['-m', 'data_prep', '--list'])
    # One line per converter; its options (if any) on an indented line.
    listed = {line.split()[0] for line in proc.stdout.splitlines()
              if not line.startswith(' ')}
    roots = {osp.basename(e['data_root']) for p in CONFIGS for e in entries(p)}
    assert len(roots) == 16  # the paper's 15 datasets and the real sample
    assert roots == listed == set(CONVERTERS)
