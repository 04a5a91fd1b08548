"""tools/convert_foundation_x.py: reference Foundation X checkpoints for fx_mm.

The source checkpoints are synthetic: random tensors under the reference
state dict's key names and shapes, as recorded from the reference code in
tests/fixtures/foundation_x_reference/manifest_tiny.json (independent of
fx_mm's module names), with the manifest's shared tensors shared. Where the
two layouts differ, the reference's is re-derived here from its definition
(shapes, orders and formulas only) and evaluated on the same weights.
"""
import importlib.util
import json
import os
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
                                                 read_reference, to_reference)
from fx_mm.utils.swin_conversion import convert_swin
from tests.conftest import REPO, repo_path
from tests.test_readme_own_dataset import (bash_commands, code_blocks,
                                           readme_section)

TINY = repo_path('configs', 'reference', 'fx_cls_reference_tiny.py')
FULL = repo_path('configs', 'reference', 'fx_cls_reference.py')
MANIFEST = repo_path('tests', 'fixtures', 'foundation_x_reference',
                     'manifest_tiny.json')
LOC = ['TBX11K', 'NODE21', 'CANDID-PTX', 'RSNA-Pneumonia', 'ChestX-Det',
       'SIIM-ACR']


def _tool():
    spec = importlib.util.spec_from_file_location(
        'convert_foundation_x_tool',
        repo_path('tools', 'convert_foundation_x.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
        assert report.reordered == {'patch_merging': 9, 'class_rows': 61}
    state = converted.checkpoint['state_dict']
    own = model.state_dict()
    assert list(state) == list(own)  # student and teacher.*
    meta = converted.checkpoint['meta']['foundation_x_reference']
    assert meta['source'] == source[0] and len(meta['sha256']) == 64
    assert meta['ignored'] == {
        'optimizer': 'optimizer state: 5 parameters in 4 groups',
        'epoch': '219'}
    assert meta['loc_class_offset'] == 1 and meta['teacher']
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


def test_class_rows_move_by_the_offset(source, tmp_path):
    ref = source[1]['model']
    rows = {
        'loc.per_dataset.ChestX-Det.bbox_head.cls_branches.0.weight':
            'class_embed_.4.0.weight',
        'loc.per_dataset.ChestX-Det.bbox_head.cls_branches.2.bias':
            'transformer.enc_out_class_embed.4.bias',
        'loc.per_dataset.TBX11K.decoder.cls_branches.1.weight':
            'transformer.decoder.0.class_embed.1.weight',
        'loc.dn_query_generator.label_embedding.weight': 'label_enc.weight',
    }
    one = convert_reference_file(source[0], TINY).checkpoint['state_dict']
    zero = convert_reference_file(source[0], TINY,
                                  offset=0).checkpoint['state_dict']
    for fx, name in rows.items():
        r = ref[name]
        assert torch.equal(zero[fx], r)
        # fx_mm class k is reference row (category id) k + 1; row 0 last.
        assert torch.equal(one[fx][:-1], r[1:])
        assert torch.equal(one[fx][-1], r[0])
    # Other layers do not move.
    assert torch.equal(one['loc.query_embedding.weight'],
                       zero['loc.query_embedding.weight'])


def test_reverse_then_forward_and_forward_then_reverse_are_the_identity(
        source, converted, template, tmp_path):
    ref = source[1]['model']
    # reference -> fx_mm -> reference: every key, the derived index buffers
    # included (mmpretrain's index is the official Swin one).
    fx_student = {k: v for k, v in converted.checkpoint['state_dict'].items()
                  if not k.startswith('teacher.')}
    back, report = to_reference(fx_student, template.table, template.state,
                                offset=1)
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
                       match=r"no 'model' or 'state_dict'.*\['epoch'"):
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
