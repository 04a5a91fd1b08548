"""Every dataset config has a converter, and they agree on classes."""
import glob
import importlib
import os.path as osp

import pytest
from mmengine.config import Config

from data_prep import CONVERTERS
from tests.conftest import run_python, repo_path

CONFIGS = sorted(glob.glob(repo_path('configs', '_base_', 'datasets', '*.py')))
# data_root folder -> converter, where an entry is a converter's output for a
# part of its dataset (TBX11K's TB-positive images: loc only).
CONVERTER_OF_ROOT = {'tbx11k_tb': 'tbx11k'}


def converter_of(entry):
    root = osp.basename(entry['data_root'])
    return CONVERTER_OF_ROOT.get(root, root)


def entries(path):
    cfg = Config.fromfile(path)
    return [v for v in cfg.to_dict().values()
            if isinstance(v, dict) and 'data_root' in v]


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_classes_are_the_converters(path):
    for entry in entries(path):
        converter = converter_of(entry)
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
    converters = {converter_of(e) for p in CONFIGS for e in entries(p)}
    # The paper's 15 datasets, the real sample and Kermany's pneumonia set.
    assert len(converters) == 17
    assert converters == listed == set(CONVERTERS)
