"""Activation checkpointing replays the *device's* random state for tensors
passed by keyword too (issue 16 item 8).

torch.utils.checkpoint stashes and restores the CUDA generator of the devices
of the tensors it finds in its positional arguments only
(``_infer_device_type(*args)`` / ``get_device_states(*args)``). mmdet's
Deformable-DETR / DINO encoder calls its layers with keyword tensors only
(``layer(query=..., query_pos=..., ...)``), so a dropout inside a recomputed
encoder layer would draw a new CUDA mask in backward: wrong gradients.

No GPU here: the CUDA branch is driven on the CPU with a tensor that says it
is on ``cuda:0`` and a stand-in for the CUDA generator behind
``torch.cuda.get_rng_state`` / ``set_rng_state``, which the layer's dropout
draws from (as a CUDA dropout draws from the CUDA generator). The CPU
generator is always replayed by torch, so on the CPU the real model's
dropout is checked end to end (second test).
"""
import contextlib
import copy

import pytest
import torch
import torch.utils.checkpoint as torch_checkpoint
from mmengine.config import Config
from torch import nn

from fx_mm.models.utils import checkpoint_modules
from fx_mm.testing import make_batch
from fx_mm.utils import build_initialised_model
from tests.conftest import repo_path


class OnCuda0(torch.Tensor):
    """A CPU tensor that reports being on ``cuda:0`` (and so do its results),
    which is what torch.utils.checkpoint reads to pick the generators it
    stashes."""

    @property
    def device(self):
        return torch.device('cuda', 0)

    @property
    def is_cuda(self):
        return True

    def get_device(self):
        return 0


@pytest.fixture
def cuda_generator(monkeypatch):
    """A CPU generator standing in for cuda:0's, behind the torch.cuda RNG
    functions torch.utils.checkpoint and torch.random.fork_rng call; CUDA
    counts as initialised and as checkpoint's default device (as on a GPU
    machine)."""
    gen = torch.Generator()

    def get_rng_state(device='cuda'):
        return gen.get_state()

    def set_rng_state(state, device='cuda'):
        gen.set_state(state)

    monkeypatch.setattr(torch.cuda, '_initialized', True)
    monkeypatch.setattr(torch.cuda, 'get_rng_state', get_rng_state)
    monkeypatch.setattr(torch.cuda, 'set_rng_state', set_rng_state)
    monkeypatch.setattr(torch.cuda, 'device',
                        lambda device: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 1)
    monkeypatch.setattr(torch_checkpoint.DefaultDeviceType,
                        '_default_device_type', 'cuda')
    return gen


class CudaDropoutLayer(nn.Module):
    """Linear layer with a dropout whose mask comes from the (stand-in) CUDA
    generator; called like mmdet's encoder layers."""

    def __init__(self, generator: torch.Generator):
        super().__init__()
        self.linear = nn.Linear(8, 8)
        self.generator = generator

    def forward(self, query, query_pos):
        """(B, N, 8) queries and positions -> (B, N, 8)."""
        hidden = self.linear(query + query_pos)
        keep = torch.rand(tuple(hidden.shape), generator=self.generator) > 0.5
        return hidden * keep * 2.0


def gradients(layer, generator, keyword: bool, seed: int = 0):
    """Gradients of the layer's weight and of the query after one step
    whose dropout mask is drawn from ``generator`` seeded ``seed``."""
    torch.manual_seed(1)
    query = torch.randn(2, 5, 8).as_subclass(OnCuda0).requires_grad_()
    query_pos = torch.randn(2, 5, 8).as_subclass(OnCuda0)
    layer.zero_grad(set_to_none=True)
    generator.manual_seed(seed)
    out = layer(query=query, query_pos=query_pos) if keyword \
        else layer(query, query_pos)
    (out * torch.arange(out.numel()).reshape(out.shape)).sum().backward()
    return layer.linear.weight.grad.clone(), query.grad.clone()


@pytest.mark.parametrize('keyword', [False, True],
                         ids=['positional', 'keyword'])
def test_cuda_dropout_replays_in_recomputation(cuda_generator, keyword):
    """A checkpointed layer's gradients equal the plain layer's, with its
    tensors passed positionally (torch's own case) or by keyword (mmdet's
    encoder)."""
    plain = CudaDropoutLayer(cuda_generator)
    checkpointed = copy.deepcopy(plain)
    checkpointed.generator = cuda_generator
    checkpoint_modules([checkpointed])
    weight_a, query_a = gradients(plain, cuda_generator, keyword)
    weight_b, query_b = gradients(checkpointed, cuda_generator, keyword)
    # the mask comes from that generator: another seed, other gradients
    assert not torch.equal(
        query_a, gradients(plain, cuda_generator, keyword, seed=5)[1])
    torch.testing.assert_close(weight_b, weight_a)
    torch.testing.assert_close(query_b, query_a)


def build_with_dropout(checkpointing: bool):
    """The tiny model with dropout in every DINO encoder and decoder layer
    (attention and FFN) and drop-path in the Swin blocks."""
    cfg = Config.fromfile(repo_path('configs', 'tiny', 'fx_cls_tiny_3ds.py'))
    cfg.model.backbone.drop_path_rate = 0.2
    for part in ('encoder', 'decoder'):
        layer = cfg.model.localization[part].layer_cfg
        layer.ffn_cfg.ffn_drop = 0.3
        for attn in ('self_attn_cfg', 'cross_attn_cfg'):
            if attn in layer:
                layer[attn].dropout = 0.3
    return build_initialised_model(
        cfg, activation_checkpointing=checkpointing).train()


def test_real_dropout_gives_the_same_gradients_on_the_cpu():
    """Localization step of the tiny model with dropout 0.3 in the encoder
    (called with keyword tensors) and decoder layers: identical loss and
    gradients with and without checkpointing."""
    plain = build_with_dropout(False)
    checkpointed = build_with_dropout(True)
    for part in (plain.loc.encoder, checkpointed.loc.encoder):
        assert any(isinstance(m, nn.Dropout) and m.p == 0.3
                   for m in part.layers[0].modules())
    checkpointed.load_state_dict(plain.state_dict())
    results = []
    for model in (plain, checkpointed):
        data = model.data_preprocessor(
            make_batch('loc', 'ChestX-Det', 13, seed=5), training=True)
        torch.manual_seed(7)
        loss, _ = model.parse_losses(model(**data, mode='loss'))
        loss.backward()
        results.append((float(loss.detach()), {
            n: p.grad for n, p in model.named_parameters()
            if p.grad is not None}))
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert loss_b == pytest.approx(loss_a, rel=1e-6)
    assert grads_a.keys() == grads_b.keys()
    assert any('encoder' in n for n in grads_a)
    for name in grads_a:
        torch.testing.assert_close(grads_b[name], grads_a[name], rtol=1e-4,
                                   atol=1e-6, msg=name)
