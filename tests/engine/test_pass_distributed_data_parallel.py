"""PassDistributedDataParallel against mmengine's MMDistributedDataParallel
(torch DDP, find_unused_parameters=True, broadcast_buffers=True) on 2 gloo
processes: the same parameters after every step (and rank 0's buffers),
while it all-reduces only the gradients the step made and leaves every rank
with rank 0's buffers."""
import os
import os.path as osp

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.model import BaseModel
from torch import nn

from fx_mm.testing.pass_communication import (
    AllReduceCounter, free_port, route_ddp_buckets_through_python)

WORLD = 2


class Branchy(BaseModel):
    """A trunk with BatchNorm and three heads; ``data_samples`` names the
    head a batch reaches ('a' or 'b'); ``never`` is reached by no batch and
    ``locked`` is frozen (its input still has a graph)."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Linear(4, 8)
        self.bn = nn.BatchNorm1d(8)
        self.a, self.b, self.never = (nn.Linear(8, 1) for _ in range(3))
        self.locked = nn.Linear(8, 1)
        self.locked.requires_grad_(False)

    def forward(self, inputs, data_samples=None, mode='loss'):
        h = self.bn(self.trunk(inputs)).relu()
        head = self.a if data_samples == 'a' else self.b
        return dict(loss=(head(h) + self.locked(h)).pow(2).mean())


# (head per rank, images) of each step; step 0 reaches a different head on
# each rank (find_unused_parameters across ranks), the others the same.
STEPS = [(('a', 'b'), 6), (('a', 'a'), 4), (('b', 'b'), 5), (('a', 'b'), 3)]


def batch(rank, step):
    heads, n = STEPS[step]
    g = torch.Generator().manual_seed(10 * step + rank)
    return dict(inputs=torch.randn(n, 4, generator=g) * (1 + step + rank),
                data_samples=heads[rank])


def build_optim(model, kind):
    from mmengine.optim import OptimWrapper

    from fx_mm.engine.optimizers import FXOptimWrapper
    from fx_mm.engine.optimizers.fx_optim_wrapper import FXAmpOptimWrapper
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=0.05,
        weight_decay=0.5)
    if kind == 'plain':
        return OptimWrapper(optimizer)
    if kind == 'accumulate':  # no_sync on every other step
        return OptimWrapper(optimizer, accumulative_counts=2)
    # bf16 autocast on the CPU, clipping in 'loc' passes (after unscale)
    wrapper = FXAmpOptimWrapper(optimizer, dtype='bfloat16',
                                clip_grad=dict(max_norm=0.01),
                                clip_tasks=('loc', ))
    wrapper.set_task('loc')
    return wrapper


def run_rank(rank, port, out_dir):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=WORLD)
    from mmengine.model import MMDistributedDataParallel

    from fx_mm.engine.model_wrappers import PassDistributedDataParallel
    record = {}
    for optim_kind in ('plain', 'accumulate', 'amp'):
        for name in ('ddp', 'pass'):
            # rank 1 starts from other weights: wrapping gives it rank 0's
            torch.manual_seed(rank)
            model = Branchy()
            if name == 'ddp':
                wrapped = MMDistributedDataParallel(
                    module=model, find_unused_parameters=True,
                    broadcast_buffers=True)
                route_ddp_buckets_through_python(wrapped)
            else:
                wrapped = PassDistributedDataParallel(model)
            optim = build_optim(model, optim_kind)
            states, sent = [], []
            for step in range(len(STEPS)):
                with AllReduceCounter() as counter:
                    wrapped.train_step(batch(rank, step), optim)
                sent.append(counter.bytes)
                states.append({k: v.clone()
                               for k, v in model.state_dict().items()})
            record[(optim_kind, name)] = dict(states=states, sent=sent)
    torch.save(record, osp.join(out_dir, f'rank{rank}.pth'))
    dist.destroy_process_group()


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('pass_ddp'))
    mp.spawn(run_rank, args=(free_port(), out), nprocs=WORLD, join=True)
    return [torch.load(osp.join(out, f'rank{r}.pth'), weights_only=False)
            for r in range(WORLD)]


def is_buffer(key):
    return 'running' in key or 'num_batches' in key


@pytest.mark.parametrize('optim_kind', ['plain', 'accumulate', 'amp'])
def test_same_parameters_as_ddp_after_every_step(runs, optim_kind):
    """And rank 0's buffers: DDP leaves rank 1 with its own batch's update
    of them (see the next tests)."""
    for rank in range(WORLD):
        ddp = runs[rank][(optim_kind, 'ddp')]['states']
        ours = runs[rank][(optim_kind, 'pass')]['states']
        for step, (a, b) in enumerate(zip(ddp, ours)):
            for key in a:
                if rank > 0 and is_buffer(key):
                    continue
                # DDP divides before summing, we after: rounding only
                torch.testing.assert_close(
                    b[key], a[key], rtol=1e-5, atol=1e-6,
                    msg=f'rank {rank} step {step} {key}')


@pytest.mark.parametrize('optim_kind', ['plain', 'accumulate', 'amp'])
def test_parameters_and_buffers_identical_on_both_ranks_after_every_step(
        runs, optim_kind):
    states = [runs[r][(optim_kind, 'pass')]['states'] for r in range(WORLD)]
    for step in range(len(STEPS)):
        for key, value in states[0][step].items():
            assert torch.equal(value, states[1][step][key]), (step, key)
    # under DDP the BatchNorm statistics drift apart
    ddp = [runs[r][(optim_kind, 'ddp')]['states'] for r in range(WORLD)]
    assert not torch.equal(ddp[0][0]['bn.running_mean'],
                           ddp[1][0]['bn.running_mean'])


def test_a_head_no_rank_reached_is_left_alone(runs):
    """No gradient, so AdamW's weight decay does not touch it either (a zero
    gradient would shrink it); the frozen head does not move."""
    ours = runs[0][('plain', 'pass')]['states']
    first = ours[0]
    for state in ours:
        for key in ('never.weight', 'never.bias', 'locked.weight'):
            assert torch.equal(state[key], first[key]), key
    # while the reached heads trained
    assert not torch.equal(ours[-1]['a.weight'], first['a.weight'])


def test_buffers_are_rank_0s_after_each_step(runs):
    """BatchNorm running means: after a step, every rank's buffer is rank
    0's value before the step, moved by rank 0's batch (momentum 0.1)."""
    rank0 = runs[0][('plain', 'pass')]['states']
    for rank in range(WORLD):
        states = runs[rank][('plain', 'pass')]['states']
        for step in range(1, len(STEPS)):
            x = batch(0, step)['inputs']
            # the forward used the weights before the step's update
            trunk = nn.Linear(4, 8)
            trunk.load_state_dict({k[6:]: v for k, v in
                                   rank0[step - 1].items()
                                   if k.startswith('trunk.')})
            with torch.no_grad():
                mean = trunk(x).mean(0)
            expected = 0.9 * rank0[step - 1]['bn.running_mean'] + 0.1 * mean
            torch.testing.assert_close(states[step]['bn.running_mean'],
                                       expected, msg=f'rank {rank} {step}')


def test_all_reduces_only_the_gradients_the_step_made(runs):
    """Per step: one byte per trainable parameter tensor (which were
    reached) and the float32 gradients of the parameters some rank reached:
    trunk, bn and the heads reached (a and b in steps 0 and 3, one head in
    steps 1 and 2) -- never ``never`` or ``locked``; DDP reduces all of its
    parameters every step."""
    floats = dict(trunk=4 * 8 + 8, bn=8 + 8, head=8 + 1)
    trainable_tensors = 2 * 5  # trunk, bn, a, b, never: weight and bias
    for step, (heads, _) in enumerate(STEPS):
        reached = floats['trunk'] + floats['bn'] + floats['head'] * len(
            set(heads))
        expected = trainable_tensors + 4 * reached
        for rank in range(WORLD):
            assert runs[rank][('plain', 'pass')]['sent'][step] == expected
    everything = 4 * (floats['trunk'] + floats['bn'] + 3 * floats['head'])
    assert runs[0][('plain', 'ddp')]['sent'][1] == everything
    # accumulation: nothing on the no_sync step, the sum on the next
    sent = runs[0][('accumulate', 'pass')]['sent']
    assert sent[0] == sent[2] == 0 and sent[1] > 0 and sent[3] > 0


def test_one_process_trains_without_communication():
    """Without a process group (world size 1) it wraps and trains like the
    bare model; device_ids naming a device the module is not on, or several
    devices, is refused with the reason."""
    from mmengine.optim import OptimWrapper

    from fx_mm.engine.model_wrappers import PassDistributedDataParallel
    torch.manual_seed(0)
    bare, wrapped_model = Branchy(), Branchy()
    wrapped_model.load_state_dict(bare.state_dict())
    wrapped = PassDistributedDataParallel(wrapped_model)
    for model, step in ((bare, bare.train_step), (wrapped_model,
                                                  wrapped.train_step)):
        optim = OptimWrapper(torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad], lr=0.05))
        with AllReduceCounter() as counter:
            for i in range(2):
                step(batch(0, i), optim)
        assert counter.calls == 0
    for key, value in bare.state_dict().items():
        assert torch.equal(value, wrapped_model.state_dict()[key]), key
    with pytest.raises(ValueError, match=r"parameters on \['cpu'\]"):
        PassDistributedDataParallel(Branchy(), device_ids=[0])
    with pytest.raises(ValueError, match='one device'):
        PassDistributedDataParallel(Branchy(), device_ids=[0, 1])
