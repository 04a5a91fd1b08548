"""fx_mm/ops/focal_loss_dispatch.py: mmdet's FocalLoss on its CUDA branch.

mmdet's FocalLoss calls mmcv's compiled sigmoid focal loss when
``torch.cuda.is_available() and pred.is_cuda`` and the targets are labels
(N, ), as DINO's head passes them. Here that branch is taken on the CPU
(tests/ops/cuda_branch.py): with a CPU build of mmcv (the one installed
here) and with the CUDA build's kernel put on ``mmcv._ext`` -- its dtype
dispatch and its arithmetic in the logits' precision.
"""
import pytest
import torch
from mmdet.registry import MODELS

import fx_mm  # noqa: F401  (installs the dispatch)
from fx_mm.ops import focal_loss_dispatch as dispatch
from tests.ops.cuda_branch import (KernelDtypeError, RecordedExtension,
                                   as_cuda, force_cuda_branches,
                                   kernel_sigmoid_focal_loss,
                                   pretend_mmcv_build)

NUM_CLASSES = 4


def focal_loss():
    """The classification loss of fx_mm's DINO heads, as configured."""
    return MODELS.build(dict(type='FocalLoss', use_sigmoid=True, gamma=2.0,
                             alpha=0.25, loss_weight=1.0))


def logits_and_labels(seed=0, n=12):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, NUM_CLASSES, generator=g) * 3
    labels = torch.randint(0, NUM_CLASSES + 1, (n, ), generator=g)  # C = bg
    weights = torch.rand(n, generator=g)
    return logits, labels, weights


def loss_and_grad(logits, labels, weights, cuda, dtype=torch.float32):
    """DINO's call: FocalLoss(scores, labels, label_weights, avg_factor),
    with the logits in ``dtype`` as autocast would hand them over."""
    leaf = logits.clone().requires_grad_()
    pred = leaf.to(dtype)
    loss = focal_loss()(as_cuda(pred) if cuda else pred, labels, weights,
                        avg_factor=5.0)
    loss.as_subclass(torch.Tensor).backward()
    return loss.as_subclass(torch.Tensor), leaf.grad


@pytest.fixture
def cuda_branch(monkeypatch):
    force_cuda_branches(monkeypatch)
    monkeypatch.setattr(dispatch, '_warned', False)


def test_importing_fx_mm_installs_the_dispatch():
    from mmdet.models.losses import focal_loss as mmdet_focal_loss
    assert mmdet_focal_loss._sigmoid_focal_loss is dispatch.sigmoid_focal_loss
    dispatch.install()  # idempotent
    assert mmdet_focal_loss._sigmoid_focal_loss is dispatch.sigmoid_focal_loss


def test_cpu_built_mmcv_takes_mmdets_pytorch_path_and_warns_once(
        cuda_branch, monkeypatch, recwarn):
    """Issue 16 item 1: a CPU build has no kernel for CUDA tensors; the
    loss must come from mmdet's PyTorch path, equal to mmdet's CPU
    branch, with one warning however many calls."""
    pretend_mmcv_build(monkeypatch, False)
    logits, labels, weights = logits_and_labels()
    with monkeypatch.context() as m:  # mmdet's CPU branch: the reference
        m.setattr(torch.cuda, 'is_available', lambda: False)
        expected, expected_grad = loss_and_grad(logits, labels, weights,
                                                cuda=False)
    for _ in range(3):
        loss, grad = loss_and_grad(logits, labels, weights, cuda=True)
        torch.testing.assert_close(loss, expected)
        torch.testing.assert_close(grad, expected_grad)
    warned = [w for w in recwarn
              if str(w.message) == dispatch.FALLBACK_WARNING]
    assert len(warned) == 1
    assert 'FX_MMCV_CUDA=1 make install' in dispatch.FALLBACK_WARNING


def test_cuda_build_runs_mmcvs_kernel_in_fp32(cuda_branch, monkeypatch,
                                              recwarn):
    """With the kernel there, fp32 logits go to it unchanged, and the
    result is mmdet's CPU-branch result."""
    pretend_mmcv_build(monkeypatch, True)
    kernels = RecordedExtension(monkeypatch)
    logits, labels, weights = logits_and_labels(seed=1)
    loss, grad = loss_and_grad(logits, labels, weights, cuda=True)
    assert [op for op, _ in kernels.calls] == [
        'sigmoid_focal_loss_forward', 'sigmoid_focal_loss_backward']
    assert kernels.dtypes == {torch.float32}
    with monkeypatch.context() as m:
        m.setattr(torch.cuda, 'is_available', lambda: False)
        expected, expected_grad = loss_and_grad(logits, labels, weights,
                                                cuda=False)
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(grad, expected_grad)
    assert not [w for w in recwarn
                if str(w.message) == dispatch.FALLBACK_WARNING]


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_low_precision_logits_reach_the_kernel_as_fp32(cuda_branch,
                                                       monkeypatch, dtype):
    """Issue 16 items 2 and 7: bf16 logits have no case in the kernel;
    fp16 ones would be computed in half. The kernel gets fp32 and the loss
    is fp32."""
    pretend_mmcv_build(monkeypatch, True)
    kernels = RecordedExtension(monkeypatch)
    logits, labels, weights = logits_and_labels(seed=2)
    loss, grad = loss_and_grad(logits, labels, weights, cuda=True,
                               dtype=dtype)
    assert kernels.dtypes == {torch.float32}
    assert loss.dtype == torch.float32
    assert torch.isfinite(grad).all()


def extreme_logits():
    """Logits a trained DINO head gives: far-negative background scores
    and confident ones, for labelled and background rows."""
    logits = torch.tensor([[20.0, -30.0, 0.5, -1.0],
                           [-30.0, 20.0, -30.0, 3.0],
                           [8.5, -17.5, 2.0, -20.0],
                           [-30.0, -30.0, -30.0, -30.0]])
    labels = torch.tensor([0, 3, 1, NUM_CLASSES])
    return logits, labels, torch.ones(4)


def test_the_kernels_half_arithmetic_gives_nan_on_extreme_logits():
    """What mmcv's kernel computes for fp16 logits (the arithmetic the fake
    kernel reproduces): sigmoid rounds to 0 or 1 and (T)FLT_MIN is 0, so
    log(0) meets a zero flag -- the NaN the dispatch must avoid."""
    logits, labels, _ = extreme_logits()
    loss16, grad16 = kernel_sigmoid_focal_loss(logits.half(), labels, 2.0,
                                               0.25)
    assert torch.isnan(loss16).any() and torch.isnan(grad16).any()
    loss32, grad32 = kernel_sigmoid_focal_loss(logits, labels, 2.0, 0.25)
    assert torch.isfinite(loss32).all() and torch.isfinite(grad32).all()


@pytest.mark.parametrize('has_kernel', [True, False])
def test_fp16_extreme_logits_give_a_finite_loss(cuda_branch, monkeypatch,
                                                has_kernel):
    """Issue 16 item 7: fp16 logits of +20, -30, 8.5, -17.5 through mmdet's
    FocalLoss on the CUDA branch give the fp32 loss, finite."""
    pretend_mmcv_build(monkeypatch, has_kernel)
    RecordedExtension(monkeypatch, cuda_build=has_kernel)
    logits, labels, weights = extreme_logits()
    loss, grad = loss_and_grad(logits, labels, weights, cuda=True,
                               dtype=torch.float16)
    assert torch.isfinite(loss) and torch.isfinite(grad).all()
    expected, expected_grad = loss_and_grad(logits.half().float(), labels,
                                            weights, cuda=True)
    torch.testing.assert_close(loss, expected)
    # the gradient reaches the fp16 logits in fp16
    torch.testing.assert_close(grad, expected_grad, rtol=1e-3, atol=1e-5)


def test_fake_kernel_refuses_what_the_cuda_dispatch_refuses(monkeypatch):
    """The fake is only as good as its dtype rule: bf16 is refused, as
    AT_DISPATCH_FLOATING_TYPES_AND_HALF refuses it."""
    kernels = RecordedExtension(monkeypatch)
    x = torch.zeros(2, 3, dtype=torch.bfloat16)
    with pytest.raises(KernelDtypeError, match='BFloat16'):
        kernels.sigmoid_focal_loss_forward(x, torch.zeros(2, dtype=torch.long),
                                           x.new_empty(0), torch.zeros_like(x),
                                           2.0, 0.25)


@pytest.mark.parametrize('reduction', ['none', 'mean', 'sum'])
def test_pytorch_path_matches_the_kernels_fp32_maths(reduction):
    """The fallback computes what mmcv's kernel computes (fp32), per-class
    weight and reductions included."""
    logits, labels, _ = logits_and_labels(seed=3)
    labels = labels.clamp(max=NUM_CLASSES - 1)  # weight[label] needs a class
    class_weight = torch.tensor([1.0, 0.5, 2.0, 0.25])
    got = dispatch.pytorch_sigmoid_focal_loss(logits, labels, 2.0, 0.25,
                                              class_weight, reduction)
    kernel, _ = kernel_sigmoid_focal_loss(logits, labels, 2.0, 0.25)
    kernel = kernel * class_weight[labels][:, None]
    expected = dict(none=kernel, mean=kernel.sum() / len(logits),
                    sum=kernel.sum())[reduction]
    # same maths; mmdet's BCE-with-logits rounds differently for large |x|
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)


def test_bad_reduction_is_refused():
    logits, labels, _ = logits_and_labels()
    with pytest.raises(ValueError, match="reduction must be one of"):
        dispatch.sigmoid_focal_loss(logits, labels, 2.0, 0.25, None, 'avg')
