"""Mixed precision (--amp) on the CPU in bf16: the optimizer wrapper in
place, an end-to-end cyclic run through tools/train.py, and the parts AMP
touches -- autocast reaching the model, consistency terms in fp32, the
teacher in fp32, branch clipping and the NaN stop."""
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper

from fx_mm.engine.optimizers import FXAmpOptimWrapper
from fx_mm.testing import make_batch
from fx_mm.utils import build_initialised_model
from tests.conftest import (LAST_PASS_ONLY, repo_path, run_python,
                            tiny_train_config)

TINY_3DS = repo_path('configs', 'tiny', 'fx_cls_tiny_3ds.py')


def amp_wrapper(model, **kwargs):
    cfg = Config.fromfile(TINY_3DS).optim_wrapper
    cfg.type = 'FXAmpOptimWrapper'
    cfg.update(kwargs)
    return build_optim_wrapper(model, cfg)


@pytest.fixture(scope='module')
def model():
    return build_initialised_model(Config.fromfile(TINY_3DS)).train()


def test_cpu_amp_is_bf16_without_loss_scaling(model):
    wrapper = amp_wrapper(model)
    assert isinstance(wrapper, FXAmpOptimWrapper)
    assert wrapper.cast_dtype == torch.bfloat16  # dtype=None on the CPU
    assert not wrapper.loss_scaler.is_enabled()
    assert wrapper.clip_tasks == {'loc'}
    with pytest.raises(ValueError, match='bfloat16 only'):
        amp_wrapper(model, dtype='float16')


def test_amp_step_autocasts_and_keeps_fp32_where_it_matters(model):
    wrapper = amp_wrapper(model, dtype='bfloat16')
    wrapper.set_task('loc')
    seen = []
    hooks = [m.register_forward_hook(
        lambda m, i, out: seen.append(out[-1].dtype))
        for m in (model.backbone, model.teacher['backbone'])]
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    data = model.data_preprocessor(make_batch('loc', 'ChestX-Det', 13,
                                              seed=2), True)
    try:
        with wrapper.optim_context(model):
            losses = model(**data, mode='loss')
            loss, _ = model.parse_losses(losses)
        wrapper.update_params(loss)
    finally:
        for hook in hooks:
            hook.remove()
    # student and teacher backbones both ran in bf16 under autocast ...
    assert seen == [torch.bfloat16, torch.bfloat16]
    # ... and the consistency terms were computed in fp32, finite
    for place in ('backbone', 'loc_encoder'):
        term = losses[f'loss_cons_{place}']
        assert term.dtype == torch.float32 and torch.isfinite(term)
    # the step updated fp32 weights; the localization branch was clipped
    moved = [n for n, p in model.named_parameters()
             if not torch.equal(p, before[n])]
    assert any(n.startswith('loc.') for n in moved)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert 'train/grad_norm' in MessageHub.get_current_instance().log_scalars
    model.update_teacher(0.8)
    assert all(v.dtype == torch.float32 for k, v in
               model.teacher.state_dict().items() if v.is_floating_point())


def test_non_finite_loss_stops_before_the_weights(model):
    wrapper = amp_wrapper(model)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(FloatingPointError, match='nan'):
        wrapper.update_params(torch.tensor(float('nan'), requires_grad=True))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_bf16_cycle_through_train_tool(covid_lungs, tmp_path):
    """One tiny cycle (cls, loc lock/release, seg lock/release on three
    datasets) with --amp --amp-dtype bfloat16: finite losses in every pass,
    an fp32 teacher in the checkpoint, the AMP wrapper's state saved."""
    config = tiny_train_config(str(tmp_path / 'cfg.py'), covid_lungs,
                               n_train=4, n_eval=2,
                               checkpoint=LAST_PASS_ONLY)
    work_dir = str(tmp_path / 'work')
    run_python([repo_path('tools', 'train.py'), config, '--work-dir',
                work_dir, '--amp', '--amp-dtype', 'bfloat16'])
    dumped = Config.fromfile(osp.join(work_dir, 'cfg.py'))
    assert dumped.optim_wrapper.type == 'FXAmpOptimWrapper'
    assert dumped.optim_wrapper.dtype == 'bfloat16'
    scalars = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(scalars[0]) as f:
        records = [json.loads(line) for line in f]
    losses = [(k, v) for r in records for k, v in r.items()
              if k.startswith(('loss', 'cls.', 'loc.', 'seg.'))]
    keys = {k for k, _ in losses}
    assert {'cls.loss_cls', 'loc.loss_cls', 'seg.loss_dice',
            'loss_cons_backbone', 'loss_cons_loc_encoder',
            'loss_cons_seg_decoder'} <= keys
    assert all(v == v and abs(v) != float('inf') for _, v in losses)
    last = sorted(glob.glob(osp.join(work_dir, 'epoch_*.pth')),
                  key=lambda p: int(p.split('_')[-1][:-4]))[-1]
    ckpt = torch.load(last, map_location='cpu', weights_only=False)
    teacher = [v for k, v in ckpt['state_dict'].items()
               if k.startswith('teacher.') and v.is_floating_point()]
    assert teacher and all(v.dtype == torch.float32 for v in teacher)
    assert 'loss_scaler' in ckpt['optimizer']


@pytest.mark.parametrize('dtype,scaling', [(None, True), ('float16', True),
                                           ('bfloat16', False)])
def test_gpu_branch_builds_with_mmengines_amp_wrapper(model, monkeypatch,
                                                      dtype, scaling):
    """The CUDA branch of FXAmpOptimWrapper (mmengine's AmpOptimWrapper
    underneath), built the way mmengine builds it (optimizer by keyword), on
    this CPU machine with torch and mmengine told that CUDA is there."""
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp_module
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(amp_module, 'is_cuda_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda: True,
                        raising=False)
    wrapper = amp_wrapper(model, dtype=dtype, clip_grad=dict(max_norm=0.1))
    assert isinstance(wrapper, FXAmpOptimWrapper)
    assert wrapper.clip_tasks == {'loc'}
    expected = dict(float16=torch.float16, bfloat16=torch.bfloat16)
    assert wrapper.cast_dtype == expected.get(dtype)  # None: fp16 autocast
    if not scaling:
        assert not wrapper.loss_scaler.is_enabled()
    assert 'loss_scaler' in wrapper.state_dict()
