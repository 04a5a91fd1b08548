"""The stand-ins of fx_mm/ops with mmcv's real CUDA kernels (marker ``gpu``).

On the CPU, tests/ops drives the CUDA branches with kernels modelled on
mmcv's sources (tests/ops/cuda_branch.py). These run the real ones, where
torch sees a GPU and mmcv was built with CUDA (``make test-gpu``); they skip,
with the reason, elsewhere.
"""
import pytest
import torch
from mmcv.ops import MultiScaleDeformableAttention
from mmdet.registry import MODELS

import fx_mm  # noqa: F401  (installs the dispatches)
from fx_mm.ops import mmcv_kernels

pytestmark = pytest.mark.gpu


@pytest.fixture
def cuda_kernels():
    if not mmcv_kernels.mmcv_has_cuda_kernels():
        pytest.skip('the installed mmcv has no CUDA kernels '
                    '(FX_MMCV_CUDA=1 make install builds them)')


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_focal_loss_kernel_under_autocast_is_the_fp32_cpu_loss(
        cuda_kernels, dtype):
    """Extreme logits through mmdet's FocalLoss on the GPU (the kernel)
    under autocast: finite, and mmdet's fp32 CPU result."""
    loss_fn = MODELS.build(dict(type='FocalLoss', use_sigmoid=True))
    logits = torch.tensor([[20.0, -30.0, 0.5], [-30.0, 8.5, -17.5],
                           [3.0, -2.0, 1.0]])
    labels = torch.tensor([0, 1, 3])  # 3: background
    leaf = logits.cuda().requires_grad_()
    with torch.autocast('cuda', dtype=dtype):
        loss = loss_fn(leaf.to(dtype), labels.cuda(), avg_factor=2.0)
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert torch.isfinite(leaf.grad).all()
    cpu = logits.to(dtype).float().requires_grad_()
    expected = loss_fn(cpu, labels, avg_factor=2.0)
    expected.backward()
    torch.testing.assert_close(loss.cpu(), expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(leaf.grad.cpu(), cpu.grad, rtol=1e-2,
                               atol=1e-3)


def test_deform_attn_kernel_under_bf16_matches_the_pytorch_path(
        cuda_kernels, monkeypatch):
    torch.manual_seed(0)
    attn = MultiScaleDeformableAttention(embed_dims=64, num_heads=4,
                                         num_levels=2, num_points=2,
                                         batch_first=True).cuda().eval()
    shapes = torch.tensor([[8, 8], [4, 4]]).cuda()
    inputs = dict(query=torch.randn(2, 10, 64).cuda(),
                  value=torch.randn(2, 80, 64).cuda(),
                  reference_points=torch.rand(2, 10, 2, 2).cuda(),
                  spatial_shapes=shapes,
                  level_start_index=torch.tensor([0, 64]).cuda())
    outs = []
    for has_kernel in (True, False):
        monkeypatch.setattr(mmcv_kernels, 'FORCE_HAS_CUDA_KERNELS',
                            has_kernel)
        with torch.autocast('cuda', dtype=torch.bfloat16):
            outs.append(attn(**inputs).float())
    torch.testing.assert_close(outs[0], outs[1], rtol=2e-2, atol=2e-2)
