"""tools/convert_foundation_x.py: reference Foundation X checkpoints for fx_mm.

The source checkpoints are synthetic: random tensors under the reference
state dict's key names and shapes, as recorded from the reference code in
tests/fixtures/foundation_x_reference/manifest_tiny.json (independent of
fx_mm's module names), with the manifest's shared tensors shared. Where the
two layouts differ, the reference's is re-derived here from its definition
(shapes, orders and formulas only) and evaluated on the same weights.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from mmcv.ops.multi_scale_deform_attn import \
    multi_scale_deformable_attn_pytorch
from mmengine.config import Config

from fx_mm.utils import build_model_from_cfg
from fx_mm.utils.foundation_x_conversion import (NotAReferenceCheckpoint,
                                                 build_template,
                                                 convert_reference_file,
                                                 parse_offset_option,
                                                 read_reference,
                                                 resolve_offsets, to_reference)
from fx_mm.utils.swin_conversion import convert_swin
from tests.conftest import REPO, load_tool, repo_path
from tests.test_readme_own_dataset import (bash_commands, code_blocks,
                                           readme_section)

TINY = repo_path('configs', 'reference', 'fx_cls_reference_tiny.py')
FULL = repo_path('configs', 'reference', 'fx_cls_reference.py')
MANIFEST = repo_path('tests', 'fixtures', 'foundation_x_reference',
                     'manifest_tiny.json')
LOC = ['TBX11K', 'NODE21', 'CANDID-PTX', 'RSNA-Pneumonia', 'ChestX-Det',
       'SIIM-ACR']


def _tool():
    return load_tool('tools', 'convert_foundation_x.py')


tool = _tool()


# ------------------------------------------------------ synthetic sources
def official_relative_position_index(window: int) -> torch.Tensor:
    """The Swin paper's index of a window's (2w-1)^2 relative positions:
    row offset shifted and scaled by 2w-1, plus column offset shifted."""
    coords = torch.stack(torch.meshgrid(torch.arange(window),
                                        torch.arange(window),
                                        indexing='ij')).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    return (rel[..., 0] + window - 1) * (2 * window - 1) + rel[..., 1] + \
        window - 1


def reference_state(seed: int = 0) -> dict:
    """Random weights with the tiny reference state dict's keys."""
    manifest = json.load(open(MANIFEST))
    window = manifest['configuration']['swin']['window_size']
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, entry in manifest['keys'].items():
        if 'same_tensor_as' in entry:
            state[key] = state[entry['same_tensor_as']]
        elif key.endswith('relative_position_index'):
            state[key] = official_relative_position_index(window)
        elif entry['dtype'] == 'int64':
            state[key] = torch.randint(0, 1000, entry['shape'], generator=g)
        elif key.endswith('running_var'):
            state[key] = torch.rand(entry['shape'], generator=g) + 0.5
        else:
            state[key] = torch.randn(entry['shape'], generator=g) * 0.1
    return state


def reference_checkpoint(teacher: bool = True) -> dict:
    """As the reference's save_model writes it."""
    ckpt = dict(model=reference_state(0))
    if teacher:
        ckpt['teacher_model'] = reference_state(1)
    ckpt['optimizer'] = dict(state={i: dict(step=torch.tensor(3.0))
                                    for i in range(5)},
                             param_groups=[dict(lr=1e-4)] * 4)
    ckpt['epoch'] = 219
    return ckpt


@pytest.fixture(scope='module')
def template():
    return build_template(TINY)


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('ref') / 'foundation_x.pth')
    ckpt = reference_checkpoint()
    torch.save(ckpt, path)
    return path, ckpt


@pytest.fixture(scope='module')
def converted(source):
    result = convert_reference_file(source[0], TINY)
    assert result.ok
    return result


@pytest.fixture(scope='module')
def model(converted):
    """The tiny reference model with the converted weights, strictly."""
    cfg = Config.fromfile(TINY)
    net = build_model_from_cfg(cfg)
    net.load_state_dict(converted.checkpoint['state_dict'], strict=True)
    return net.eval()


# ---------------------------------------------------------- conversion
def test_synthetic_checkpoint_converts_completely_and_loads_strictly(
        source, converted, model):
    _, ckpt = source
    parts = converted.parts
    assert sorted(parts) == ['student', 'teacher']
    for report in parts.values():
        assert report.unmapped == [] and report.missing == []
        assert report.source_keys == len(ckpt['model']) == 932
        # Every reference key but the Swin's derived index buffers.
        assert len(report.derived) == 8
        assert report.mapped == 932 - 8
        # The class layers of ChestX-Det and NODE21 (10 each: 2 decoder, 2
        # output and 1 proposal layer, weight and bias) and label_enc.
        assert report.reordered == {'patch_merging': 9, 'class_rows': 21}
    state = converted.checkpoint['state_dict']
    own = model.state_dict()
    assert list(state) == list(own)  # student and teacher.*
    meta = converted.checkpoint['meta']['foundation_x_reference']
    assert meta['source'] == source[0] and len(meta['sha256']) == 64
    assert meta['ignored'] == {
        'optimizer': 'optimizer state: 5 parameters in 4 groups',
        'epoch': '219'}
    assert meta['loc_class_offset']['ChestX-Det'] == 1 and meta['teacher']
    assert not meta['teacher_only']
    text = '\n'.join(converted.lines)
    assert 'optimizer: optimizer state: 5 parameters in 4 groups' in text
    assert 'epoch: 219' in text
    # The teacher is the file's teacher, not a copy of its student.
    ref_t = ckpt['teacher_model']['backbone.0.Locnorm1.weight']
    torch.testing.assert_close(state['teacher.backbone.loc_norm1.weight'],
                               ref_t)


def test_names_follow_the_dataset_table(source, converted):
    """Per-dataset modules get the name the config's table gives their
    reference index."""
    ref = source[1]['model']
    state = converted.checkpoint['state_dict']
    cfg = Config.fromfile(TINY)
    table = cfg.foundation_x_reference
    for k, name in enumerate(table.cls_heads):
        assert torch.equal(state[f'cls_heads.{name}.fc.weight'],
                           ref[f'backbone.0.classification_heads.{k}.weight'])
    for t, name in enumerate(table.loc_decoders):
        assert torch.equal(
            state[f'loc.per_dataset.{name}.memory_proj.weight'],
            ref[f'transformer.enc_outputMem_LinearProjection.{t}.weight'])
        assert torch.equal(
            state[f'loc.per_dataset.{name}.decoder.layers.1.norms.0.weight'],
            ref[f'transformer.decoder.{t}.layers.1.norm2.weight'])
        assert torch.equal(
            state[f'loc.per_dataset.{name}.bbox_head.reg_branches.2.4.bias'],
            ref[f'transformer.enc_out_bbox_embed.{t}.layers.2.bias'])
    for k, name in enumerate(table.seg_heads):
        key = (f'seg.per_dataset.{name}.conv_seg.weight' if name else
               f'seg.spare_heads.{k}.weight')
        assert torch.equal(state[key],
                           ref[f'backbone.0.segmentation_heads.{k}.weight'])


# fx_mm key -> reference key of one class layer of each kind, for the
# dataset of reference decoder index t.
CLASS_LAYERS = {
    'loc.per_dataset.{name}.bbox_head.cls_branches.0.weight':
        'class_embed_.{t}.0.weight',
    'loc.per_dataset.{name}.bbox_head.cls_branches.2.bias':
        'transformer.enc_out_class_embed.{t}.bias',
    'loc.per_dataset.{name}.decoder.cls_branches.1.weight':
        'transformer.decoder.{t}.class_embed.1.weight',
}
# The reference code shows 1-based ids for these two only.
DEFAULT_OFFSETS = dict(dict.fromkeys(LOC, 0), **{'ChestX-Det': 1,
                                                 'NODE21': 1})


def _check_rows(state: dict, ref: dict, offsets: dict, label_enc: int):
    """fx_mm class k of dataset d is reference row k + offsets[d] (row 0
    last when the offset is 1); the shared label_enc by its own offset."""
    for t, name in enumerate(LOC):
        for fx, key in CLASS_LAYERS.items():
            got, rows = state[fx.format(name=name)], ref[key.format(t=t)]
            if offsets[name]:
                assert torch.equal(got[:-1], rows[1:]), (name, fx)
                assert torch.equal(got[-1], rows[0]), (name, fx)
            else:
                assert torch.equal(got, rows), (name, fx)
    got = state['loc.dn_query_generator.label_embedding.weight']
    assert torch.equal(got, torch.roll(ref['label_enc.weight'], -label_enc,
                                       0))


def test_class_rows_move_by_each_datasets_offset(source, tmp_path, capsys):
    path, ref = source[0], source[1]['model']
    # Default: ChestX-Det and NODE21 1-based, the other four kept.
    default = convert_reference_file(path, TINY)
    state = default.checkpoint['state_dict']
    _check_rows(state, ref, DEFAULT_OFFSETS, 1)
    _check_rows({k[len('teacher.'):]: v for k, v in state.items()
                 if k.startswith('teacher.')}, source[1]['teacher_model'],
                DEFAULT_OFFSETS, 1)
    meta = default.checkpoint['meta']['foundation_x_reference']
    assert meta['loc_class_offset'] == dict(DEFAULT_OFFSETS, label_enc=1)
    text = '\n'.join(default.lines)
    assert 'ChestX-Det 1 (default: 1-based ids in the reference code)' in text
    assert 'TBX11K 0 (default: no evidence, rows kept)' in text
    # Other layers do not move.
    assert torch.equal(state['loc.query_embedding.weight'],
                       ref['transformer.tgt_embed.weight'])

    out = str(tmp_path / 'out.pth')

    def run(*offsets):
        code = tool.main([path, out, '--config', TINY,
                          '--loc-class-offset', *offsets])
        return code, capsys.readouterr()

    # Per dataset, over the defaults.
    code, printed = run('TBX11K=1', 'NODE21=0', 'label_enc=0')
    assert code == 0, printed.err
    assert 'TBX11K 1 (--loc-class-offset)' in printed.out
    _check_rows(torch.load(out, weights_only=True)['state_dict'], ref,
                dict(DEFAULT_OFFSETS, TBX11K=1, NODE21=0), 0)
    # One number: all six decoders and label_enc, as before.
    for k in (0, 1):
        code, printed = run(str(k))
        assert code == 0, printed.err
        _check_rows(torch.load(out, weights_only=True)['state_dict'], ref,
                    dict.fromkeys(LOC, k), k)
    os.remove(out)
    # Refused, naming what is wrong; nothing written.
    for bad, words in ((['Foo=1'], ["'Foo'", 'ChestX-Det', 'label_enc']),
                       (['ChestX-Det=2'], ['ChestX-Det', '0 or 1']),
                       (['ChestX-Det'], ['NAME=0|1']),
                       (['0', 'NODE21=1'], ['NAME=0|1'])):
        code, printed = run(*bad)
        assert code == 2 and all(w in printed.err for w in words), \
            (bad, printed.err)
        assert not os.path.exists(out)


def test_reverse_then_forward_and_forward_then_reverse_are_the_identity(
        source, converted, template, tmp_path):
    ref = source[1]['model']
    # reference -> fx_mm -> reference: every key, the derived index buffers
    # included (mmpretrain's index is the official Swin one).
    fx_student = {k: v for k, v in converted.checkpoint['state_dict'].items()
                  if not k.startswith('teacher.')}
    offsets = converted.checkpoint['meta']['foundation_x_reference'][
        'loc_class_offset']
    back, report = to_reference(fx_student, template.table, template.state,
                                offsets)
    assert report.ok and sorted(back) == sorted(ref)
    for key in ref:
        assert torch.equal(back[key], ref[key]), key
    # Names of one reference tensor are one tensor again.
    assert back['bbox_embed.3.1.layers.0.weight'] is \
        back['transformer.decoder.3.bbox_embed.0.layers.0.weight']
    # fx_mm -> reference -> fx_mm, through the files and the command line.
    fx_path = str(tmp_path / 'fx.pth')
    torch.save(converted.checkpoint, fx_path)
    ref_path, again_path = str(tmp_path / 'ref.pth'), str(tmp_path / 'a.pth')
    assert tool.main([fx_path, ref_path, '--config', TINY, '--reverse']) == 0
    reverse = torch.load(ref_path, weights_only=True)
    assert sorted(reverse) == ['model', 'teacher_model']
    assert tool.main([ref_path, again_path, '--config', TINY]) == 0
    again = torch.load(again_path, weights_only=True)['state_dict']
    first = converted.checkpoint['state_dict']
    assert list(again) == list(first)
    for key in first:
        assert torch.equal(again[key], first[key]), key


# ---------------------------------------------------- layouts, numerically
def test_converted_swin_gives_the_features_of_convert_swins_path(
        source, model):
    """The same reference Swin weights through convert_swin into a plain
    mmpretrain Swin and through this converter: equal stage outputs."""
    from mmpretrain.models import SwinTransformer
    ref = source[1]['model']
    backbone = {k[len('backbone.0.'):]: v for k, v in ref.items()
                if k.startswith('backbone.0.')}
    cfg = Config.fromfile(TINY).model.backbone.to_dict()
    for key in ('type', 'loc_out_indices', 'seg_norm_indices',
                'head_classes', 'init_cfg'):
        cfg.pop(key, None)
    swin = SwinTransformer(out_indices=(0, 1, 2, 3), norm_cfg=None, **cfg)
    result = convert_swin(backbone, swin.state_dict(), 'official')
    assert result.missing == []
    swin.load_state_dict(result.state_dict, strict=False)
    swin.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = swin(x)
        got = model.backbone(x)[:4]
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b)


def test_patch_merging_matches_the_official_concatenation(source, model):
    """Official merging: (0,0), (1,0), (0,1), (1,1) pixels concatenated,
    LayerNorm, Linear -- with the reference's tensors as they are."""
    ref = source[1]['model']
    p = 'backbone.0.layers.0.downsample.'
    x = torch.randn(2, 8, 8, 32)
    merged = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2],
                        x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
    merged = F.layer_norm(merged, (128, ), ref[p + 'norm.weight'],
                          ref[p + 'norm.bias'])
    expected = F.linear(merged, ref[p + 'reduction.weight']).flatten(1, 2)
    with torch.no_grad():
        got, shape = model.backbone.stages[0].downsample(x.flatten(1, 2),
                                                         (8, 8))
    assert tuple(shape) == (4, 4)
    torch.testing.assert_close(got, expected)


def _params(state: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in state.items()
            if k.startswith(prefix)}


def reference_msda(p: dict, query, reference_points, value, shapes, heads,
                   points):
    """The reference's MSDeformAttn from its tensors: offsets viewed as
    (heads, levels, points, 2), softmax over levels x points per head; a box
    reference scales offsets by half its size over the points, a point
    reference by the level's size."""
    n, nq, c = query.shape
    levels = len(shapes)
    v = F.linear(value, p['value_proj.weight'], p['value_proj.bias'])
    v = v.view(n, -1, heads, c // heads)
    off = F.linear(query, p['sampling_offsets.weight'],
                   p['sampling_offsets.bias']).view(n, nq, heads, levels,
                                                    points, 2)
    weights = F.linear(query, p['attention_weights.weight'],
                       p['attention_weights.bias']).view(
                           n, nq, heads, levels * points).softmax(-1).view(
                               n, nq, heads, levels, points)
    if reference_points.shape[-1] == 4:
        loc = reference_points[:, :, None, :, None, :2] + off / points * \
            reference_points[:, :, None, :, None, 2:] * 0.5
    else:
        size = torch.stack([shapes[..., 1], shapes[..., 0]], -1)
        loc = reference_points[:, :, None, :, None, :] + \
            off / size[None, None, None, :, None, :]
    out = multi_scale_deformable_attn_pytorch(v, shapes, loc, weights)
    return F.linear(out, p['output_proj.weight'], p['output_proj.bias'])


def _memory(levels=4, dims=256, batch=2):
    shapes = torch.tensor([[8, 8], [4, 4], [2, 2], [1, 1]][:levels])
    starts = torch.cat([shapes.new_zeros(1),
                        shapes.prod(1).cumsum(0)[:-1]])
    memory = torch.randn(batch, int(shapes.prod(1).sum()), dims)
    return shapes, starts, memory


def _norm(p, x):
    return F.layer_norm(x, x.shape[-1:], p['weight'], p['bias'])


def _ffn(p, x):
    return F.linear(F.relu(F.linear(x, p['linear1.weight'],
                                    p['linear1.bias'])),
                    p['linear2.weight'], p['linear2.bias'])


def test_decoder_layer_equals_the_reference_layout(source, model):
    """A reference decoder layer (self-attention -> norm2, deformable
    cross-attention -> norm1, FFN -> norm3; nn.MultiheadAttention's
    in_proj / out_proj) against the converted fx_mm layer."""
    torch.manual_seed(0)
    ref = source[1]['model']
    t, name, n = 4, 'ChestX-Det', 1
    p = _params(ref, f'transformer.decoder.{t}.layers.{n}.')
    shapes, starts, memory = _memory()
    tgt, pos = torch.randn(2, 30, 256), torch.randn(2, 30, 256)
    boxes = torch.rand(2, 30, 4) * 0.5 + 0.25
    refs = boxes[:, :, None].expand(-1, -1, 4, -1)
    with torch.no_grad():
        attn = torch.nn.MultiheadAttention(256, 8, batch_first=True)
        attn.load_state_dict(_params(p, 'self_attn.'))
        x = tgt + attn(tgt + pos, tgt + pos, tgt)[0]
        x = _norm(_params(p, 'norm2.'), x)
        x = _norm(_params(p, 'norm1.'), x + reference_msda(
            _params(p, 'cross_attn.'), x + pos, refs, memory, shapes, 8, 4))
        expected = _norm(_params(p, 'norm3.'), x + _ffn(p, x))
        layer = model.loc.per_dataset[name]['decoder'].layers[n]
        got = layer(tgt, query_pos=pos, value=memory, key_padding_mask=None,
                    self_attn_mask=None, spatial_shapes=shapes,
                    level_start_index=starts,
                    valid_ratios=torch.ones(2, 4, 2), reference_points=refs)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_encoder_layer_equals_the_reference_layout(source, model):
    """A reference encoder layer (deformable self-attention -> norm1, FFN ->
    norm2) against the converted fx_mm layer."""
    torch.manual_seed(1)
    p = _params(source[1]['model'], 'transformer.encoder.layers.0.')
    shapes, starts, memory = _memory()
    pos = torch.randn_like(memory)
    refs = torch.rand(2, memory.shape[1], 4, 2)
    with torch.no_grad():
        x = _norm(_params(p, 'norm1.'), memory + reference_msda(
            _params(p, 'self_attn.'), memory + pos, refs, memory, shapes, 8,
            4))
        expected = _norm(_params(p, 'norm2.'), x + _ffn(p, x))
        got = model.loc.encoder.layers[0](
            memory, query_pos=pos, key_padding_mask=None,
            spatial_shapes=shapes, level_start_index=starts,
            valid_ratios=torch.ones(2, 4, 2), reference_points=refs)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


# ------------------------------------------------------- what is refused
def test_not_a_reference_checkpoint_is_refused_naming_what_it_is(
        converted, tmp_path, capsys):
    fx_path, out = str(tmp_path / 'fx.pth'), str(tmp_path / 'out.pth')
    torch.save(converted.checkpoint, fx_path)
    assert tool.main([fx_path, out, '--config', TINY]) == 2
    err = capsys.readouterr().err
    assert 'is not a Foundation X reference checkpoint' in err
    assert 'an fx_mm checkpoint' in err and 'needs no conversion' in err
    # An ImageNet Swin in the official layout.
    swin = {f'layers.0.blocks.0.{k}': torch.zeros(4)
            for k in ('norm1.weight', 'mlp.fc1.bias')}
    swin.update({'patch_embed.proj.weight': torch.zeros(4),
                 'head.weight': torch.zeros(2)})
    with pytest.raises(NotAReferenceCheckpoint, match='convert_swin.py'):
        read_reference(dict(model=swin), 'swin.pth')
    with pytest.raises(NotAReferenceCheckpoint,
                       match=r"no 'model', 'teacher_model' or 'state_dict'"
                       r".*\['epoch'"):
        read_reference(dict(epoch=3), 'x.pth')
    assert not os.path.exists(out)


class Pickled:
    """An object a weights-only load refuses."""


def test_a_file_with_other_objects_is_refused_by_the_safe_loader(
        tmp_path, capsys):
    src, out = str(tmp_path / 'ref.pth'), str(tmp_path / 'out.pth')
    torch.save(dict(reference_checkpoint(teacher=False), extra=Pickled()),
               src)
    assert tool.main([src, out, '--config', TINY]) == 2
    err = capsys.readouterr().err
    assert 'Unsupported global' in err and 'Pickled' in err
    assert 'keep only its weights first' in err and not os.path.exists(out)


def test_unmapped_and_missing_keys_exit_non_zero_naming_them(
        tmp_path, capsys):
    ckpt = reference_checkpoint(teacher=False)
    ckpt['model']['backbone.0.projector.weight'] = torch.zeros(3)
    del ckpt['model']['input_proj.3.1.bias']
    src, out = str(tmp_path / 'ref.pth'), str(tmp_path / 'out.pth')
    torch.save(ckpt, src)
    assert tool.main([src, out, '--config', TINY]) == 1
    printed = capsys.readouterr()
    assert 'unmapped reference keys:\n    backbone.0.projector.weight' in \
        printed.out
    assert 'missing fx_mm keys:\n    loc.neck.extra_convs.0.gn.bias' in \
        printed.out
    assert 'not written' in printed.err and not os.path.exists(out)


def test_wrappers_prefix_and_a_file_without_teacher(tmp_path):
    state = reference_state(0)
    src = str(tmp_path / 'ref.pth')
    torch.save(dict(state_dict={'module.' + k: v for k, v in state.items()},
                    epoch=3), src)
    result = convert_reference_file(src, TINY)
    assert result.ok and list(result.parts) == ['student']
    assert not any(k.startswith('teacher.')
                   for k in result.checkpoint['state_dict'])
    text = '\n'.join(result.lines)
    assert "'module.' prefix: removed" in text
    assert 'teacher: none in the file' in text
    # The official Swin's attn_mask buffers are derived, not unmapped.
    state['backbone.0.layers.0.blocks.1.attn_mask'] = torch.zeros(4, 16, 16)
    torch.save(state, src)  # a bare state dict
    result = convert_reference_file(src, TINY)
    assert result.ok and len(result.parts['student'].derived) == 9


def test_a_teacher_only_file_becomes_student_and_teacher(tmp_path, capsys):
    """An EMA-only release (``teacher_model`` and no ``model``): the teacher
    is written as the student and as ``teacher.*``, and the output says so."""
    teacher = reference_state(1)
    src, out = str(tmp_path / 'ema.pth'), str(tmp_path / 'out.pth')
    torch.save(dict(teacher_model={'module.' + k: v
                                   for k, v in teacher.items()}, epoch=7),
               src)
    assert tool.main([src, out, '--config', TINY]) == 0
    printed = capsys.readouterr().out
    assert "teacher only: the file has no student ('model')" in printed
    assert 'written as both the student and the teacher' in printed
    state = torch.load(out, weights_only=True)['state_dict']
    student = {k: v for k, v in state.items() if not k.startswith('teacher.')}
    assert len(student) * 2 == len(state)
    for key, value in student.items():
        assert torch.equal(state['teacher.' + key], value), key
    # The file's teacher, converted: a per-dataset layer and a Swin norm.
    assert torch.equal(state['backbone.loc_norm1.weight'],
                       teacher['backbone.0.Locnorm1.weight'])
    assert torch.equal(
        state['teacher.loc.per_dataset.SIIM-ACR.memory_proj.weight'],
        teacher['transformer.enc_outputMem_LinearProjection.5.weight'])
    # Student and teacher are separate tensors in the file.
    assert state['backbone.loc_norm1.weight'].data_ptr() != \
        state['teacher.backbone.loc_norm1.weight'].data_ptr()
    meta = torch.load(out, weights_only=True)['meta']['foundation_x_reference']
    assert meta['teacher'] and meta['teacher_only']
    assert meta['entries'] == {'teacher_model': 'student and teacher'}
    assert meta['ignored'] == {'epoch': '7'}
    # It loads into the tiny reference model with its teacher, strictly.
    cfg = Config.fromfile(TINY)
    build_model_from_cfg(cfg).load_state_dict(state, strict=True)


def foundation_x_plus_state(per_dataset_queries: bool = True) -> dict:
    """The tiny reference state in Foundation X+'s layout, as read from
    jlianglab/Foundation_X: Foundation_X+/models/dino/
    deformable_transformer_F6_consolidated.py and dino_F6_consolidated.py
    (the model Foundation_X+/models/dino/__init__.py builds): ONE decoder
    (``transformer.decoder.layers.{n}``, ``.norm``, ``.ref_point_head``)
    carrying the six datasets' class / box layers as
    ``transformer.decoder.class_embed.{t}.{n}``; six content-query
    embeddings ``transformer.tgt_embed.{t}``; one ``enc_output`` /
    ``enc_output_norm`` and no ``enc_outputMem_LinearProjection``. With
    ``per_dataset_queries=False`` the queries stay Foundation X's single
    ``tgt_embed``: only the decoder has lost its dataset index."""
    out = {}
    for key, value in reference_state(0).items():
        m = re.match(r'transformer\.decoder\.(\d+)\.(.*)', key)
        if m:
            t, rest = int(m.group(1)), m.group(2)
            head = re.match(r'(class_embed|bbox_embed)\.(.*)', rest)
            if head:
                out[f'transformer.decoder.{head.group(1)}.{t}.'
                    f'{head.group(2)}'] = value
            elif t == 0:
                out['transformer.decoder.' + rest] = value
            continue
        m = re.match(r'transformer\.(enc_output|enc_output_norm)\.(\d+)\.(.*)',
                     key)
        if m:
            if m.group(2) == '0':
                out[f'transformer.{m.group(1)}.{m.group(3)}'] = value
            continue
        if key.startswith('transformer.enc_outputMem_LinearProjection.'):
            continue
        if key == 'transformer.tgt_embed.weight' and per_dataset_queries:
            for t in range(6):
                out[f'transformer.tgt_embed.{t}.weight'] = value.clone()
            continue
        out[key] = value
    return out


def test_a_foundation_x_plus_checkpoint_is_refused_naming_it(tmp_path,
                                                             capsys):
    src, out = str(tmp_path / 'fx_plus.pth'), str(tmp_path / 'out.pth')
    state = foundation_x_plus_state()
    assert 'transformer.decoder.layers.1.norm2.weight' in state
    assert not any(re.match(r'transformer\.decoder\.\d', k) for k in state)
    torch.save(dict(model=state, teacher_model=state, epoch=3), src)
    assert tool.main([src, out, '--config', TINY]) == 2
    err = capsys.readouterr().err
    assert 'is a Foundation X+ checkpoint' in err
    assert 'transformer.decoder.layers.*' in err
    assert 'transformer.tgt_embed.{t}' in err
    assert 'fx_mm does not load Foundation X+' in err
    assert f'not written: {out}' in err and not os.path.exists(out)
    # EMA-only, with DDP's prefix: recognised all the same.
    torch.save(dict(teacher_model={'module.' + k: v
                                   for k, v in state.items()}), src)
    assert tool.main([src, out, '--config', TINY]) == 2
    assert 'is a Foundation X+ checkpoint' in capsys.readouterr().err
    # A DINO decoder without the dataset index but no other sign of X+:
    # refused for what the key layout shows.
    with pytest.raises(NotAReferenceCheckpoint) as error:
        read_reference(dict(model=foundation_x_plus_state(False)), 'x.pth')
    message = str(error.value)
    assert 'one DINO decoder with no dataset index' in message
    assert 'Foundation X has one per dataset (transformer.decoder.{t}.*)' \
        in message
    assert not os.path.exists(out)


def test_names_of_one_tensor_must_agree_and_shapes_must_fit(tmp_path):
    ckpt = reference_checkpoint(teacher=False)
    state = ckpt['model']
    state['bbox_embed.2.1.layers.0.bias'] = \
        state['bbox_embed.2.1.layers.0.bias'] + 1
    src = str(tmp_path / 'ref.pth')
    torch.save(ckpt, src)
    with pytest.raises(ValueError, match=r'bbox_embed\.2\.1\.layers\.0\.bias'
                       r'.*one tensor'):
        convert_reference_file(src, TINY)
    # The tiny checkpoint against the Swin-B reference config.
    torch.save(reference_checkpoint(teacher=False), src)
    with pytest.raises(ValueError) as error:
        convert_reference_file(src, FULL)
    message = str(error.value)
    assert message.startswith("237 tensors do not fit the config's model")
    assert ('transformer.encoder.layers.0.linear1.weight -> loc.encoder.'
            'layers.0.ffn.layers.0.0.weight: (256, 256) in the file, '
            '(2048, 256) here') in message
    assert 'Is --config the reference config of this checkpoint' in message


def test_a_config_without_the_reference_table_is_refused():
    with pytest.raises(ValueError, match='no foundation_x_reference table'):
        build_template(repo_path('configs', 'tiny', 'fx_cls_tiny.py'))


# ------------------------------------------------ the README, as written
STAND_IN = '''# Test stand-in for configs/reference/fx_cls_reference.py: the
# tiny reference model (same structure), evaluated on the bundled sample
# under a reference dataset's name; model.datasets keeps the 11 reference
# datasets.
_base_ = [{tiny!r}]
_few = dict(train=dict(indices=4), val=dict(indices=2), test=dict(indices=4))
fx_datasets = [
    dict(name='CANDID-PTX', data_root='data/covid_lungs',
         cls=dict(classes=['COVID-19'], **_few),
         loc=dict(classes=['Right Lung', 'Left Lung'], **_few),
         seg=dict(classes=['Lungs'], **_few)),
]
train_dataloader = dict(num_workers=0)
val_dataloader = dict(num_workers=0)
test_dataloader = val_dataloader
'''


def test_readme_offset_examples_are_valid_options():
    """The section's --loc-class-offset examples parse and name datasets of
    the reference config; they do what their comments say."""
    section = readme_section('Using the released Foundation X weights')
    lines = [line.split('#')[0] for block in code_blocks(section, 'text')
             for line in block.splitlines()
             if line.startswith('--loc-class-offset')]
    assert len(lines) == 2
    datasets = Config.fromfile(FULL).foundation_x_reference.loc_decoders
    assert sorted(datasets) == sorted(LOC)
    some, all_zero = (resolve_offsets(
        parse_offset_option(shlex.split(line)[1:]), datasets)
        for line in lines)
    assert some == dict(DEFAULT_OFFSETS, label_enc=1, TBX11K=1,
                        **{'RSNA-Pneumonia': 1})
    assert set(all_zero.values()) == {0}


def test_readme_section_runs_as_written(covid_lungs, tmp_path):
    """The section's commands, in a clone-like folder where
    configs/reference/fx_cls_reference.py is the tiny reference model (a
    stand-in: the Swin-B one needs the 11 prepared datasets), foundation_x.pth
    a synthetic tiny reference checkpoint, data/covid_lungs the bundled
    sample and the fine-tuning config the section's own; the fine-tuning
    run is cut to one short pass with --cfg-options."""
    section = readme_section('Using the released Foundation X weights')
    commands = bash_commands(section)
    configs = code_blocks(section, 'python')
    assert len(commands) == 4 and len(configs) == 1
    clone = tmp_path / 'clone'
    (clone / 'configs' / 'reference').mkdir(parents=True)
    (clone / 'configs' / 'reference' / 'fx_cls_reference.py').write_text(
        STAND_IN.format(tiny=TINY))
    assert 'configs/my_foundation_x_ft.py' in section
    (clone / 'configs' / 'my_foundation_x_ft.py').write_text(configs[0])
    (clone / 'data').mkdir()
    os.symlink(covid_lungs, clone / 'data' / 'covid_lungs')
    torch.save(reference_checkpoint(), clone / 'foundation_x.pth')
    image = sorted(os.listdir(os.path.join(covid_lungs, 'images')))[0]
    shutil.copy(os.path.join(covid_lungs, 'images', image),
                clone / 'radiograph.png')

    extra = {'train.py': ['--cfg-options', 'train_cfg.max_cycles=1',
                          'fx_datasets.0.loc=None', 'fx_datasets.0.seg=None',
                          'fx_datasets.0.cls.train.indices=4',
                          'fx_datasets.0.cls.val.indices=2',
                          'train_dataloader.num_workers=0',
                          'val_dataloader.num_workers=0']}
    outputs = []
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == 'python' and argv[1].startswith('tools/')
        argv[1] = os.path.join(REPO, argv[1])
        argv += extra.get(os.path.basename(argv[1]), [])
        proc = subprocess.run([sys.executable] + argv[1:], cwd=clone,
                              text=True, capture_output=True)
        assert proc.returncode == 0, (command, proc.stdout[-3000:],
                                      proc.stderr[-4000:])
        outputs.append(proc.stdout + proc.stderr)

    convert, test, infer, train = outputs
    assert '0 unmapped' in convert and '0 missing' in convert
    assert (clone / 'checkpoints' / 'foundation_x_fx_mm.pth').exists()
    metrics = json.load(open(clone / 'work_dirs' / 'foundation_x' /
                             'test_metrics.json'))
    assert {'CANDID-PTX/cls/AUC', 'CANDID-PTX/loc/mAP40',
            'CANDID-PTX/seg/Dice'} <= set(metrics)
    result = json.load(open(clone / 'out' / 'radiograph.json'))
    assert sorted(result['localization']) == sorted(LOC)
    assert len(result['classification']) == 11
    assert 'Loaded the teacher of checkpoints/foundation_x_fx_mm.pth' in train
    assert (clone / 'work_dirs' / 'my_foundation_x_ft' /
            'epoch_1.pth').exists()
