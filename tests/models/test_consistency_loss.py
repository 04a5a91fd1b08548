"""How Foundation X mixes task and consistency losses (SPEC and the
reference code): task_weight * task + weight * mean over the pass's
trainable places of the MSE of channel-normalised features, with the same
task weight in lock and release passes."""
import copy

import pytest
import torch
from mmengine.config import Config

from fx_mm.models.detectors.foundation_x import consistency_mse
from fx_mm.testing import make_batch
from fx_mm.utils import build_initialised_model
from tests.conftest import repo_path

TINY_3DS = repo_path('configs', 'tiny', 'fx_cls_tiny_3ds.py')


def build(**consistency):
    cfg = Config.fromfile(TINY_3DS)
    cfg.model.segmentation.dropout_ratio = 0.0  # same forward twice
    model = build_initialised_model(
        cfg, consistency=dict(cfg.model.consistency, **consistency))
    with torch.no_grad():  # a teacher that differs from the student
        g = torch.Generator().manual_seed(0)
        for p in model.teacher.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model.train()


def seg_losses(model, lock):
    for p in model.student_parameters():
        p.requires_grad_(not lock)
    for p in model.head_of('seg', 'SIIM-ACR').parameters():
        p.requires_grad_(True)
    data = model.data_preprocessor(make_batch('seg', 'SIIM-ACR', 1, seed=1),
                                   True)
    return {k: float(model.parse_losses({k: v})[0].detach())
            for k, v in model(**data, mode='loss').items()}


def test_task_weight_is_the_same_in_lock_and_release_passes():
    model = build()
    release, lock = seg_losses(model, False), seg_losses(model, True)
    assert 'loss_cons_seg_decoder' in release  # trainable places compared
    assert not any(k.startswith('loss_cons') for k in lock)  # all frozen
    task_keys = [k for k in lock if k.startswith('seg.')]
    assert 'seg.loss_dice' in task_keys and len(task_keys) >= 2  # Dice, BCE
    for key in task_keys:
        assert lock[key] == pytest.approx(release[key], rel=1e-6)
    # and the weight is the configured 0.5 in both
    plain = build(places=())
    assert seg_losses(plain, True)['seg.loss_dice'] == pytest.approx(
        2 * lock['seg.loss_dice'], rel=1e-6)


def test_consistency_is_weight_times_the_mean_over_places():
    model = build()
    data = model.data_preprocessor(make_batch('loc', 'TBX11K', 1, seed=2),
                                   True)
    losses = model(**copy.deepcopy(data), mode='loss')
    places = ('backbone', 'loc_encoder')
    assert {f'loss_cons_{p}' for p in places} == {
        k for k in losses if k.startswith('loss_cons')}
    # the two MSEs, computed here from the features themselves
    with torch.no_grad():
        s_feats = model.extract_feat(data['inputs'])
        t_feats = model.extract_feat(data['inputs'], teacher=True)
        s_mem = model.loc.encode(model.loc.extract_feat(s_feats),
                                 data['data_samples'])[0]['memory']
        t_mem = model.teacher['loc'].encode(
            model.teacher['loc'].extract_feat(t_feats),
            data['data_samples'])[0]['memory']
    mse = dict(backbone=float(consistency_mse(s_feats, t_feats, 'backbone')),
               loc_encoder=float(consistency_mse(s_mem, t_mem, 'loc_encoder')))
    total = sum(float(losses[f'loss_cons_{p}'].detach()) for p in places)
    assert total == pytest.approx(0.5 * (mse['backbone'] + mse['loc_encoder'])
                                  / 2, rel=1e-4)


@pytest.mark.parametrize('place,shape', [('backbone', (2, 32, 8, 8)),
                                         ('loc_encoder', (2, 50, 256)),
                                         ('seg_decoder', (2, 64, 16, 16))])
def test_normalised_term_ignores_the_features_scale(place, shape):
    g = torch.Generator().manual_seed(3)
    s, t = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    term = consistency_mse(s, t, place)
    assert float(consistency_mse(100 * s, 100 * t, place)) == pytest.approx(
        float(term), rel=1e-5)
    channels = shape[-1] if place == 'loc_encoder' else shape[1]
    assert 0 < float(term) <= 4 / channels
    # without normalisation it is the raw MSE, which scales with k^2
    raw = consistency_mse(s, t, place, normalize=False)
    assert float(consistency_mse(100 * s, 100 * t, place, normalize=False)
                 ) == pytest.approx(1e4 * float(raw), rel=1e-5)
