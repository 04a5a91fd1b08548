"""python -m fx_mm.env / tools/collect_env.py: versions, GPUs, kernels."""
import torch
from mmcv.ops import get_compiling_cuda_version

from fx_mm import env as fx_env
from fx_mm.ops import mmcv_kernels
from tests.conftest import repo_path, run_python

# The compiled mmcv ops fx_mm reaches on a GPU (docs/gpu.md): one line each.
KERNEL_LINES = ('mmcv deformable attention CUDA kernel',
                'mmcv sigmoid focal loss CUDA kernel')


def test_collect_env_reports_the_stack_and_the_kernel(monkeypatch):
    info = fx_env.collect_env()
    import mmcv
    import mmdet
    assert info['MMCV'] == mmcv.__version__
    assert info['MMDetection'] == mmdet.__version__
    assert info['MMCV CUDA Compiler'] == get_compiling_cuda_version()
    built_with_cuda = get_compiling_cuda_version() != 'not available'
    for line in KERNEL_LINES:
        assert info[line].startswith('yes' if built_with_cuda else 'no:')
    if not built_with_cuda:  # each says what runs instead
        assert 'mmcv\'s PyTorch path' in info[KERNEL_LINES[0]]
        assert 'mmdet\'s PyTorch path' in info[KERNEL_LINES[1]]
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert (info['GPUs visible'] == 'none') == (gpus == 0)
    # the line follows the probe, whatever the build
    monkeypatch.setattr(mmcv_kernels, 'FORCE_HAS_CUDA_KERNELS',
                        not built_with_cuda)
    flipped = fx_env.collect_env()
    for line in KERNEL_LINES:
        assert flipped[line].startswith('no:' if built_with_cuda else 'yes')


def test_env_command_and_tool_print_the_same_report():
    module = run_python(['-m', 'fx_mm.env']).stdout
    tool = run_python([repo_path('tools', 'collect_env.py')]).stdout
    assert all(line in module for line in KERNEL_LINES)
    assert 'GPUs visible' in module and 'MMSegmentation' in module

    def stable(text):  # drop lines that may differ between two runs
        return [line for line in text.splitlines()
                if not line.startswith(('GCC', 'sys.platform'))]
    assert stable(module) == stable(tool)
    short = run_python(['-m', 'fx_mm.env', '--short']).stdout.strip()
    assert short.startswith('fx_mm stack OK: torch ')
    assert ('CUDA kernels of deformable attention and sigmoid focal loss:'
            in short)
