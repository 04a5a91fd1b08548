"""FoundationX on the tiny three-dataset config: training, prediction, routing."""
import copy

import pytest
import torch
from mmengine.config import Config

from fx_mm.utils import build_initialised_model, build_model_from_cfg
from tests.conftest import repo_path
from fx_mm.testing import make_batch

TINY_3DS = repo_path('configs', 'tiny', 'fx_cls_tiny_3ds.py')


def build_tiny(**model_overrides):
    return build_initialised_model(Config.fromfile(TINY_3DS), **model_overrides)


@pytest.fixture(scope='module')
def tiny_model():
    return build_tiny()


def steps(model):
    """Every (task, dataset, class count) the model has a head for."""
    out = []
    for name, head in (model.cls_heads or {}).items():
        out.append(('cls', name, head.num_classes))
    for name, n in (model.loc.num_classes.items() if model.loc else []):
        out.append(('loc', name, n))
    for name, n in (model.seg.num_classes_of.items() if model.seg else []):
        out.append(('seg', name, n))
    return out


def loss_and_grads(model, task, dataset, num_classes, seed=0):
    model.train()
    model.zero_grad(set_to_none=True)
    data = model.data_preprocessor(
        make_batch(task, dataset, num_classes, seed=seed), training=True)
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    loss.backward()
    return losses, loss


def test_tiny_3ds_declares_every_task():
    model = build_tiny()
    assert model.datasets == dict(
        cls=['SIIM-ACR', 'ChestX-Det', 'TBX11K'],
        loc=['SIIM-ACR', 'ChestX-Det', 'TBX11K'],
        seg=['SIIM-ACR', 'ChestX-Det'])
    assert model.loc.num_classes == {'SIIM-ACR': 1, 'ChestX-Det': 13,
                                     'TBX11K': 1}
    assert model.seg.num_classes_of == {'SIIM-ACR': 1, 'ChestX-Det': 13}


@pytest.mark.parametrize('task,dataset', [
    ('cls', 'SIIM-ACR'), ('cls', 'ChestX-Det'), ('cls', 'TBX11K'),
    ('loc', 'SIIM-ACR'), ('loc', 'ChestX-Det'), ('loc', 'TBX11K'),
    ('seg', 'SIIM-ACR'), ('seg', 'ChestX-Det'),
])
def test_every_task_trains_one_step_and_predicts(task, dataset):
    model = build_tiny()
    num_classes = dict(((t, d), n) for t, d, n in steps(model))[(task, dataset)]
    optim = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.1)
    head = dict(cls=lambda: model.cls_heads[dataset],
                loc=lambda: model.loc.per_dataset[dataset],
                seg=lambda: model.seg.per_dataset[dataset])[task]()
    before = copy.deepcopy(head.state_dict())

    losses, loss = loss_and_grads(model, task, dataset, num_classes)
    assert torch.isfinite(loss)
    # The teacher (identical to the student here) adds consistency terms.
    assert 'loss_cons_backbone' in losses
    optim.step()
    after = head.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before
               if before[k].is_floating_point()), 'the head did not train'

    model.eval()
    data = model.data_preprocessor(
        make_batch(task, dataset, num_classes, seed=1), training=False)
    with torch.no_grad():
        results = model(**data, mode='predict')
    assert len(results) == 2
    for sample in results:
        if task == 'cls':
            assert sample.pred_score.shape == (num_classes, )
            assert 0 <= float(sample.pred_score.min()) <= 1
        elif task == 'loc':
            inst = sample.pred_instances
            assert inst.bboxes.shape[1] == 4 and len(inst.bboxes) > 0
            assert int(inst.labels.max()) < num_classes
        else:
            assert sample.pred_sem_seg.data.shape == (num_classes, 64, 64)
            assert sample.pred_sem_seg.data.dtype == torch.uint8


@pytest.mark.parametrize('task,dataset', [('cls', 'ChestX-Det'),
                                          ('loc', 'TBX11K'),
                                          ('seg', 'ChestX-Det')])
def test_loss_reaches_only_its_own_head(tiny_model, task, dataset):
    model = tiny_model
    n = dict(((t, d), k) for t, d, k in steps(model))[(task, dataset)]
    loss_and_grads(model, task, dataset, n)

    def has_grad(module):
        return any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in module.parameters())

    def no_grad(module):
        return all(p.grad is None for p in module.parameters())

    assert has_grad(model.backbone)
    own = dict(cls=model.cls_heads, loc=model.loc.per_dataset,
               seg=model.seg.per_dataset)
    for t, container in own.items():
        for name, part in container.items():
            if (t, name) == (task, dataset):
                assert has_grad(part), f'{t}/{name} got no gradient'
            else:
                assert no_grad(part), f'{t}/{name} got a gradient'
    # Shared parts of branches the batch does not use get nothing either.
    if task != 'loc':
        assert no_grad(model.loc)
    if task != 'seg':
        assert no_grad(model.seg)
    assert no_grad(model.teacher)
    assert not any(p.requires_grad for p in model.teacher.parameters())


def test_consistency_gradient_reaches_student_backbone():
    model = build_tiny(consistency=dict(
        places=('backbone', 'loc_encoder', 'seg_decoder'), weight=1.0,
        task_weight=0.0))
    with torch.no_grad():  # a teacher that differs from the student
        for p in model.teacher.parameters():
            p.add_(0.05 * torch.randn_like(p))
    for task, dataset, place in (('loc', 'SIIM-ACR', 'loc_encoder'),
                                 ('seg', 'SIIM-ACR', 'seg_decoder')):
        losses, _ = loss_and_grads(model, task, dataset, 1)
        assert float(losses[f'loss_cons_{place}']) > 0
        # Task losses are weighted 0: every gradient is the consistency's.
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in model.backbone.parameters())
        branch = model.loc.encoder if task == 'loc' else model.seg.bottleneck
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in branch.parameters())
        assert all(p.grad is None for p in model.teacher.parameters())


def test_consistency_off_gives_plain_task_losses():
    on = build_tiny()
    off = build_tiny(consistency=dict(places=()))
    off.load_state_dict(on.state_dict())
    data = make_batch('cls', 'TBX11K', 1)
    l_on = on(**on.data_preprocessor(copy.deepcopy(data), True), mode='loss')
    l_off = off(**off.data_preprocessor(data, True), mode='loss')
    assert set(l_off) == {'cls.loss_cls'}
    # Same weights, so the task loss is the same; on, it is weighted 0.5.
    torch.testing.assert_close(l_on['cls.loss_cls'], 0.5 * l_off['cls.loss_cls'])


def test_update_teacher_is_ema_of_params_and_buffers():
    model = build_tiny()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
        for name, b in model.named_buffers():
            if b.is_floating_point():
                b.add_(torch.rand_like(b))
    teacher_before = copy.deepcopy(model.teacher.state_dict())
    student = {k: v.clone() for k, v in model.state_dict().items()
               if not k.startswith('teacher.')}
    model.update_teacher(0.8)
    checked_buffers = 0
    for key, new in model.teacher.state_dict().items():
        old, s = teacher_before[key], student[key]
        if new.is_floating_point():
            torch.testing.assert_close(new, 0.8 * old + 0.2 * s)
        else:
            assert torch.equal(new, s)
        checked_buffers += 'running_mean' in key
    assert checked_buffers > 0, 'BatchNorm statistics were not compared'


def test_state_dict_reads_like_the_dataset_table(tiny_model):
    keys = list(tiny_model.state_dict())
    for prefix in ('cls_heads.SIIM-ACR.fc.weight',
                   'cls_heads.ChestX-Det.fc.weight',
                   'loc.per_dataset.TBX11K.decoder.layers.0.',
                   'loc.per_dataset.ChestX-Det.bbox_head.cls_branches.0.',
                   'loc.per_dataset.SIIM-ACR.query_embedding.weight',
                   'loc.per_dataset.SIIM-ACR.dn_query_generator.',
                   'loc.per_dataset.SIIM-ACR.memory_trans_fc.weight',
                   'loc.encoder.layers.0.', 'loc.neck.', 'loc.level_embed',
                   'seg.per_dataset.ChestX-Det.conv_seg.weight',
                   'seg.psp_modules.', 'teacher.backbone.',
                   'teacher.loc.per_dataset.TBX11K.'):
        assert any(k.startswith(prefix) for k in keys), prefix
    # Per-dataset parts appear only under their dataset's name.
    for generic in ('loc.decoder.', 'loc.bbox_head.', 'loc.query_embedding',
                    'loc.dn_query_generator.', 'seg.conv_seg.'):
        assert not any(k.startswith(generic) for k in keys), generic
    sd = tiny_model.state_dict()
    assert sd['loc.per_dataset.ChestX-Det.bbox_head.cls_branches.0.weight'] \
        .shape[0] == 13
    assert sd['loc.per_dataset.TBX11K.bbox_head.cls_branches.0.weight'] \
        .shape[0] == 1


def _batch(model, task, dataset, n, **kw):
    return model.data_preprocessor(make_batch(task, dataset, n, **kw), True)


def test_unknown_dataset_is_named_with_the_known_ones(tiny_model):
    data = _batch(tiny_model, 'loc', 'NODE21', 1)
    with pytest.raises(KeyError, match=r"NODE21.*SIIM-ACR.*ChestX-Det.*TBX11K"):
        tiny_model(**data, mode='loss')
    data = _batch(tiny_model, 'seg', 'TBX11K', 1)
    with pytest.raises(KeyError, match=r"seg dataset 'TBX11K'"):
        tiny_model(**data, mode='loss')


def test_mixed_batches_are_refused(tiny_model):
    a = make_batch('cls', 'SIIM-ACR', 1, batch_size=1)
    b = make_batch('cls', 'TBX11K', 1, batch_size=1, seed=1)
    mixed = dict(inputs=a['inputs'] + b['inputs'],
                 data_samples=a['data_samples'] + b['data_samples'])
    with pytest.raises(ValueError, match='mixes datasets'):
        tiny_model(**tiny_model.data_preprocessor(mixed, True), mode='loss')
    c = make_batch('seg', 'SIIM-ACR', 1, batch_size=1)
    mixed = dict(inputs=a['inputs'] + c['inputs'],
                 data_samples=a['data_samples'] + c['data_samples'])
    with pytest.raises(ValueError, match='mixes tasks'):
        tiny_model(**tiny_model.data_preprocessor(mixed, True), mode='loss')


@pytest.mark.parametrize('task,match', [
    ('cls', r"'SIIM-ACR'.*gt_score of shape \(4,\).*1 classes"),
    ('loc', r"'SIIM-ACR'.*box label [1-3].*1 classes"),
    ('seg', r"'SIIM-ACR'.*\(4, 64, 64\).*expected \(1, H, W\)"),
])
def test_labels_wider_than_the_head_are_refused(tiny_model, task, match):
    data = make_batch(task, 'SIIM-ACR', 4)
    if task == 'loc':  # make sure an out-of-range label is present
        for s in data['data_samples']:
            s.gt_instances.labels[:] = 3
    data = tiny_model.data_preprocessor(data, True)
    with pytest.raises(ValueError, match=match):
        tiny_model(**data, mode='loss')


@pytest.mark.parametrize('branches,expected', [
    (('cls', ), dict(cls=3, loc=0, seg=0)),
    (('loc', ), dict(cls=0, loc=3, seg=0)),
    (('seg', ), dict(cls=0, loc=0, seg=2)),
    (('cls', 'loc'), dict(cls=3, loc=3, seg=0)),
    (('loc', 'seg'), dict(cls=0, loc=3, seg=2)),
])
def test_variants_are_configurations(branches, expected):
    cfg = Config.fromfile(TINY_3DS)
    for task, key in (('cls', 'classification'), ('loc', 'localization'),
                      ('seg', 'segmentation')):
        if task not in branches:
            cfg.model[key] = None
    model = build_model_from_cfg(cfg)
    assert {t: len(v) for t, v in model.datasets.items()} == expected
    assert (model.loc is None) == ('loc' not in branches)
    assert (model.seg is None) == ('seg' not in branches)
    assert (model.cls_heads is None) == ('cls' not in branches)


def test_every_decoder_gets_dinos_initialisation(tiny_model):
    """Each dataset's decoder set is initialised as mmdet's DINO initialises
    its one decoder: Xavier query embedding and two-stage projection (not
    PyTorch's N(0, 1) / Kaiming defaults), deformable attention's own init
    (zero sampling-offset weights, grid-shaped offset biases)."""
    from mmcv.ops import MultiScaleDeformableAttention
    for name, parts in tiny_model.loc.per_dataset.items():
        query = parts['query_embedding'].weight
        fan = sum(query.shape)
        # Xavier uniform: std sqrt(2 / (fan_in + fan_out)); N(0, 1) has 1.
        assert query.std().item() == pytest.approx((2 / fan) ** 0.5,
                                                   rel=0.1), name
        fc = parts['memory_trans_fc'].weight
        assert fc.std().item() == pytest.approx((2 / sum(fc.shape)) ** 0.5,
                                                rel=0.1), name
        attns = [m for m in parts['decoder'].modules()
                 if isinstance(m, MultiScaleDeformableAttention)]
        assert attns, name
        for attn in attns:
            assert torch.count_nonzero(attn.sampling_offsets.weight) == 0
            assert attn.sampling_offsets.bias.abs().max() >= 1.0, name
