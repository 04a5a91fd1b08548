"""model.activation_checkpointing: same losses and gradients, blocks really
recomputed in backward, weight names unchanged."""
import pytest
import torch
from mmengine.config import Config

from fx_mm.models.utils import is_checkpointed
from fx_mm.testing import make_batch
from fx_mm.utils import build_initialised_model
from tests.conftest import repo_path

TINY_3DS = repo_path('configs', 'tiny', 'fx_cls_tiny_3ds.py')


def build(cp):
    cfg = Config.fromfile(TINY_3DS)
    # drop-path in the Swin blocks: checkpointing must replay its randomness
    cfg.model.backbone.drop_path_rate = 0.2
    return build_initialised_model(cfg, activation_checkpointing=cp).train()


@pytest.fixture(scope='module')
def models():
    return build(False), build(True)


def loss_and_grads(model, task, dataset, num_classes):
    model.zero_grad(set_to_none=True)
    data = model.data_preprocessor(
        make_batch(task, dataset, num_classes, seed=5), training=True)
    torch.manual_seed(7)  # dropout, drop-path, denoising queries
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()
             if p.grad is not None}
    return {k: float(model.parse_losses({k: v})[0].detach())
            for k, v in losses.items()}, grads


@pytest.mark.parametrize('task,dataset,num_classes', [
    ('cls', 'ChestX-Det', 13), ('loc', 'ChestX-Det', 13),
    ('seg', 'SIIM-ACR', 1)])
def test_same_losses_and_gradients_with_and_without(models, task, dataset,
                                                    num_classes):
    plain, checkpointed = models
    assert plain.state_dict().keys() == checkpointed.state_dict().keys()
    checkpointed.load_state_dict(plain.state_dict())
    losses_a, grads_a = loss_and_grads(plain, task, dataset, num_classes)
    losses_b, grads_b = loss_and_grads(checkpointed, task, dataset,
                                       num_classes)
    assert losses_a.keys() == losses_b.keys()
    for k in losses_a:
        assert losses_a[k] == pytest.approx(losses_b[k], rel=1e-5, abs=1e-6)
    assert grads_a.keys() == grads_b.keys()
    for name in grads_a:
        torch.testing.assert_close(grads_b[name], grads_a[name], rtol=1e-4,
                                   atol=1e-6, msg=name)


def count_calls(modules):
    calls = []
    handles = [m.register_forward_hook(lambda *_: calls.append(1))
               for m in modules]
    return calls, handles


def test_blocks_run_again_in_backward_only_when_checkpointed(models):
    """A checkpointed Swin block's attention and a decoder layer's cross
    attention run twice per training step (forward, then recomputation in
    backward); without checkpointing once; for the no-grad teacher once."""
    for model, expected in zip(models, (1, 2)):
        block = model.backbone.stages[0].blocks[0]
        layer = model.loc.per_dataset['TBX11K']['decoder'].layers[0]
        encoder = model.loc.encoder.layers[0]
        assert is_checkpointed(block) == is_checkpointed(layer) == \
            is_checkpointed(encoder) == (expected == 2)
        for module in (block.attn, layer.cross_attn, encoder.self_attn):
            calls, handles = count_calls([module])
            loss_and_grads(model, 'loc', 'TBX11K', 1)
            for h in handles:
                h.remove()
            # the decoder runs once per layer; the DN branch shares the pass
            assert len(calls) == expected, (type(module).__name__, calls)
        teacher_block = model.teacher['backbone'].stages[0].blocks[0]
        calls, handles = count_calls([teacher_block.attn])
        loss_and_grads(model, 'cls', 'TBX11K', 1)
        handles[0].remove()
        assert len(calls) == 1  # the teacher records no graph


def test_parts_can_be_chosen_and_unknown_ones_are_refused():
    model = build(('loc_decoder', ))
    assert not is_checkpointed(model.backbone.stages[0].blocks[0])
    assert not is_checkpointed(model.loc.encoder.layers[0])
    assert all(is_checkpointed(layer)
               for parts in model.loc.per_dataset.values()
               for layer in parts['decoder'].layers)
    with pytest.raises(ValueError, match="unknown \\['seg'\\]"):
        build(('seg', ))
