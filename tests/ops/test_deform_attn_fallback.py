"""fx_mm/ops/deform_attn_fallback.py on the CPU, by forcing the probe.

mmcv takes its compiled-op branch only when ``IS_CUDA_AVAILABLE and
value.is_cuda``. Here a tensor subclass that reports ``is_cuda`` (and the
module flag patched) drives mmcv's own MultiScaleDeformableAttention down
that branch on the CPU, so the dispatch it meets is the one a GPU would.
Where the kernel must be there, tests/ops/cuda_branch.py puts the CUDA
build's kernel (its arguments and dtype dispatch) on ``mmcv._ext``.
"""
import pytest
import torch
from mmcv.ops import MultiScaleDeformableAttention
from mmcv.ops import multi_scale_deform_attn as msda

import fx_mm  # noqa: F401  (installs the dispatch)
from fx_mm.ops import deform_attn_fallback as fallback
from tests.ops.cuda_branch import (RecordedExtension, ReportsCuda, as_cuda,
                                   pretend_mmcv_build)


def layer_and_inputs(seed=0):
    torch.manual_seed(seed)
    attn = MultiScaleDeformableAttention(embed_dims=64, num_heads=4,
                                         num_levels=2, num_points=2,
                                         batch_first=True).eval()
    shapes = torch.tensor([[8, 8], [4, 4]])
    start = torch.tensor([0, 64])
    inputs = dict(query=torch.randn(2, 10, 64),
                  value=torch.randn(2, 80, 64),
                  reference_points=torch.rand(2, 10, 2, 2),
                  spatial_shapes=shapes, level_start_index=start)
    return attn, inputs


@pytest.fixture
def cuda_branch(monkeypatch):
    """mmcv believes CUDA is there; the warning has not been given yet."""
    monkeypatch.setattr(msda, 'IS_CUDA_AVAILABLE', True)
    monkeypatch.setattr(fallback, '_warned', False)


def test_importing_fx_mm_installs_the_dispatch():
    assert msda.MultiScaleDeformableAttnFunction is fallback.DeformAttnDispatch
    compiled = fallback.DeformAttnDispatch.compiled
    assert issubclass(compiled, torch.autograd.Function)
    assert compiled.__module__ == 'mmcv.ops.multi_scale_deform_attn'
    fallback.install()  # idempotent: the original stays recorded
    assert fallback.DeformAttnDispatch.compiled is compiled


def test_this_cpu_build_has_no_cuda_kernel():
    # make install compiles mmcv without CUDA where no GPU is visible
    # (tools/install_mmcv.sh); the probe must say so.
    from mmcv.ops import get_compiling_cuda_version

    from fx_mm.ops import mmcv_kernels
    assert mmcv_kernels._compiled_with_cuda() == (
        get_compiling_cuda_version() != 'not available')


def test_missing_kernel_takes_the_pytorch_path_and_warns_once(
        cuda_branch, monkeypatch, recwarn):
    pretend_mmcv_build(monkeypatch, False)
    attn, inputs = layer_and_inputs()
    expected = attn(**inputs)  # a plain CPU tensor: mmcv's CPU branch
    value = inputs['value'].as_subclass(ReportsCuda)
    outs = [attn(**dict(inputs, value=value)) for _ in range(3)]
    for out in outs:
        torch.testing.assert_close(out.as_subclass(torch.Tensor), expected)
    warned = [w for w in recwarn
              if fallback.FALLBACK_WARNING in str(w.message)]
    assert len(warned) == 1  # once per process, however many calls
    assert 'FX_MMCV_CUDA=1 make install' in fallback.FALLBACK_WARNING


def test_kernel_present_calls_mmcvs_compiled_op(cuda_branch, monkeypatch):
    pretend_mmcv_build(monkeypatch, True)
    calls = []

    class Compiled:
        @staticmethod
        def apply(value, shapes, start, locations, weights, im2col_step):
            calls.append(im2col_step)
            return fallback.pytorch_deform_attn(value, shapes, locations,
                                                weights)

    monkeypatch.setattr(fallback.DeformAttnDispatch, 'compiled', Compiled)
    attn, inputs = layer_and_inputs()
    attn(**dict(inputs, value=inputs['value'].as_subclass(ReportsCuda)))
    assert calls == [attn.im2col_step]
    assert not fallback._warned


def test_fallback_gradients_match_mmcv_pytorch_path(cuda_branch,
                                                    monkeypatch):
    """Training through the dispatch gives mmcv's own gradients."""
    pretend_mmcv_build(monkeypatch, False)
    grads = []
    for wrap in (False, True):
        attn, inputs = layer_and_inputs(seed=1)
        attn.train()
        value = inputs['value'].requires_grad_()
        out = attn(**dict(inputs, value=value.as_subclass(ReportsCuda)
                          if wrap else value))
        out.as_subclass(torch.Tensor).square().sum().backward()
        grads.append([value.grad] + [p.grad for p in attn.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


def run_layer(dtype, seed=2):
    """The layer on the CUDA branch under CPU autocast in ``dtype``; the
    output and the gradients of the value and of the layer's parameters."""
    attn, inputs = layer_and_inputs(seed=seed)
    attn.train()
    value = inputs['value'].requires_grad_()
    with torch.autocast('cpu', dtype=dtype):
        out = attn(**dict(inputs, value=as_cuda(value)))
    out.as_subclass(torch.Tensor).float().square().sum().backward()
    return out, [value.grad] + [p.grad for p in attn.parameters()]


def test_bf16_never_reaches_the_kernel(cuda_branch, monkeypatch):
    """--amp-dtype bfloat16 with a CUDA build: the kernel has no bf16 case
    (AT_DISPATCH_FLOATING_TYPES_AND_HALF), and mmcv casts the sampling
    locations and weights to the value's dtype, so the op runs in fp32."""
    pretend_mmcv_build(monkeypatch, True)
    kernels = RecordedExtension(monkeypatch)
    out, grads = run_layer(torch.bfloat16)
    assert [op for op, _ in kernels.calls] == ['ms_deform_attn_forward',
                                               'ms_deform_attn_backward']
    assert kernels.dtypes == {torch.float32}
    # the same layer and inputs through the PyTorch path agree (bf16 output)
    pretend_mmcv_build(monkeypatch, False)
    ref, ref_grads = run_layer(torch.bfloat16)
    torch.testing.assert_close(out.as_subclass(torch.Tensor),
                               ref.as_subclass(torch.Tensor))
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=2e-2, atol=2e-2)


def test_fp16_still_runs_the_kernels_half_case(cuda_branch, monkeypatch):
    pretend_mmcv_build(monkeypatch, True)
    kernels = RecordedExtension(monkeypatch)
    run_layer(torch.float16)
    assert kernels.dtypes == {torch.float16}
