"""Deformable attention on a GPU that is not the current one.

mmcv 2.1.0's ``ms_deform_attn_cuda_forward``
(mmcv/ops/csrc/pytorch/cuda/ms_deform_attn_cuda.cu) launches its kernel on
``at::cuda::getCurrentCUDAStream()`` and, unlike its focal-loss kernels,
sets no ``CUDAGuard``: with the model on ``cuda:1`` while the current
device is ``cuda:0`` (``FXInferencer(device='cuda:1')``, ``tools/infer.py
--device cuda:1`` as README shows) the kernel runs on GPU 0 and reads GPU 1's
memory, which ends in "an illegal memory access was encountered"
(GroundingDINO issues 439/440 report it for the same kernel on ``cuda:i``,
i > 0). The backward needs no guard: autograd runs a device's nodes on a
thread whose current device is that device.

On the CPU: a tensor that reports ``cuda:1``, a stand-in for the process's
current CUDA device (what ``torch.cuda.device`` switches), and the CUDA
build's kernel (tests/ops/cuda_branch.py) recording the current device it
was launched on.
"""
import mmcv
import pytest
import torch
from mmcv.ops import MultiScaleDeformableAttention
from mmcv.ops import multi_scale_deform_attn as msda

import fx_mm  # noqa: F401  (installs the dispatch)
from tests.ops.cuda_branch import (RecordedExtension, ReportsCuda,
                                   pretend_mmcv_build)


class OnCuda1(ReportsCuda):
    """A CPU tensor that says it lives on ``cuda:1`` (so do its results)."""

    @property
    def device(self):
        return torch.device('cuda', 1)

    def get_device(self):
        return 1


@pytest.fixture
def current_device(monkeypatch):
    """The process's current CUDA device, 0 to start with, switched the way
    ``torch.cuda.device`` / ``device_of`` switch it. Returns a one-item
    list holding it."""
    current = [0]

    def exchange(idx):
        prev = current[0]
        if idx >= 0:
            current[0] = idx
        return prev if idx >= 0 else -1

    monkeypatch.setattr(torch.cuda, '_exchange_device', exchange)
    monkeypatch.setattr(torch.cuda, '_maybe_exchange_device', exchange)
    monkeypatch.setattr(torch.cuda, 'current_device', lambda: current[0])
    return current


@pytest.fixture
def launches(monkeypatch, current_device):
    """The CUDA build's deformable-attention forward, recording the current
    device of each launch."""
    monkeypatch.setattr(msda, 'IS_CUDA_AVAILABLE', True)
    pretend_mmcv_build(monkeypatch, True)
    kernels = RecordedExtension(monkeypatch)
    ext = mmcv.ops.multi_scale_deform_attn.ext_module
    seen = []
    forward = ext.ms_deform_attn_forward

    def recorded(value, *args, **kwargs):
        seen.append((current_device[0], value.get_device()))
        return forward(value, *args, **kwargs)

    monkeypatch.setattr(ext, 'ms_deform_attn_forward', recorded)
    return seen, kernels


def layer_and_inputs():
    torch.manual_seed(0)
    attn = MultiScaleDeformableAttention(embed_dims=32, num_heads=2,
                                         num_levels=2, num_points=2,
                                         batch_first=True).eval()
    inputs = dict(query=torch.randn(1, 6, 32), value=torch.randn(1, 20, 32),
                  reference_points=torch.rand(1, 6, 2, 2),
                  spatial_shapes=torch.tensor([[4, 4], [2, 2]]),
                  level_start_index=torch.tensor([0, 16]))
    return attn, inputs


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_kernel_runs_on_the_values_gpu(launches, current_device, dtype):
    seen, kernels = launches
    attn, inputs = layer_and_inputs()
    with torch.autocast('cpu', dtype=dtype, enabled=dtype != torch.float32):
        out = attn(**dict(inputs, value=inputs['value'].as_subclass(OnCuda1)))
    assert [op for op, _ in kernels.calls] == ['ms_deform_attn_forward']
    # launched with the value's GPU current, not GPU 0 ...
    assert seen == [(1, 1)]
    # ... and the caller's current device is back afterwards
    assert current_device[0] == 0
    # the result is the op's (the guard changes where, not what)
    attn_ref, ref_inputs = layer_and_inputs()
    expected = attn_ref(**ref_inputs)  # plain CPU tensors: mmcv's CPU branch
    torch.testing.assert_close(out.as_subclass(torch.Tensor).float(),
                               expected, rtol=2e-2, atol=2e-2)


def test_the_current_gpu_needs_no_switch(launches, current_device):
    seen, _ = launches
    current_device[0] = 1
    attn, inputs = layer_and_inputs()
    attn(**dict(inputs, value=inputs['value'].as_subclass(OnCuda1)))
    assert seen == [(1, 1)] and current_device[0] == 1
