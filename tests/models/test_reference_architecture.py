"""The reference configs reproduce the Foundation X reference code's network.

configs/reference/fx_cls_reference.py must have exactly the parameters of the
authors' released model (paper Table 9, row for row) and of the reference
state dict recorded in tests/fixtures/foundation_x_reference (written from a
reading of the reference code, independent of fx_mm's module names);
fx_cls_reference_tiny.py is the same structure at tiny sizes.
"""
import collections
import contextlib
import io
import json
import re
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope

from fx_mm.testing import make_batch
from fx_mm.utils import build_initialised_model, build_model_from_cfg
from tests.conftest import REPO, load_tool, repo_path

FULL = repo_path('configs', 'reference', 'fx_cls_reference.py')
TINY = repo_path('configs', 'reference', 'fx_cls_reference_tiny.py')
FIXTURES = repo_path('tests', 'fixtures', 'foundation_x_reference')
MANIFESTS = {FULL: f'{FIXTURES}/manifest_full.json',
             TINY: f'{FIXTURES}/manifest_tiny.json'}

# Paper Table 9 (supplement).
TABLE_9 = {
    'backbone': 86_751_673,
    'classification heads': 70_725,
    'localization encoder': 7_693_056,
    'localization decoder': 9_608_978,  # each of the six
    'segmentation decoder': 20_894_464,
    'segmentation heads': 20_754,
}
LOC = ['TBX11K', 'NODE21', 'CANDID-PTX', 'RSNA-Pneumonia', 'ChestX-Det',
       'SIIM-ACR']


param_table = load_tool('tools', 'analysis', 'param_table.py')


@pytest.fixture(scope='module')
def full():
    cfg = Config.fromfile(FULL)
    cfg.model.teacher = False  # the teacher is a copy; halves the build
    return cfg, build_model_from_cfg(cfg)


@pytest.fixture(scope='module')
def tiny():
    cfg = Config.fromfile(TINY)
    return cfg, build_initialised_model(cfg)


def manifest(path):
    with open(MANIFESTS[path]) as f:
        return json.load(f)


def fx_part(cfg, part):
    """A manifest part name in fx_mm's terms (decoder index -> dataset)."""
    m = re.fullmatch(r'(.*) (\d)', part)
    if not m:
        return part
    names = cfg.foundation_x_reference.loc_decoders
    return f'{m.group(1)} {names[int(m.group(2))]}'


# ------------------------------------------------------------ Table 9 rows
def test_param_table_prints_table_9_equal_row_for_row():
    out = subprocess.run(
        [sys.executable, repo_path('tools', 'analysis', 'param_table.py'),
         FULL, '--strict', '--cfg-options', 'model.teacher=False'],
        cwd=REPO, capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        m = re.match(r'^(.*?)\s{2,}([\d,]+)\s+([\d,]+|-)\s+(.*)$', line)
        if m:
            rows[m.group(1).strip()] = (int(m.group(2).replace(',', '')),
                                        m.group(3), m.group(4))
    for name, figure in TABLE_9.items():
        matches = {k: v for k, v in rows.items() if k == name or (
            name == 'localization decoder' and k.startswith(name + ' '))}
        assert matches, name
        for row, (count, paper, flag) in matches.items():
            assert count == figure, row
            assert paper == f'{figure:,}' and flag == 'equal', row
    assert sorted(k[len('localization decoder '):] for k in rows
                  if k.startswith('localization decoder ')) == sorted(LOC)
    assert 'Table 9: 11 of 11 rows equal' in out
    assert 'DIFFERS' not in out
    total = int(re.search(r'^total (\d+)$', out, re.M).group(1))
    assert total == 178_568_276 == manifest(FULL)['totals']['parameters']


def test_param_table_flags_a_row_that_differs(full):
    cfg, model = full
    spec = cfg.param_table.to_dict()
    spec['rows'][0]['paper'] += 1
    spec['rows'][0]['note'] = 'why it differs'
    rows = param_table.table_rows(model, spec)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert param_table.print_table(rows, 'Table 9') == 1
    assert 'DIFFERS by -1' in buf.getvalue()
    assert 'note: why it differs' in buf.getvalue()


def test_param_table_refuses_unclaimed_parameters(tiny):
    cfg, model = tiny
    spec = cfg.param_table.to_dict()
    spec['rows'] = [r for r in spec['rows'] if r['name'] != 'backbone']
    with pytest.raises(ValueError,
                       match=r"no row for \d+ parameters, e\.g\. \['backbone"):
        param_table.table_rows(model, spec)


# ------------------------------------------------------- the UperNet variant
def _reference_upernet(in_channels=(128, 256, 512, 1024), channels=128):
    init_default_scope('mmseg')
    from mmseg.registry import MODELS
    return MODELS.build(dict(
        type='ReferenceUPerHead', datasets={'A': 1, 'B': 13, 'C': 1},
        spare_heads={'0': 1, '1': 1, '3': 1}, in_channels=list(in_channels),
        in_index=[0, 1, 2, 3], channels=channels, dropout_ratio=0.0,
        norm_cfg=dict(type='BN'), align_corners=False,
        loss_decode=dict(type='mmdet.DiceLoss', use_sigmoid=True)))


def test_reference_upernet_body_and_heads_have_table_9_sizes():
    head = _reference_upernet()
    heads = sum(p.numel() for n, p in head.named_parameters()
                if n.startswith(('per_dataset.', 'spare_heads.')))
    body = sum(p.numel() for p in head.parameters()) - heads
    assert body == 20_894_464
    assert heads == 20_754 == 1_153 * (1 + 13 + 1 + 1 + 1 + 1)
    # One smoothing conv, listed once per level as in the reference.
    assert head.fpn_convs[0] is head.fpn_convs[1] is head.fpn_convs[2]
    keys = head.state_dict().keys()
    assert {f'fpn_convs.{i}.conv.weight' for i in range(3)} <= set(keys)
    assert head.per_dataset['B']['conv_seg'].kernel_size == (3, 3)


def _conv(x, module):
    """A ConvModule, from its tensors (eval-mode BatchNorm)."""
    conv = module.conv
    y = F.conv2d(x, conv.weight, conv.bias, padding=conv.padding)
    if module.with_norm:
        bn = module.bn
        y = F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight,
                         bn.bias, False, 0.0, bn.eps)
    return F.relu(y) if module.with_activation else y


def _up(x, like):
    return F.interpolate(x, size=like.shape[2:], mode='bilinear',
                         align_corners=True)


def test_reference_upernet_follows_the_reference_layout():
    """The fused map against a test-side derivation of the reference's
    PSPModule + FPN_fuse from the head's own tensors: PPM branches at T/4
    (pools 1, 2, 4, 6), laterals only above stage 0, a non-cumulative
    top-down path, one shared smoothing conv, align_corners=True."""
    torch.manual_seed(0)
    head = _reference_upernet((16, 32, 64, 128), 16).eval()
    for m in head.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    feats = [torch.randn(2, c, s, s)
             for c, s in zip((16, 32, 64, 128), (16, 8, 4, 2))]
    with torch.no_grad():
        got = head._forward_feature(feats)
        top = feats[3]
        pyramid = [top]
        for scale, branch in zip((1, 2, 4, 6), head.psp_modules):
            assert branch[1].conv.out_channels == 128 // 4
            pyramid.append(_up(_conv(F.adaptive_avg_pool2d(top, scale),
                                     branch[1]), top))
        psp = _conv(torch.cat(pyramid, 1), head.bottleneck)
        lat = [feats[0]] + [_conv(x, c) for x, c in zip(
            [feats[1], feats[2], psp], head.lateral_convs)]
        smooth = head.fpn_convs[0]
        p = [_conv(_up(lat[i + 1], lat[i]) + lat[i], smooth)
             for i in range(3)] + [lat[3]]
        p = [p[0]] + [_up(x, p[0]) for x in p[1:]]
        expected = _conv(torch.cat(p, 1), head.fpn_bottleneck)
    torch.testing.assert_close(got, expected)


# -------------------------------------------------------------- tiny model
@pytest.mark.parametrize('task,dataset,num_classes', [
    ('cls', 'CheXpert', 14), ('cls', 'RSNA-Pneumonia', 3),
    ('loc', 'TBX11K', 1), ('loc', 'ChestX-Det', 13),
    ('seg', 'ChestX-Det', 13), ('seg', 'SIIM-ACR', 1),
])
def test_tiny_reference_trains_and_predicts_every_task(tiny, task, dataset,
                                                       num_classes):
    _, model = tiny
    model.train()
    model.zero_grad(set_to_none=True)
    data = model.data_preprocessor(
        make_batch(task, dataset, num_classes, size=64), training=True)
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    assert torch.isfinite(loss)
    loss.backward()
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(
            make_batch(task, dataset, num_classes, size=64, seed=1), False)
        out = model(**data, mode='predict')
    if task == 'cls':
        assert out[0].pred_score.shape == (num_classes, )
    elif task == 'loc':
        # 14-class heads; predictions from the dataset's own classes.
        labels = torch.cat([s.pred_instances.labels for s in out])
        assert len(labels) and labels.max() < num_classes
    else:
        assert out[0].pred_sem_seg.data.shape == (num_classes, 64, 64)


def test_tiny_reference_predicts_all_heads_at_once(tiny):
    _, model = tiny
    data = model.data_preprocessor(make_batch('cls', 'CheXpert', 14, size=64),
                                   False)
    out = model.predict_all(data['inputs'], data['data_samples'])
    assert sorted(out[0]['loc']) == sorted(LOC)
    assert sorted(out[0]['seg']) == ['CANDID-PTX', 'ChestX-Det', 'SIIM-ACR']
    assert len(out[0]['cls']) == 11


def test_reference_swin_feeds_each_branch_its_own_norm(tiny):
    _, model = tiny
    swin = model.backbone
    swin.eval()  # (mmpretrain's Swin.train returns None)
    with torch.no_grad():
        out = swin(torch.randn(1, 3, 64, 64))
    assert len(out) == 8
    raw, loc, cls = out[:4], out[4:7], out[7]

    def ln(norm, x):
        return norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    for i, y in zip((1, 2, 3), loc):
        torch.testing.assert_close(y, ln(getattr(swin, f'loc_norm{i}'),
                                         raw[i]))
    torch.testing.assert_close(cls, ln(swin.cls_norm, raw[3]))
    # The segmentation branch reads the raw stages (as the reference).
    assert model.seg.in_index == [0, 1, 2, 3]
    assert model.loc.backbone.in_index == (4, 5, 6)


def test_localization_branch_shares_and_splits_as_the_reference(tiny):
    _, model = tiny
    loc = model.loc
    # Shared: one content-query embedding, one 16-row label embedding.
    assert loc.query_embedding.weight.shape == (30, 256)
    assert loc.dn_query_generator.label_embedding.weight.shape == (16, 256)
    keys = list(model.state_dict())
    assert not any('per_dataset' in k and ('query_embedding' in k or
                                           'dn_query_generator' in k)
                   for k in keys)
    for name in LOC:
        parts = loc.per_dataset[name]
        head, decoder = parts['bbox_head'], parts['decoder']
        assert head.num_classes == 14
        n = decoder.num_layers
        assert all(b is head.cls_branches[0] for b in head.cls_branches[:n])
        assert head.cls_branches[n] is not head.cls_branches[0]
        assert all(b is head.reg_branches[0] for b in head.reg_branches[:n])
        assert all(b is decoder.reg_branches[0] for b in decoder.reg_branches)
        assert decoder.reg_branches[0] is not head.reg_branches[0]
        assert decoder.cls_branches[0].out_features == 14


def test_memory_projection_and_refinement_are_the_datasets_own(tiny):
    """The routed dataset's memory projection feeds the proposals and the
    decoder; the decoder refines with its own box MLP, not the head's."""
    _, model = tiny
    loc = model.loc.eval()
    data = model.data_preprocessor(make_batch('loc', 'NODE21', 1, size=64),
                                   False)
    samples = data['data_samples']
    with torch.no_grad():
        feats = loc.extract_feat(model.extract_feat(data['inputs']))
        enc, dec_in = loc.encode(feats, samples)

        def run():
            return loc.decode(enc, dict(dec_in), samples)

        base = run()
        parts = loc.per_dataset['NODE21']
        saved = parts['memory_proj'].weight.clone()
        parts['memory_proj'].weight.mul_(0.5)
        changed = run()
        parts['memory_proj'].weight.copy_(saved)
        assert not torch.allclose(base['hidden_states'],
                                  changed['hidden_states'])
        # The head's decoder-layer box MLP does not move the references...
        last = parts['bbox_head'].reg_branches[0][-1]
        saved = last.bias.clone()
        last.bias.add_(1.0)
        same = run()
        last.bias.copy_(saved)
        for a, b in zip(base['references'], same['references']):
            torch.testing.assert_close(a, b)
        # ...the decoder's own does.
        last = parts['decoder'].reg_branches[0][-1]
        saved = last.bias.clone()
        last.bias.add_(1.0)
        moved = run()
        last.bias.copy_(saved)
        assert not torch.allclose(base['references'][-1],
                                  moved['references'][-1])


# --------------------------------------------------------------- manifests
@pytest.mark.parametrize('which', ['full', 'tiny'])
def test_manifest_totals_equal_the_reference_config(full, tiny, which):
    cfg, model = full if which == 'full' else tiny
    data = manifest(FULL if which == 'full' else TINY)
    student = sum(p.numel() for p in model.student_parameters())
    assert data['totals']['parameters'] == student
    rows = {r.name: r.count for r in param_table.table_rows(
        model, cfg.param_table.to_dict())}
    by_part = {fx_part(cfg, k): v
               for k, v in data['totals']['parameters_by_part'].items()}
    assert by_part == rows


@pytest.mark.parametrize('which', ['full', 'tiny'])
def test_manifest_tensors_match_the_model_part_by_part(full, tiny, which):
    """Every distinct tensor of the reference state dict (parameters and
    buffers, by shape) has a counterpart in the same part of fx_mm's."""
    cfg, model = full if which == 'full' else tiny
    data = manifest(FULL if which == 'full' else TINY)
    ref = collections.defaultdict(collections.Counter)
    for entry in data['keys'].values():
        if 'same_tensor_as' not in entry:
            ref[fx_part(cfg, entry['part'])][
                (tuple(entry['shape']), entry['kind'])] += 1
    rows = param_table.table_rows(model, cfg.param_table.to_dict())
    params = {id(p) for p in model.student_parameters()}
    ours = collections.defaultdict(collections.Counter)
    seen = set()
    for part_name, part in model.student_parts().items():
        for key, tensor in part.state_dict(prefix=part_name + '.',
                                           keep_vars=True).items():
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            row = next(r.name for r in rows if key.startswith(r.prefixes))
            kind = 'parameter' if id(tensor) in params else 'buffer'
            ours[row][(tuple(tensor.shape), kind)] += 1
    assert dict(ours) == dict(ref)


def test_manifest_records_its_source_and_the_checkpoint_layout():
    data = manifest(FULL)
    ref = data['reference']
    assert ref['repository'] == 'jlianglab/Foundation_X'
    assert all(re.fullmatch(r'[0-9a-f]{40}', f['commit'])
               for f in ref['files'])
    paths = {f['path'] for f in ref['files']}
    assert {'Foundation_X/main.py',
            'Foundation_X/models/dino/swin_transformer_CyclicSegmentation.py',
            'models/dino/deformable_transformer_F6.py',
            'Foundation_X+/models/dino/dino_F6.py'} <= paths
    assert list(data['checkpoint']['entries']) == [
        'model', 'teacher_model', 'optimizer', 'epoch']
    keys = data['keys']
    for key in ('backbone.0.layers.2.blocks.17.attn.qkv.weight',
                'backbone.0.layers.0.downsample.reduction.weight',
                'backbone.0.Locnorm1.weight', 'backbone.0.Segnorm0.weight',
                'backbone.0.classification_heads.10.weight',
                'backbone.0.segmentation_FPN.smooth_conv.2.weight',
                'transformer.decoder.5.layers.5.self_attn.in_proj_weight',
                'transformer.enc_outputMem_LinearProjection.5.weight',
                'transformer.tgt_embed.weight', 'label_enc.weight',
                'input_proj.3.0.weight', 'bbox_embed_.5.5.layers.2.weight'):
        assert key in keys, key
    assert keys['label_enc.weight']['shape'] == [16, 256]
    assert keys['class_embed_.0.0.weight']['shape'] == [14, 256]
    assert keys['bbox_embed.3.2.layers.0.weight']['same_tensor_as'] == \
        'transformer.decoder.3.bbox_embed.0.layers.0.weight'


def test_manifests_are_what_the_generator_writes(tmp_path):
    gen = load_tool('tests', 'fixtures', 'foundation_x_reference',
                    'make_manifest.py')
    for cfg, path in ((gen.FULL, FULL), (gen.TINY, TINY)):
        out = tmp_path / 'm.json'
        gen.write(cfg, str(out))
        with open(out) as f:
            assert json.load(f) == manifest(path), path


def test_teacher_ema_averages_each_shared_layer_once(tiny):
    """A layer listed under several state-dict names (the shared decoder-layer
    branches, the shared smoothing conv) is one tensor: the EMA must move it
    once, not once per name."""
    _, model = tiny
    model.sync_teacher()
    head = model.loc.per_dataset['CANDID-PTX']['bbox_head']
    fpn = model.seg.fpn_convs[0].conv
    teacher_head = model.teacher['loc'].per_dataset['CANDID-PTX']['bbox_head']
    teacher_fpn = model.teacher['seg'].fpn_convs[0].conv
    old = [teacher_head.cls_branches[0].weight.clone(),
           teacher_fpn.weight.clone()]
    with torch.no_grad():
        head.cls_branches[0].weight.add_(1.0)
        fpn.weight.add_(1.0)
    model.update_teacher(0.8)
    for t, o, s in zip((teacher_head.cls_branches[0].weight,
                        teacher_fpn.weight), old,
                       (head.cls_branches[0].weight, fpn.weight)):
        torch.testing.assert_close(t, 0.8 * o + 0.2 * s)
    with torch.no_grad():
        head.cls_branches[0].weight.sub_(1.0)
        fpn.weight.sub_(1.0)
    model.sync_teacher()
