"""The tiny model's DINO loss on the CUDA branch, on the CPU.

The images enter as tensors that report ``is_cuda`` (so does everything
computed from them) and the flags say CUDA is there
(tests/ops/cuda_branch.py): mmcv's deformable attention and mmdet's
FocalLoss take the branches a GPU takes, inside FoundationX's real
localization loss (encoder, decoder, DINO head, Hungarian matching, CDN).
"""
import pytest
import torch
from mmengine.config import Config

import fx_mm  # noqa: F401  (installs the dispatches)
from fx_mm.ops import deform_attn_fallback, focal_loss_dispatch
from fx_mm.testing import make_batch
from fx_mm.utils import build_initialised_model
from tests.conftest import repo_path
from tests.ops.cuda_branch import (RecordedExtension, as_cuda,
                                   force_cuda_branches, pretend_mmcv_build)

DATASET, NUM_CLASSES = 'CovidLungs', 2  # configs/tiny/baseline_tiny_loc.py


@pytest.fixture(scope='module')
def model():
    """The tiny Swin + multi-decoder DINO (no teacher), in training mode."""
    return build_initialised_model(
        Config.fromfile(repo_path('configs', 'tiny',
                                  'baseline_tiny_loc.py'))).train()


@pytest.fixture
def cuda_branch(monkeypatch):
    force_cuda_branches(monkeypatch)
    monkeypatch.setattr(deform_attn_fallback, '_warned', False)
    monkeypatch.setattr(focal_loss_dispatch, '_warned', False)


def loc_batch(model, labels=None, seed=0):
    data = model.data_preprocessor(
        make_batch('loc', DATASET, NUM_CLASSES, seed=seed), True)
    if labels is not None:
        for sample in data['data_samples']:
            sample.gt_instances.labels.fill_(labels)
    return data


def loc_step(model, data, cuda, autocast=None):
    """One localization loss and backward: (losses, total, gradients).
    Seeded: DINO's denoising queries are random."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(0)
    inputs = as_cuda(data['inputs']) if cuda else data['inputs']
    with torch.autocast('cpu', dtype=autocast or torch.bfloat16,
                        enabled=autocast is not None):
        losses = model(inputs, data['data_samples'], mode='loss')
        loss, _ = model.parse_losses(losses)
    loss.as_subclass(torch.Tensor).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()
             if p.grad is not None}
    return losses, loss.as_subclass(torch.Tensor), grads


def set_class_logits(model, values):
    """Every class branch of the dataset's DINO head (decoder layers and
    proposals) outputs ``values`` (one logit per class) for any query."""
    head = model.loc.per_dataset[DATASET]['bbox_head']
    with torch.no_grad():
        for branch in head.cls_branches:
            branch.weight.zero_()
            branch.bias.copy_(torch.tensor(values))


@pytest.fixture
def class_logits(model):
    """Restores the head's class branches after a test set them."""
    head = model.loc.per_dataset[DATASET]['bbox_head']
    saved = {k: v.clone() for k, v in head.cls_branches.state_dict().items()}
    yield lambda values: set_class_logits(model, values)
    head.cls_branches.load_state_dict(saved)


def test_cpu_built_mmcv_trains_dino_on_a_gpu(model, cuda_branch,
                                             monkeypatch, recwarn):
    """Issue 16 item 1: with a CPU build of mmcv (the installed one, not
    faked), the CUDA branch reaches no compiled op and gives the losses and
    gradients of the plain CPU run, warning once per op."""
    data = loc_batch(model)
    with monkeypatch.context() as m:  # the plain CPU run: the reference
        m.setattr(torch.cuda, 'is_available', lambda: False)
        ref_losses, ref_loss, ref_grads = loc_step(model, data, cuda=False)
    pretend_mmcv_build(monkeypatch, False)
    extension = RecordedExtension(monkeypatch, cuda_build=False)
    losses, loss, grads = loc_step(model, data, cuda=True)
    assert extension.ops == set()
    torch.testing.assert_close(loss, ref_loss)
    assert losses.keys() == ref_losses.keys()
    assert grads.keys() == ref_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, ref_grads[name], msg=name)
    messages = [str(w.message) for w in recwarn]
    for op in (deform_attn_fallback, focal_loss_dispatch):
        assert messages.count(op.FALLBACK_WARNING) == 1


@pytest.mark.parametrize('dtype,deform_attn_dtype', [
    (torch.bfloat16, torch.float32), (torch.float16, torch.float16)])
def test_amp_gives_the_kernels_only_dtypes_they_have(model, cuda_branch,
                                                     monkeypatch, dtype,
                                                     deform_attn_dtype):
    """Issue 16 item 2: under bf16 autocast with a CUDA build, neither
    kernel gets bf16 (deformable attention runs in fp32); under fp16 the
    deformable attention keeps the kernel's half case. The focal loss
    kernel gets fp32 either way (item 7)."""
    pretend_mmcv_build(monkeypatch, True)
    extension = RecordedExtension(monkeypatch)
    _, loss, grads = loc_step(model, loc_batch(model), cuda=True,
                              autocast=dtype)
    dtypes = {}
    for op, op_dtypes in extension.calls:
        dtypes.setdefault(op.rsplit('_', 1)[0], set()).update(op_dtypes)
    assert dtypes == {'ms_deform_attn': {deform_attn_dtype},
                      'sigmoid_focal_loss': {torch.float32}}
    assert torch.isfinite(loss)
    assert all(torch.isfinite(g).all() for g in grads.values())


@pytest.mark.parametrize('cuda_build', [True, False])
def test_fp16_far_negative_class_logits_give_a_finite_loss(
        model, cuda_branch, monkeypatch, class_logits, cuda_build):
    """Issue 16 item 7: the boxes are all of class 0; class 1 scores -30
    for every query (a confident background, common late in training).
    In half, its sigmoid is 0 and mmcv's kernel computes 0 * log(0): the
    classification loss must stay finite under fp16 autocast."""
    class_logits([0.0, -30.0])
    pretend_mmcv_build(monkeypatch, cuda_build)
    RecordedExtension(monkeypatch, cuda_build=cuda_build)
    losses, loss, grads = loc_step(model, loc_batch(model, labels=0),
                                   cuda=True, autocast=torch.float16)
    cls_losses = {k: v for k, v in losses.items() if 'loss_cls' in k}
    assert cls_losses and all(torch.isfinite(v) for v in cls_losses.values())
    assert all(v.dtype == torch.float32 for v in cls_losses.values())
    assert torch.isfinite(loss)
    assert all(torch.isfinite(g).all() for g in grads.values())


def test_fp16_confident_class_logits_keep_the_matching_finite(
        model, cuda_branch, monkeypatch, class_logits):
    """mmdet's FocalLossCost adds eps=1e-12 before the log; in half that
    is 0, so a query whose class logit is above ~8.3 costs -inf and scipy's
    Hungarian solver refuses the matrix ("invalid numeric entries"). DINO's
    class logits are fp32 before matching, whatever the autocast dtype."""
    class_logits([20.0, 20.0])
    pretend_mmcv_build(monkeypatch, True)
    RecordedExtension(monkeypatch)
    _, loss, _ = loc_step(model, loc_batch(model), cuda=True,
                          autocast=torch.float16)
    assert torch.isfinite(loss)


def test_dino_class_logits_leave_the_head_in_fp32(model):
    """What the two tests above rely on: under autocast every class branch
    of every dataset's DINO head hands fp32 logits on (the layer itself
    still computes in the autocast dtype)."""
    for parts in model.loc.per_dataset.values():
        for branch in parts['bbox_head'].cls_branches:
            x = torch.randn(3, branch.in_features)
            with torch.autocast('cpu', dtype=torch.float16):
                out = branch(x)
            assert out.dtype == torch.float32
            torch.testing.assert_close(
                out, torch.nn.functional.linear(
                    x.half(), branch.weight.half(), branch.bias.half()
                ).float())
