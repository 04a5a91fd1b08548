"""Which of mmcv's compiled ops fx_mm reaches on a GPU, measured.

Every op of mmcv's extension (``mmcv._ext``) is recorded while the tiny
X-CLS model runs each kind of pass with its tensors reporting ``is_cuda``
and the CUDA flags on (tests/ops/cuda_branch.py): training of each task
(localization and segmentation in a lock pass and a release pass),
validation of each task and inference. docs/gpu.md lists these ops; with a
CPU build of mmcv no pass may reach any of them.
"""
import re

import pytest
import torch
from mmengine.config import Config

import fx_mm  # noqa: F401  (installs the dispatches)
from fx_mm.testing import make_batch
from fx_mm.utils import build_initialised_model
from tests.conftest import repo_path
from tests.ops.cuda_branch import (RecordedExtension, as_cuda,
                                   force_cuda_branches, pretend_mmcv_build)

TINY_3DS = repo_path('configs', 'tiny', 'fx_cls_tiny_3ds.py')
DEFORM_ATTN = {'ms_deform_attn_forward', 'ms_deform_attn_backward'}
FOCAL_LOSS = {'sigmoid_focal_loss_forward', 'sigmoid_focal_loss_backward'}

#: pass kind -> (task, dataset, class count), lock or not, mode
PASSES = {
    'cls train': ('cls', 'ChestX-Det', 13, False, 'loss'),
    'loc lock train': ('loc', 'ChestX-Det', 13, True, 'loss'),
    'loc release train': ('loc', 'TBX11K', 1, False, 'loss'),
    'seg lock train': ('seg', 'SIIM-ACR', 1, True, 'loss'),
    'seg release train': ('seg', 'ChestX-Det', 13, False, 'loss'),
    'cls val': ('cls', 'SIIM-ACR', 1, False, 'predict'),
    'loc val': ('loc', 'ChestX-Det', 13, False, 'predict'),
    'seg val': ('seg', 'ChestX-Det', 13, False, 'predict'),
    'inference': ('cls', 'SIIM-ACR', 1, False, 'predict_all'),
}
#: what the CUDA build's kernels see in each kind of pass
EXPECTED = {
    'cls train': set(),
    'loc lock train': DEFORM_ATTN | FOCAL_LOSS,
    'loc release train': DEFORM_ATTN | FOCAL_LOSS,
    'seg lock train': set(),
    'seg release train': set(),
    'cls val': set(),
    'loc val': {'ms_deform_attn_forward'},
    'seg val': set(),
    'inference': {'ms_deform_attn_forward'},
}


@pytest.fixture(scope='module')
def model():
    return build_initialised_model(Config.fromfile(TINY_3DS))


def run_pass(model, kind):
    """One pass of ``kind`` on the CUDA branch (a lock pass trains only
    the dataset's head, as LockReleaseHook sets it)."""
    task, dataset, num_classes, lock, mode = PASSES[kind]
    training = mode == 'loss'
    model.train(training)
    model.zero_grad(set_to_none=True)
    trainable = {id(p) for p in (model.head_of(task, dataset).parameters()
                                 if lock else model.student_parameters())}
    for p in model.student_parameters():
        p.requires_grad_(id(p) in trainable)
    try:
        data = model.data_preprocessor(
            make_batch(task, dataset, num_classes), training)
        inputs = as_cuda(data['inputs'])
        if mode == 'predict_all':
            return model.predict_all(inputs, data['data_samples'])
        if training:
            loss, _ = model.parse_losses(
                model(inputs, data['data_samples'], mode='loss'))
            loss.as_subclass(torch.Tensor).backward()
            return loss
        with torch.no_grad():
            return model(inputs, data['data_samples'], mode='predict')
    finally:
        for p in model.student_parameters():
            p.requires_grad_(True)


def documented_ops():
    """The ops named in docs/gpu.md's table of compiled mmcv ops."""
    with open(repo_path('docs', 'gpu.md')) as f:
        text = f.read()
    section = text.split('## Compiled mmcv ops', 1)[1].split('\n## ', 1)[0]
    return set(re.findall(r'`(\w+_(?:forward|backward))`', section))


def test_the_cuda_build_reaches_these_kernels_and_docs_list_them(
        model, monkeypatch):
    force_cuda_branches(monkeypatch)
    pretend_mmcv_build(monkeypatch, True)
    seen = {}
    for kind in PASSES:
        extension = RecordedExtension(monkeypatch)
        run_pass(model, kind)
        seen[kind] = extension.ops
    assert seen == EXPECTED
    assert documented_ops() == set().union(*EXPECTED.values())


def test_a_cpu_build_reaches_no_compiled_op_in_any_pass(model, monkeypatch):
    """Issue 16 item 1, every pass kind: with the installed (CPU) mmcv, the
    CUDA branches run to the end without calling mmcv's extension."""
    force_cuda_branches(monkeypatch)
    pretend_mmcv_build(monkeypatch, False)
    for kind in PASSES:
        extension = RecordedExtension(monkeypatch, cuda_build=False)
        run_pass(model, kind)
        assert extension.ops == set(), kind
