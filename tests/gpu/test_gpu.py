"""Checks that need a CUDA GPU (pytest marker ``gpu``; ``make test-gpu``).

Skipped, with the reason, where torch sees no GPU (tests/conftest.py), so
``make test`` and CI never depend on one. They cover the GPU path end to end:
mmcv's CUDA deformable-attention kernel against the PyTorch path, the
fallback when the kernel is missing, a cyclic pass of every task on the
Swin-B model through tools/train.py (fp32 and --amp), CPU and GPU losses on
the same batch and weights, and prediction / tools/infer.py on the GPU.
"""
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from fx_mm.ops import deform_attn_fallback as fallback
from fx_mm.ops import mmcv_kernels
from fx_mm.testing import make_batch
from fx_mm.utils import build_initialised_model
from tests.conftest import BUNDLED_COVID, repo_path, run_python

pytestmark = pytest.mark.gpu


def random_deform_attn_inputs(device, dtype=torch.float32, seed=0):
    """Inputs of deformable attention at DINO-like sizes (4 levels)."""
    g = torch.Generator().manual_seed(seed)
    shapes = torch.tensor([[28, 28], [14, 14], [7, 7], [4, 4]])
    start = torch.cat([shapes.new_zeros(1), (shapes[:, 0] * shapes[:, 1]
                                             ).cumsum(0)[:-1]])
    keys = int((shapes[:, 0] * shapes[:, 1]).sum())
    bs, queries, heads, dims, levels, points = 2, 50, 8, 32, 4, 4

    def rand(*size):
        return torch.rand(*size, generator=g, dtype=torch.float64).to(
            device=device, dtype=dtype).requires_grad_()

    value = rand(bs, keys, heads, dims)
    locations = rand(bs, queries, heads, levels, points, 2)
    weights = torch.rand(bs, queries, heads, levels, points, generator=g,
                         dtype=torch.float64)
    weights = (weights / weights.sum((-1, -2), keepdim=True)).to(
        device=device, dtype=dtype).requires_grad_()
    return value, shapes.to(device), start.to(device), locations, weights


@pytest.mark.parametrize('dtype,tol', [(torch.float64, 1e-9),
                                       (torch.float32, 1e-4)])
def test_cuda_kernel_and_pytorch_fallback_agree(dtype, tol):
    if not mmcv_kernels.mmcv_has_cuda_kernels():
        pytest.skip('the installed mmcv has no CUDA kernels '
                    '(FX_MMCV_CUDA=1 make install builds them)')
    value, shapes, start, loc, weights = random_deform_attn_inputs('cuda',
                                                                  dtype)
    kernel = fallback.DeformAttnDispatch.compiled.apply(
        value, shapes, start, loc, weights, 64)
    grad_out = torch.randn_like(kernel)
    kernel_grads = torch.autograd.grad(kernel, (value, loc, weights),
                                       grad_out)
    torch_path = fallback.pytorch_deform_attn(value, shapes, loc, weights)
    torch_grads = torch.autograd.grad(torch_path, (value, loc, weights),
                                      grad_out)
    torch.testing.assert_close(kernel, torch_path, rtol=tol, atol=tol)
    for a, b in zip(kernel_grads, torch_grads):
        torch.testing.assert_close(a, b, rtol=tol * 10, atol=tol * 10)


def test_missing_kernel_falls_back_on_the_gpu(monkeypatch, recwarn):
    """A DINO encoder layer on CUDA tensors with the probe saying 'no
    kernel': the PyTorch path runs on the GPU, warns once, and matches the
    same layer on the CPU."""
    from mmcv.ops import MultiScaleDeformableAttention
    monkeypatch.setattr(mmcv_kernels, 'FORCE_HAS_CUDA_KERNELS', False)
    monkeypatch.setattr(fallback, '_warned', False)
    torch.manual_seed(0)
    attn = MultiScaleDeformableAttention(embed_dims=256, num_levels=4,
                                         batch_first=True).eval()
    value, shapes, start, _, _ = random_deform_attn_inputs('cpu')
    query = torch.randn(2, 50, 256)
    feats = torch.randn(2, value.shape[1], 256)
    ref = torch.rand(2, 50, 4, 2)
    cpu = attn(query, value=feats, reference_points=ref,
               spatial_shapes=shapes, level_start_index=start)
    attn.cuda()
    for _ in range(2):
        gpu = attn(query.cuda(), value=feats.cuda(),
                   reference_points=ref.cuda(), spatial_shapes=shapes.cuda(),
                   level_start_index=start.cuda())
    assert gpu.is_cuda
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-5)
    msgs = [w for w in recwarn if fallback.FALLBACK_WARNING in str(w.message)]
    assert len(msgs) == 1


def swin_b_covid_config(tmp_path, covid_root, extra=''):
    """configs/fx_cls.py (Swin-B, 224 px) on the bundled sample: three
    datasets (cls+loc+seg, cls+loc, seg), 6 images per split, batch 2,
    one cycle."""
    text = f'''_base_ = [{repo_path('configs', 'fx_cls.py')!r}]
_small = dict(train=dict(indices=6), val=dict(indices=4), test=dict(indices=4))
fx_datasets = [
    dict(name='CovidLungs', data_root={covid_root!r},
         cls=dict(classes=['COVID-19'], **_small),
         loc=dict(classes=['Right Lung', 'Left Lung'], **_small),
         seg=dict(classes=['Lungs'], **_small)),
    dict(name='CovidBoxes', data_root={covid_root!r},
         cls=dict(classes=['COVID-19'], **_small),
         loc=dict(classes=['Right Lung', 'Left Lung'], **_small)),
    dict(name='LungMasks', data_root={covid_root!r},
         seg=dict(classes=['Lungs'], **_small)),
]
model = dict(datasets=fx_datasets)
train_cfg = dict(max_cycles=1)
train_dataloader = dict(batch_size=2, num_workers=2)
val_dataloader = dict(batch_size=2, num_workers=2)
test_dataloader = val_dataloader
default_hooks = dict(logger=dict(interval=1))
{extra}
'''
    path = tmp_path / 'swin_b_covid.py'
    path.write_text(text)
    return str(path)


def scalar_records(work_dir):
    runs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')))
    with open(runs[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.mark.parametrize('amp', [[], ['--amp'],
                                 ['--amp', '--amp-dtype', 'bfloat16']],
                         ids=['fp32', 'amp-fp16', 'amp-bf16'])
def test_swin_b_cycle_on_gpu(covid_lungs, tmp_path, amp):
    if amp[-1:] == ['bfloat16'] and not torch.cuda.is_bf16_supported():
        pytest.skip('this GPU has no bf16')
    config = swin_b_covid_config(tmp_path, covid_lungs)
    work_dir = str(tmp_path / 'work')
    proc = run_python([repo_path('tools', 'train.py'), config, '--work-dir',
                       work_dir] + amp)
    log = proc.stdout + proc.stderr
    # Every task trained on the GPU: a cls pass, loc lock/release, seg
    # lock/release per dataset, each pass logging finite task losses.
    records = [r for r in scalar_records(work_dir) if 'loss' in r]
    keys = set().union(*records)
    for key in ('cls.loss_cls', 'loc.loss_cls', 'seg.loss_dice',
                'loss_cons_backbone', 'loss_cons_loc_encoder',
                'loss_cons_seg_decoder'):
        assert key in keys, (key, sorted(keys), log[-3000:])
    for r in records:
        assert all(v == v and abs(v) != float('inf') for k, v in r.items()
                   if k.startswith(('loss', 'cls.', 'loc.', 'seg.'))), r
    last = max(glob.glob(osp.join(work_dir, 'epoch_*.pth')),
               key=lambda p: int(osp.basename(p)[6:-4]))
    assert last.endswith('epoch_10.pth')  # 2 cls + 4 loc + 4 seg passes
    ckpt = torch.load(last, map_location='cpu', weights_only=False)
    teacher = {k: v for k, v in ckpt['state_dict'].items()
               if k.startswith('teacher.') and v.is_floating_point()}
    assert teacher and all(v.dtype == torch.float32 for v in teacher.values())
    if amp:
        assert 'loss_scaler' in ckpt['optimizer']


@pytest.mark.parametrize('config', [
    ('configs', 'tiny', 'fx_cls_tiny_3ds.py'),
    # The released checkpoints' network (its own UperNet, layer-shared DINO
    # head and refining decoder), at tiny sizes.
    ('configs', 'reference', 'fx_cls_reference_tiny.py')])
def test_cpu_and_gpu_losses_agree(config):
    """Same weights, same batch: every task's losses on the CPU and on the
    GPU agree within rtol 1e-3 / atol 1e-4 (fp32, TF32 off; randomness
    removed: no dropout or drop-path, zero denoising noise)."""
    cfg = Config.fromfile(repo_path(*config))
    cfg.model.segmentation.dropout_ratio = 0.0
    if 'psp_dropout' in cfg.model.segmentation:  # the reference UperNet's
        cfg.model.segmentation.psp_dropout = 0.0
    cfg.model.localization.dn_cfg.label_noise_scale = 1e-9
    cfg.model.localization.dn_cfg.box_noise_scale = 1e-9
    cpu_model = build_initialised_model(cfg).train()
    gpu_model = build_initialised_model(cfg).cuda().train()
    gpu_model.load_state_dict(cpu_model.state_dict())
    prev = (torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        for task, dataset, n in (('cls', 'ChestX-Det', 13),
                                 ('loc', 'ChestX-Det', 13),
                                 ('seg', 'SIIM-ACR', 1)):
            batch = make_batch(task, dataset, n, size=64, seed=3)
            cpu = cpu_model(**cpu_model.data_preprocessor(batch, True),
                            mode='loss')
            gpu = gpu_model(**gpu_model.data_preprocessor(batch, True),
                            mode='loss')
            assert sorted(cpu) == sorted(gpu)
            for key in cpu:
                a, b = cpu_model.parse_losses({key: cpu[key]})[0], \
                    gpu_model.parse_losses({key: gpu[key]})[0]
                assert b.is_cuda
                torch.testing.assert_close(b.cpu(), a, rtol=1e-3, atol=1e-4,
                                           msg=f'{task} {key}')
    finally:
        (torch.backends.cuda.matmul.allow_tf32,
         torch.backends.cudnn.allow_tf32) = prev


def test_predict_all_and_infer_tool_on_gpu(tmp_path):
    """FXInferencer on the GPU gives the CPU's predictions for the same
    weights, and tools/infer.py runs on the GPU (its default there)."""
    from fx_mm.apis import FXInferencer
    cfg = repo_path('configs', 'tiny', 'fx_cls_tiny_3ds.py')
    model = build_initialised_model(Config.fromfile(cfg))
    ckpt = str(tmp_path / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    images = sorted(glob.glob(osp.join(BUNDLED_COVID, 'images', '*')))[:3]
    assert images, BUNDLED_COVID
    gpu_infer = FXInferencer(cfg, ckpt)
    assert next(gpu_infer.model.parameters()).is_cuda  # CUDA by default
    gpu = gpu_infer(images)
    cpu = FXInferencer(cfg, ckpt, device='cpu')(images)
    for g, c in zip(gpu, cpu):
        assert 'error' not in g
        for name, probs in c['cls'].items():
            for cls_name, p in probs.items():
                assert abs(g['cls'][name][cls_name] - p) < 1e-3
        for name, masks in c['seg'].items():
            for cls_name, m in masks.items():
                assert (g['seg'][name][cls_name] != m).mean() < 0.01
        assert set(g['loc']) == set(c['loc'])
    out = tmp_path / 'out'
    proc = run_python([repo_path('tools', 'infer.py'), cfg, ckpt,
                       '--out-dir', str(out)] + images)
    assert '3 image(s) written' in proc.stdout
    for image in images:
        stem = osp.splitext(osp.basename(image))[0]
        with open(out / f'{stem}.json') as f:
            assert set(json.load(f)['classification']) == set(gpu[0]['cls'])
        assert (out / f'{stem}_overlay.png').is_file()
