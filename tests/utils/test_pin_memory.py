"""Where CUDA is used, every pass's dataloader pins its batches (issue 16
item 13): the cyclic loop builds one loader per pass and the evaluation
loops one per (dataset, task), all from the runner's ``*_dataloader``
settings, which the entry points fill in.

No GPU here: ``torch.cuda.is_available`` reports True while the entry
points' settings are applied; the runner and loaders are then built on the
CPU (nothing is iterated, so nothing is pinned).
"""
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import fx_mm  # noqa: F401
from fx_mm.utils.runtime import setup_runtime_cfg
from tests.conftest import tiny_train_config


def built_loaders(cfg, tmp_path):
    """The first training pass's loader and the first validation and test
    loaders that the runner's loops build."""
    # mmengine keeps one visualizer per name for the process: a name of its
    # own keeps it out of an earlier test's (removed) folder
    cfg.visualizer.name = f'visualizer_{tmp_path.name}'
    runner = Runner.from_cfg(cfg)
    return dict(train=runner.train_loop.dataloader,
                val=runner.val_loop.dataloader,
                test=runner.test_loop.dataloader)


@pytest.mark.parametrize('cuda', [True, False], ids=['cuda', 'cpu'])
def test_loaders_pin_memory_where_cuda_is_used(covid_lungs, tmp_path,
                                               monkeypatch, cuda):
    config = tiny_train_config(str(tmp_path / 'cfg.py'), covid_lungs)
    cfg = Config.fromfile(config)
    with monkeypatch.context() as patch:
        patch.setattr(torch.cuda, 'is_available', lambda: cuda)
        setup_runtime_cfg(cfg, config, str(tmp_path / 'work'))
    for name, loader in built_loaders(cfg, tmp_path).items():
        assert loader.pin_memory is cuda, name


def test_the_config_decides_when_it_says(covid_lungs, tmp_path, monkeypatch):
    config = tiny_train_config(str(tmp_path / 'cfg.py'), covid_lungs)
    cfg = Config.fromfile(config)
    cfg.train_dataloader.pin_memory = False
    with monkeypatch.context() as patch:
        patch.setattr(torch.cuda, 'is_available', lambda: True)
        setup_runtime_cfg(cfg, config, str(tmp_path / 'work'))
    loaders = built_loaders(cfg, tmp_path)
    assert loaders['train'].pin_memory is False
    assert loaders['val'].pin_memory is True
