"""Checkpoints store the config's text: it is formatted (yapf) once per
content, not at every save -- and a changed config still gets its own
text."""
import argparse
import copy
import functools

import mmengine.config.config as mmengine_config
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from fx_mm.utils.cached_config_text import TextCachedConfig
from fx_mm.utils.runtime import runtime_cfg_from_args
from tests.conftest import repo_path


@pytest.fixture
def format_calls(monkeypatch):
    """Counts yapf formatting calls made by Config.pretty_text."""
    calls = []
    original = mmengine_config.FormatCode

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(mmengine_config, 'FormatCode', counting)
    return calls


def demo_config():
    return Config.fromfile(repo_path('configs', 'tiny', 'fx_demo.py'))


def test_text_is_configs_and_formatted_once(format_calls):
    plain = demo_config()
    expected = plain.pretty_text
    format_calls.clear()
    cached = TextCachedConfig.from_config(demo_config())
    assert cached.pretty_text == expected
    assert cached.pretty_text == expected
    assert len(format_calls) == 1


def test_changed_content_gets_its_own_text(format_calls):
    cfg = TextCachedConfig.from_config(demo_config())
    before = cfg.pretty_text
    cfg.train_cfg.max_cycles = 97
    after = cfg.pretty_text
    assert after != before and 'max_cycles=97' in after
    assert len(format_calls) == 2


def test_deepcopy_keeps_class_and_cache(format_calls):
    cfg = TextCachedConfig.from_config(demo_config())
    text = cfg.pretty_text
    other = copy.deepcopy(cfg)  # what Runner does with its config
    assert type(other) is TextCachedConfig
    assert other.pretty_text == text
    assert len(format_calls) == 1


def test_entry_points_config_is_cached(tmp_path):
    args = argparse.Namespace(
        config=repo_path('configs', 'tiny', 'fx_demo.py'), launcher='none',
        cfg_options=None, work_dir=str(tmp_path), local_rank=0)
    assert isinstance(runtime_cfg_from_args(args), TextCachedConfig)


def test_runner_saves_checkpoints_without_formatting_again(
        tmp_path, format_calls):
    cfg = TextCachedConfig.from_config(Config(dict(
        model=dict(type='mmengine.BaseModel'), work_dir=str(tmp_path),
        default_scope='mmengine', log_level='WARNING')))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 2)

    runner = Runner(
        model=Model(), work_dir=str(tmp_path), cfg=cfg,
        train_dataloader=DataLoader([torch.zeros(2)]),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)))
    save = functools.partial(runner.save_checkpoint, str(tmp_path),
                             save_optimizer=False, save_param_scheduler=False)
    save('a.pth')
    formatted = len(format_calls)
    save('b.pth')
    save('c.pth')
    assert formatted >= 1 and len(format_calls) == formatted
