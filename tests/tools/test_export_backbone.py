"""tools/export_backbone.py: the teacher backbone as mmpretrain / plain Swin."""
import os.path as osp

import torch
from mmpretrain.models import SwinTransformer

from tests.conftest import repo_path, run_python


def test_exported_teacher_backbone_loads_into_mmpretrain_swin(trained_tiny,
                                                              tmp_path):
    work_dir, config, _ = trained_tiny
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    out = str(tmp_path / 'swin')
    run_python([repo_path('tools', 'export_backbone.py'), config, ckpt, out])
    exported = torch.load(f'{out}_mmpretrain.pth', map_location='cpu')
    meta = exported['meta']['backbone']
    assert meta['type'] == 'SwinTransformer'
    assert exported['meta']['weights'] == 'teacher'
    swin = SwinTransformer(**{k: v for k, v in meta.items() if k != 'type'})
    swin.load_state_dict(torch.load(f'{out}_state_dict.pth'), strict=True)
    teacher = torch.load(ckpt, map_location='cpu')['state_dict']
    for key, value in swin.state_dict().items():
        assert torch.equal(value, teacher[f'teacher.backbone.{key}']), key
        assert torch.equal(exported['state_dict'][f'backbone.{key}'], value)
    swin.eval()
    x = torch.randn(1, 3, 64, 64)
    assert [f.shape[1] for f in swin(x)] == [32, 64, 128, 256]
