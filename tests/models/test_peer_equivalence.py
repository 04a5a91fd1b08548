"""The Foundation X branches against the toolboxes' stock models.

With one dataset, no teacher and no consistency, the localization branch must
be mmdet's DINO and the segmentation branch mmseg's UPerHead: same weights,
same seed -> same losses and same predictions.
"""
import copy

import pytest
import torch
from mmdet.registry import MODELS as DET_MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS as SEG_MODELS

from fx_mm.utils import build_model_from_cfg
from tests.conftest import repo_path
from fx_mm.testing import make_batch

TINY = repo_path('configs', 'tiny', 'fx_cls_tiny_3ds.py')


def _loc_only_models():
    cfg = Config.fromfile(TINY)
    cfg.model.update(
        datasets=[dict(name='ChestX-Det', loc=dict(classes=list('abcdefg')))],
        teacher=False, consistency=None)
    init_default_scope('mmdet')
    torch.manual_seed(0)
    fx = build_model_from_cfg(cfg)
    fx.init_weights()

    # Stock DINO: the same Swin (stages 1..3 out) and the same DINO settings.
    loc = copy.deepcopy(cfg.model.localization.to_dict())
    for key in ('type', 'datasets', 'backbone'):
        loc.pop(key, None)
    backbone = copy.deepcopy(cfg.model.backbone.to_dict())
    backbone['out_indices'] = (1, 2, 3)
    loc['bbox_head']['num_classes'] = 7
    dino = DET_MODELS.build(dict(
        type='DINO', backbone=backbone,
        data_preprocessor=cfg.model.data_preprocessor.to_dict(), **loc))

    # Map Foundation X keys onto DINO's and load.
    mapped = {}
    for key, value in fx.state_dict().items():
        if key.startswith('backbone.'):
            mapped[key] = value
        elif key.startswith('loc.per_dataset.ChestX-Det.'):
            mapped[key[len('loc.per_dataset.ChestX-Det.'):]] = value
        elif key.startswith('loc.'):
            mapped[key[len('loc.'):]] = value
    missing, unexpected = dino.load_state_dict(mapped, strict=False)
    assert missing == []
    # Only the stage-0 norm, which DINO's Swin (out_indices 1..3) lacks.
    assert all(k.startswith('backbone.norm0') for k in unexpected), unexpected
    return fx, dino


def test_localization_branch_is_mmdet_dino():
    fx, dino = _loc_only_models()
    batch = make_batch('loc', 'ChestX-Det', 7, size=96, seed=3)

    fx.train(), dino.train()
    torch.manual_seed(123)
    fx_losses = fx(**fx.data_preprocessor(copy.deepcopy(batch), True),
                   mode='loss')
    fx_losses = {k[len('loc.'):]: v for k, v in fx_losses.items()}
    torch.manual_seed(123)
    dino_losses = dino(**dino.data_preprocessor(copy.deepcopy(batch), True),
                       mode='loss')
    assert set(fx_losses) == set(dino_losses)
    assert len(fx_losses) > 10  # encoder, dn and per-layer decoder losses
    for key in dino_losses:
        torch.testing.assert_close(fx_losses[key], dino_losses[key],
                                   msg=f'loss {key} differs')

    fx.eval(), dino.eval()
    with torch.no_grad():
        fx_pred = fx(**fx.data_preprocessor(copy.deepcopy(batch), False),
                     mode='predict')
        dino_pred = dino(**dino.data_preprocessor(batch, False),
                         mode='predict')
    for a, b in zip(fx_pred, dino_pred):
        torch.testing.assert_close(a.pred_instances.bboxes,
                                   b.pred_instances.bboxes)
        torch.testing.assert_close(a.pred_instances.scores,
                                   b.pred_instances.scores)
        assert torch.equal(a.pred_instances.labels, b.pred_instances.labels)


@pytest.mark.parametrize('num_classes', [3])
def test_segmentation_branch_is_mmseg_uperhead(num_classes):
    common = dict(in_channels=[16, 32, 64, 128], in_index=[0, 1, 2, 3],
                  channels=16, pool_scales=(1, 2, 3, 6), dropout_ratio=0.0,
                  norm_cfg=dict(type='BN', requires_grad=True),
                  align_corners=False)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    ours = SEG_MODELS.build(dict(
        type='MultiHeadUPerHead', datasets=dict(JSRT=num_classes),
        dice_per_class=False,
        loss_decode=[
            dict(type='mmdet.DiceLoss', use_sigmoid=True, naive_dice=True),
            dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True)
        ], **common))
    ours.init_weights()
    stock = SEG_MODELS.build(dict(
        type='UPerHead', num_classes=num_classes,
        loss_decode=[
            dict(type='DiceLoss', use_sigmoid=True, naive_dice=True),
            dict(type='CrossEntropyLoss', use_sigmoid=True)
        ], **common))
    state = {k.replace('per_dataset.JSRT.', ''): v
             for k, v in ours.state_dict().items()}
    stock.load_state_dict(state, strict=True)

    g = torch.Generator().manual_seed(1)
    feats = [torch.randn(2, c, 64 // 2**i, 64 // 2**i, generator=g)
             for i, c in enumerate(common['in_channels'])]
    # One class per pixel, so mmseg's label map and our multi-label mask
    # (its one-hot) say the same thing.
    label_map = torch.randint(0, num_classes, (2, 1, 256, 256), generator=g)
    one_hot = torch.nn.functional.one_hot(label_map[:, 0], num_classes)
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    meta = dict(dataset='JSRT', task='seg', img_shape=(256, 256),
                pad_shape=(256, 256), ori_shape=(256, 256))
    ours_samples = [SegDataSample(metainfo=meta, gt_sem_seg=PixelData(
        data=one_hot[i].permute(2, 0, 1).to(torch.uint8))) for i in range(2)]
    stock_samples = [SegDataSample(metainfo=meta, gt_sem_seg=PixelData(
        data=label_map[i])) for i in range(2)]

    ours.train(), stock.train()
    ours_losses = ours.loss(feats, ours_samples, train_cfg={})
    stock_losses = stock.loss(feats, stock_samples, train_cfg={})
    torch.testing.assert_close(ours_losses['loss_dice'],
                               stock_losses['loss_dice'])
    torch.testing.assert_close(ours_losses['loss_crossentropy'],
                               stock_losses['loss_ce'])

    ours.eval(), stock.eval()
    with torch.no_grad():
        a = ours.predict(feats, [meta, meta], test_cfg={})
        b = stock.predict(feats, [meta, meta], test_cfg={})
    torch.testing.assert_close(a, b)
    assert a.shape == (2, num_classes, 256, 256)
