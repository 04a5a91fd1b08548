"""tools/convert_swin.py: official / timm Swin weights into the backbone.

The source checkpoints are written here with the official Swin repository's
key names and shapes (the independent fact), for the tiny config's Swin
(embed 32, depths 2-2-2-2, heads 1-2-4-8) trained with window 7.
"""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope

from fx_mm.utils import build_initialised_model
from fx_mm.utils.swin_conversion import (convert_swin, target_template,
                                         unwrap_state_dict)
from tests.conftest import repo_path, run_python

TINY = repo_path('configs', 'tiny', 'fx_cls_tiny.py')
DIMS, DEPTHS, HEADS = 32, (2, 2, 2, 2), (1, 2, 4, 8)


def official_swin_state(window: int = 7, seed: int = 0) -> dict:
    """Random weights under the official Swin repository's key names."""
    g = torch.Generator().manual_seed(seed)

    def t(*shape):
        return torch.randn(*shape, generator=g)

    state = {'patch_embed.proj.weight': t(DIMS, 3, 4, 4),
             'patch_embed.proj.bias': t(DIMS),
             'patch_embed.norm.weight': t(DIMS),
             'patch_embed.norm.bias': t(DIMS)}
    for i, (depth, heads) in enumerate(zip(DEPTHS, HEADS)):
        d = DIMS * 2 ** i
        for j in range(depth):
            p = f'layers.{i}.blocks.{j}.'
            state.update({
                p + 'norm1.weight': t(d), p + 'norm1.bias': t(d),
                p + 'attn.relative_position_bias_table':
                    t((2 * window - 1) ** 2, heads),
                p + 'attn.relative_position_index':
                    torch.zeros(window ** 2, window ** 2, dtype=torch.long),
                p + 'attn.qkv.weight': t(3 * d, d), p + 'attn.qkv.bias':
                    t(3 * d),
                p + 'attn.proj.weight': t(d, d), p + 'attn.proj.bias': t(d),
                p + 'norm2.weight': t(d), p + 'norm2.bias': t(d),
                p + 'mlp.fc1.weight': t(4 * d, d), p + 'mlp.fc1.bias': t(4 * d),
                p + 'mlp.fc2.weight': t(d, 4 * d), p + 'mlp.fc2.bias': t(d)})
            if j % 2:
                state[p + 'attn_mask'] = torch.zeros(4, window ** 2,
                                                     window ** 2)
        if i < len(DEPTHS) - 1:
            state[f'layers.{i}.downsample.reduction.weight'] = t(2 * d, 4 * d)
            state[f'layers.{i}.downsample.norm.weight'] = t(4 * d)
            state[f'layers.{i}.downsample.norm.bias'] = t(4 * d)
    final = DIMS * 8
    state.update({'norm.weight': t(final), 'norm.bias': t(final),
                  'head.weight': t(1000, final), 'head.bias': t(1000)})
    return state


def timm_layout(official: dict) -> dict:
    """The same weights under timm >= 0.9 names (merge at a stage's start)."""
    out = {}
    for key, value in official.items():
        if '.downsample.' in key:
            stage = int(key.split('.')[1])
            key = key.replace(f'layers.{stage}.', f'layers.{stage + 1}.')
        key = {'head.weight': 'head.fc.weight',
               'head.bias': 'head.fc.bias'}.get(key, key)
        out[key] = value
    return out


@pytest.fixture(scope='module')
def template():
    # Under mmdet's default scope, as in training: a registry lookup would
    # find mmdet's SwinTransformer there.
    DefaultScope.get_instance('convert_swin_test', scope_name='mmdet')
    swin, state = target_template(Config.fromfile(TINY).model.backbone)
    return swin, state


def test_every_weight_lands_and_only_unmatched_keys_are_reported(template):
    swin, target = template
    source = official_swin_state(window=4)
    result = convert_swin(source, target)
    assert result.layout == 'official'
    missing, unexpected = swin.load_state_dict(result.state_dict,
                                               strict=False)
    assert unexpected == []
    # Besides the index buffers the model derives from its window, only the
    # per-stage output norms the official model does not have are missing.
    missing = [k for k in missing
               if not k.endswith('relative_position_index')]
    assert sorted(missing) == sorted(result.missing) == sorted(
        f'norm{i}.{p}' for i in range(3) for p in ('weight', 'bias'))
    assert result.unmatched == ['head.bias', 'head.weight']
    assert len(result.derived) == 8 + 4  # 8 index tables, 4 shifted masks
    pairs = [('layers.1.blocks.0.attn.qkv.weight',
              'stages.1.blocks.0.attn.w_msa.qkv.weight'),
             ('layers.2.blocks.1.mlp.fc1.bias',
              'stages.2.blocks.1.ffn.layers.0.0.bias'),
             ('layers.3.blocks.1.mlp.fc2.weight',
              'stages.3.blocks.1.ffn.layers.1.weight'),
             ('patch_embed.proj.weight', 'patch_embed.projection.weight'),
             ('norm.weight', 'norm3.weight'),
             ('layers.0.blocks.1.attn.relative_position_bias_table',
              'stages.0.blocks.1.attn.w_msa.relative_position_bias_table')]
    for src, dst in pairs:
        assert torch.equal(result.state_dict[dst], source[src]), dst


def test_patch_merging_matches_the_official_computation(template):
    """The merged features equal the official cat-norm-linear on any input."""
    swin, target = template
    source = official_swin_state(window=4)
    swin.load_state_dict(convert_swin(source, target).state_dict,
                         strict=False)
    merge = swin.stages[1].downsample
    h = w = 8
    x = torch.randn(2, h * w, 2 * DIMS)
    ours, hw = merge(x, (h, w))
    grid = x.view(2, h, w, 2 * DIMS)
    official = torch.cat([grid[:, 0::2, 0::2], grid[:, 1::2, 0::2],
                          grid[:, 0::2, 1::2], grid[:, 1::2, 1::2]], -1)
    official = F.layer_norm(official, (8 * DIMS,),
                            source['layers.1.downsample.norm.weight'],
                            source['layers.1.downsample.norm.bias'])
    official = official.view(2, -1, 8 * DIMS) @ \
        source['layers.1.downsample.reduction.weight'].T
    assert hw == (4, 4)
    torch.testing.assert_close(ours, official, rtol=1e-4, atol=1e-4)
    # Loading the tensors without the order correction runs but is wrong.
    with torch.no_grad():
        merge.reduction.weight.copy_(
            source['layers.1.downsample.reduction.weight'])
        merge.norm.weight.copy_(source['layers.1.downsample.norm.weight'])
        merge.norm.bias.copy_(source['layers.1.downsample.norm.bias'])
    assert not torch.allclose(merge(x, (h, w))[0], official, atol=1e-2)


def test_timm_layout_gives_the_same_weights(template):
    _, target = template
    source = official_swin_state(window=4)
    official = convert_swin(source, target)
    timm = convert_swin(timm_layout(source), target)
    assert timm.layout == 'timm'
    assert official.state_dict.keys() == timm.state_dict.keys()
    for key, value in official.state_dict.items():
        assert torch.equal(value, timm.state_dict[key]), key
    assert timm.unmatched == ['head.fc.bias', 'head.fc.weight']


def test_relative_position_tables_are_resized(template):
    swin, target = template
    source = official_swin_state(window=7)  # 13 x 13 tables, target 7 x 7
    key = 'layers.2.blocks.0.attn.relative_position_bias_table'
    source[key] = torch.full((169, 4), 0.25)
    result = convert_swin(source, target)
    table = result.state_dict[
        'stages.2.blocks.0.attn.w_msa.relative_position_bias_table']
    assert table.shape == (49, 4)
    torch.testing.assert_close(table, torch.full((49, 4), 0.25))
    assert len(result.resized) == sum(DEPTHS)
    assert '(169, 4) -> (49, 4)' in ' '.join(result.resized)


def test_wrong_architecture_is_named(template):
    _, target = template
    source = official_swin_state(window=4)
    source['layers.1.blocks.0.attn.qkv.weight'] = torch.zeros(12, 4)
    with pytest.raises(ValueError, match='layers.1.blocks.0.attn.qkv.weight'):
        convert_swin(source, target)
    with pytest.raises(ValueError, match='not an official / timm Swin'):
        convert_swin({'stages.0.x': torch.zeros(1)}, target)


def test_ark_style_container_is_unwrapped():
    weights = {'module.layers.0.blocks.0.norm1.weight': torch.ones(2),
               'module.projector.weight': torch.ones(2)}
    state = unwrap_state_dict({'teacher': weights, 'epoch': 3})
    assert set(state) == {'layers.0.blocks.0.norm1.weight', 'projector.weight'}
    with pytest.raises(KeyError, match='student'):
        unwrap_state_dict({'teacher': weights}, key='student')


def test_tool_writes_a_checkpoint_the_config_initialises_from(tmp_path):
    source = official_swin_state(window=7)
    src = tmp_path / 'ark_like.pth'
    torch.save({'teacher': {f'module.{k}': v for k, v in source.items()},
                'epoch': 200}, src)
    out = tmp_path / 'converted.pth'
    proc = run_python([repo_path('tools', 'convert_swin.py'), str(src),
                       str(out), '--config', TINY])
    assert 'layout: official' in proc.stdout
    assert 'unmatched source keys (left out): 2' in proc.stdout
    assert 'resized: 8' in proc.stdout
    assert not run_python([repo_path('tools', 'convert_swin.py'), str(src),
                           str(src), '--config', TINY],
                          check=False).returncode == 0
    # The written file initialises FoundationX's backbone (and its teacher).
    cfg = Config.fromfile(TINY)
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(out),
                                       prefix='backbone.')
    model = build_initialised_model(cfg)
    qkv = source['layers.3.blocks.1.attn.qkv.weight']
    assert torch.equal(
        model.backbone.stages[3].blocks[1].attn.w_msa.qkv.weight, qkv)
    assert torch.equal(
        model.teacher['backbone'].stages[3].blocks[1].attn.w_msa.qkv.weight,
        qkv)


class _RunsOnLoad:
    """Unpickling this runs code: the file that holds it writes a marker."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def test_a_file_that_pickles_code_is_refused_without_running_it(tmp_path):
    source = official_swin_state(window=7)
    src = tmp_path / 'untrusted.pth'
    marker = tmp_path / 'code_ran'
    torch.save({'teacher': source, 'hook': _RunsOnLoad(str(marker))}, src)
    proc = run_python([repo_path('tools', 'convert_swin.py'), str(src),
                       str(tmp_path / 'out.pth'), '--config', TINY],
                      check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert not marker.exists(), 'the checkpoint ran code while loading'
    assert str(src) in proc.stderr and 'weights-only' in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not (tmp_path / 'out.pth').exists()


def test_ark_checkpoint_with_its_argparse_namespace_converts(tmp_path):
    import argparse
    source = official_swin_state(window=7)
    src = tmp_path / 'ark6_teacher.pth.tar'
    torch.save({'teacher': source, 'epoch': 200,
                'args': argparse.Namespace(lr=1e-4)}, src)
    out = tmp_path / 'converted.pth'
    run_python([repo_path('tools', 'convert_swin.py'), str(src), str(out),
                '--config', TINY])
    assert out.exists()
