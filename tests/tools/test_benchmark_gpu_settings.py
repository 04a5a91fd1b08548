"""`tools/benchmark.py gpu` measures with TF32 set as training sets it
(``env_cfg.allow_tf32``, fx_mm/utils/runtime.py), so that its images per
second are those of a training run.

No GPU here: ``torch.cuda.is_available`` reports True and the device name
is faked; the model build, the first thing the GPU benchmark does after its
header line, records torch's TF32 switches and stops the run.
"""
import sys

import pytest
import torch

from tests.conftest import load_tool, repo_path


class Built(Exception):
    """Raised where the benchmark builds its model."""


@pytest.fixture
def tf32_off():
    """torch's two TF32 switches, both False at the start, restored after."""
    saved = (torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    yield
    (torch.backends.cuda.matmul.allow_tf32,
     torch.backends.cudnn.allow_tf32) = saved


def load_benchmark():
    return load_tool('tools', 'benchmark.py')


@pytest.mark.parametrize('allow', [None, False],
                         ids=['config default', 'allow_tf32=False'])
def test_gpu_benchmark_sets_tf32_as_training_does(tf32_off, tmp_path,
                                                   monkeypatch, capsys,
                                                   allow):
    config = tmp_path / 'cfg.py'
    text = f"_base_ = [{repo_path('configs', 'tiny', 'fx_cls_tiny.py')!r}]\n"
    if allow is not None:
        text += f'env_cfg = dict(allow_tf32={allow})\n'
    config.write_text(text)
    benchmark = load_benchmark()
    seen = {}

    def build(cfg, **overrides):
        seen.update(matmul=torch.backends.cuda.matmul.allow_tf32,
                    cudnn=torch.backends.cudnn.allow_tf32)
        raise Built

    monkeypatch.setattr(benchmark, 'build', build)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'get_device_name',
                        lambda device=None: 'stand-in GPU')
    # mmengine's logger names the device from this list when CUDA is there
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '0')
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setattr(sys, 'argv', ['benchmark.py', 'gpu', '--config',
                                      str(config)])
    with pytest.raises(Built):
        benchmark.main()
    expected = allow is None  # the runtime default is on
    assert seen == dict(matmul=expected, cudnn=expected)
    header = capsys.readouterr().out
    assert ('TF32 matmuls and convolutions (env_cfg.allow_tf32): '
            f"{'on' if expected else 'off'}") in header
    assert 'deformable attention, sigmoid focal loss' in header
