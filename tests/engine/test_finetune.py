"""Fine-tuning: a Foundation X checkpoint into a config with other heads."""
import glob
import os.path as osp

import torch
from mmengine.config import Config

from fx_mm.engine import load_foundation_x
from fx_mm.utils import build_initialised_model
from tests.conftest import repo_path, run_python

FT = repo_path('configs', 'tiny', 'finetune_tiny.py')


def last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def test_teacher_weights_load_and_keys_are_reported(trained_tiny):
    ckpt = last_checkpoint(trained_tiny[0])
    model = build_initialised_model(Config.fromfile(FT))
    report = load_foundation_x(model, ckpt)
    teacher = torch.load(ckpt, map_location='cpu')['state_dict']
    own = model.state_dict()
    # Loaded: the teacher's backbone and CovidLungs' own heads.
    for key in ('backbone.patch_embed.projection.weight',
                'cls_heads.CovidLungs.fc.weight',
                'loc.per_dataset.CovidLungs.decoder.layers.0.norms.0.weight'):
        assert key in report['loaded']
        assert torch.equal(own[key], teacher['teacher.' + key]), key
    assert not torch.equal(own['backbone.patch_embed.projection.weight'],
                           teacher['backbone.patch_embed.projection.weight'])
    # New head: random, reported missing; dropped heads: reported unexpected.
    assert 'seg.per_dataset.LungsTwice.conv_seg.weight' in report['missing']
    assert any(k.startswith('loc.per_dataset.CovidBoxes.')
               for k in report['unexpected'])
    assert any(k.startswith('seg.per_dataset.LungMasks.')
               for k in report['unexpected'])
    assert not any(k.startswith('teacher.') for k in report['loaded'])


def test_finetune_run_through_train_tool(trained_tiny, covid_lungs, tmp_path):
    ckpt = last_checkpoint(trained_tiny[0])
    work_dir = str(tmp_path / 'ft')
    proc = run_python([
        repo_path('tools', 'train.py'), FT, '--work-dir', work_dir,
        '--cfg-options', f'custom_hooks.0.checkpoint={ckpt}',
        f'fx_datasets.0.data_root={covid_lungs}',
        f'fx_datasets.1.data_root={covid_lungs}',
        'fx_datasets.0.cls.train.indices=4', 'fx_datasets.0.loc.train.indices=4',
        'fx_datasets.1.seg.train.indices=4', 'fx_datasets.0.cls.val.indices=2',
        'fx_datasets.0.loc.val.indices=2', 'fx_datasets.1.seg.val.indices=2',
        'default_hooks.checkpoint.interval=-1'])  # the last pass's only
    log = open(glob.glob(osp.join(work_dir, '*', '*.log'))[0]).read()
    assert f'Loaded the teacher of {ckpt}' in log
    assert 'new in this config (random init): seg.per_dataset.LungsTwice' in log
    assert 'not in this config (ignored):' in log and 'CovidBoxes' in log
    before = build_initialised_model(Config.fromfile(FT))
    load_foundation_x(before, ckpt)
    # Passes: CovidLungs cls, CovidLungs loc, LungsTwice seg (no lock).
    after = torch.load(osp.join(work_dir, 'epoch_3.pth'),
                       map_location='cpu')['state_dict']
    # Frozen for the whole run (head-only fine-tuning) ...
    for key in ('backbone.patch_embed.projection.weight',
                'loc.encoder.layers.0.ffn.layers.1.weight'):
        assert torch.equal(before.state_dict()[key], after[key]), key
    # ... while the new head and the decoders trained.
    for key in ('seg.per_dataset.LungsTwice.conv_seg.weight',
                'loc.per_dataset.CovidLungs.query_embedding.weight'):
        assert not torch.equal(before.state_dict()[key], after[key]), key
    assert proc.returncode == 0
