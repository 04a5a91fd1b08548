"""TF32 matmuls and cuDNN convolutions are on for runs set up by the entry
points, and ``env_cfg.allow_tf32=False`` turns them off (issue 16 item 11).

torch leaves ``torch.backends.cuda.matmul.allow_tf32`` False by default:
fp32 Swin-B matmuls on Ampere / Hopper GPUs would run at full fp32 speed.
The switches are global, so the test puts back what it found.
"""
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import fx_mm  # noqa: F401
from fx_mm.utils.runtime import setup_runtime_cfg
from tests.conftest import repo_path, tiny_train_config


@pytest.fixture
def tf32_switches():
    """torch's two TF32 switches, both False at the start, restored after."""
    saved = (torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    yield
    (torch.backends.cuda.matmul.allow_tf32,
     torch.backends.cudnn.allow_tf32) = saved


def test_the_runtime_config_turns_tf32_on():
    cfg = Config.fromfile(repo_path('configs', '_base_', 'fx_runtime.py'))
    assert cfg.env_cfg.allow_tf32 is True


@pytest.mark.parametrize('allow', [None, True, False],
                         ids=['default', 'on', 'off'])
def test_runner_built_by_the_entry_points_has_tf32(
        tf32_switches, covid_lungs, tmp_path, allow):
    config = tiny_train_config(str(tmp_path / 'cfg.py'), covid_lungs)
    cfg = Config.fromfile(config)
    if allow is not None:
        cfg.env_cfg.allow_tf32 = allow
    setup_runtime_cfg(cfg, config, str(tmp_path / 'work'))
    # mmengine keeps one visualizer per name for the process: a name of
    # its own keeps it out of an earlier test's (removed) folder
    cfg.visualizer.name = f'visualizer_{tmp_path.name}'
    Runner.from_cfg(cfg)
    expected = allow is not False
    assert torch.backends.cuda.matmul.allow_tf32 is expected
    assert torch.backends.cudnn.allow_tf32 is expected


def test_a_config_without_the_switch_gets_tf32(tf32_switches, tmp_path):
    cfg = Config(dict(env_cfg=dict(cudnn_benchmark=False)))
    setup_runtime_cfg(cfg, 'cfg.py', str(tmp_path))
    assert torch.backends.cuda.matmul.allow_tf32 is True
    assert torch.backends.cudnn.allow_tf32 is True
