"""Each checkpoint carries its validation metrics; the inferencer, infer.py
and the overlays mark a classification head at chance as such."""
import json
import os.path as osp

import numpy as np
import torch

from fx_mm.visualization import draw_overlay
from tests.conftest import BUNDLED_COVID, repo_path, run_python


def meta_of(path):
    return torch.load(path, map_location='cpu',
                      weights_only=False)['meta']['fx_val_metrics']


def test_every_checkpoint_holds_its_own_validation(trained_tiny):
    work_dir = trained_tiny[0]
    for k in (1, 5, 10):  # validated after every pass in this run
        meta = meta_of(osp.join(work_dir, f'epoch_{k}.pth'))
        assert meta['pass_'] == k
        for key in ('CovidLungs/cls/AUC', 'CovidLungs/loc/mAP40',
                    'LungMasks/seg/Dice'):
            assert isinstance(meta['metrics'][key], float), key


def with_metrics(trained_tiny, tmp_path, aucs):
    """The run's last checkpoint with chosen validation AUCs."""
    work_dir, config, _ = trained_tiny
    ckpt = torch.load(osp.join(work_dir, 'epoch_10.pth'), map_location='cpu',
                      weights_only=False)
    metrics = ckpt['meta']['fx_val_metrics']['metrics']
    for dataset, auc in aucs.items():
        metrics[f'{dataset}/cls/AUC'] = auc
    path = str(tmp_path / 'ckpt.pth')
    torch.save(ckpt, path)
    return config, path


def test_heads_at_chance_are_reported_in_json_and_overlay(trained_tiny,
                                                          tmp_path):
    from fx_mm.apis import FXInferencer
    config, ckpt = with_metrics(trained_tiny, tmp_path,
                                dict(CovidLungs=0.55, CovidBoxes=0.91))
    image = osp.join(BUNDLED_COVID, 'images', '000001-2.png')
    result = FXInferencer(config, ckpt, device='cpu')(image)[0]
    validation = result['validation']
    assert validation['pass_'] == 10
    assert validation['metrics']['CovidBoxes']['cls']['AUC'] == 0.91
    assert validation['at_chance'] == {'CovidLungs': 0.55}
    assert validation['cautions'] == [
        'CovidLungs: classification at chance (validation AUC 0.55 at pass '
        '10); its probabilities carry no information']
    # the overlay lists the caution in red; without it, no red text
    red = np.array([80, 80, 255])

    def red_pixels(res):
        img = draw_overlay(res['image'], res)
        return int((np.abs(img.astype(int) - red).sum(-1) < 30).sum())

    assert red_pixels(result) > 0
    assert red_pixels(dict(result, validation=None)) == 0
    out = tmp_path / 'out'
    run_python([repo_path('tools', 'infer.py'), config, ckpt, image,
                '--out-dir', str(out), '--device', 'cpu'])
    with open(out / '000001-2.json') as f:
        written = json.load(f)
    assert written['cautions'] == validation['cautions']
    assert written['validation']['at_chance'] == {'CovidLungs': 0.55}


def test_validation_once_per_cycle_reaches_the_checkpoints_after_it(
        tmp_path):
    """val_by='cycle': a checkpoint saved before any validation carries none,
    the checkpoint of the validated pass is rewritten with its metrics, and
    a later (mid-cycle) checkpoint carries that validation, ``pass_`` naming
    the pass it followed."""
    from types import SimpleNamespace

    from fx_mm.engine.hooks import ValMetricsInCheckpointHook
    hook = ValMetricsInCheckpointHook()
    runner = SimpleNamespace(epoch=1, work_dir=str(tmp_path))
    first = dict(state_dict={}, meta={})
    hook.before_save_checkpoint(runner, first)  # pass 1, no validation yet
    assert 'fx_val_metrics' not in first['meta']
    # Pass 3 ends the cycle: its checkpoint is saved, then validation runs.
    runner.epoch = 3
    torch.save(dict(state_dict={}, meta={}), tmp_path / 'epoch_3.pth')
    hook.after_val_epoch(runner, {'CovidLungs/cls/AUC': 0.75})
    assert meta_of(tmp_path / 'epoch_3.pth') == dict(
        pass_=3, metrics={'CovidLungs/cls/AUC': 0.75})
    # Pass 4, mid-cycle: the latest validation is pass 3's.
    runner.epoch = 4
    mid = dict(state_dict={}, meta={})
    hook.before_save_checkpoint(runner, mid)
    assert mid['meta']['fx_val_metrics']['pass_'] == 3
