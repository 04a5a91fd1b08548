"""Issue 16 item 3: ``--resume`` restores each rank's own generator states,
on the CPU, also where mmengine maps the checkpoint to CUDA.

The CUDA branches run on the CPU: a fake ``torch.cuda`` per simulated
process (its devices' generator states, the device its rank uses), tensors
that report ``is_cuda`` for what ``map_location='cuda'`` makes of a
checkpoint, and setters that refuse such tensors as torch's generators do
("RNG state must be a torch.ByteTensor"). Several ranks are simulated one
after the other, with mmengine's dist functions answering for the rank.
"""
import io
import logging
import os
import pickle
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.utils import apply_to

import fx_mm  # noqa: F401  (registers the checkpoint globals)
from fx_mm.engine.hooks import random_state_hook
from fx_mm.engine.hooks.random_state_hook import RandomStateHook


class ReportsCuda(torch.Tensor):
    """A CPU tensor that says it is on CUDA (and so do its results, but for
    ``cpu()``, which copies a CUDA tensor to the CPU)."""

    @property
    def is_cuda(self):
        return True

    def cpu(self, *args, **kwargs):
        return self.as_subclass(torch.Tensor).clone()


def check_rng_state(state):
    """What torch's generators check before ``set_state``."""
    if not isinstance(state, torch.Tensor) or state.is_cuda \
            or state.device.type != 'cpu' or state.dtype != torch.uint8:
        raise TypeError('RNG state must be a torch.ByteTensor')


class FakeCudaProcess:
    """``torch.cuda`` as one process sees it: the generator states of the
    machine's devices, of which it uses ``device`` (its rank's)."""

    def __init__(self, device: int, devices: int):
        self.device = device
        self.states = {i: torch.full((16, ), 10 + i, dtype=torch.uint8)
                       for i in range(devices)}

    def install(self, monkeypatch):
        for name in ('is_available', 'device_count', 'current_device',
                     'get_rng_state', 'set_rng_state', 'get_rng_state_all',
                     'set_rng_state_all', 'manual_seed_all'):
            monkeypatch.setattr(torch.cuda, name, getattr(self, name))

    def draw(self):
        """CUDA draws (drop path, denoising noise) advance the generator of
        the process's device."""
        self.states[self.device] = self.states[self.device] + 1

    def is_available(self):
        return True

    def device_count(self):
        return len(self.states)

    def current_device(self):
        return self.device

    def _index(self, device):
        if isinstance(device, int):
            return device
        device = torch.device(device)
        return self.device if device.index is None else device.index

    def get_rng_state(self, device='cuda'):
        return self.states[self._index(device)].clone()

    def set_rng_state(self, new_state, device='cuda'):
        check_rng_state(new_state)
        self.states[self._index(device)] = new_state.clone()

    def get_rng_state_all(self):
        return [self.get_rng_state(i) for i in range(len(self.states))]

    def set_rng_state_all(self, new_states):
        for i, state in enumerate(new_states):
            self.set_rng_state(state, i)

    def manual_seed_all(self, seed):
        for i in self.states:
            self.states[i] = torch.full((16, ), seed % 251, dtype=torch.uint8)


@pytest.fixture
def cpu_setter_checks_the_device(monkeypatch):
    """torch.set_rng_state, refusing what reports CUDA (the real one refuses
    a real CUDA tensor; it cannot see through ReportsCuda)."""
    real = torch.set_rng_state

    def set_rng_state(new_state):
        check_rng_state(new_state)
        real(new_state)

    monkeypatch.setattr(torch, 'set_rng_state', set_rng_state)


@pytest.fixture
def warnings_logged():
    """The warnings given through mmengine's current logger."""
    records = []

    class Collect(logging.Handler):

        def emit(self, record):
            records.append(record.getMessage())

    logger = MMLogger.get_instance(f'rsh{id(records)}', log_level='INFO')
    handler = Collect(level=logging.WARNING)
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def as_rank(monkeypatch, rank: int, world_size: int):
    """mmengine's dist functions (as the hook module imports them) answer
    for ``rank`` of ``world_size``."""
    monkeypatch.setattr(random_state_hook, 'get_dist_info',
                        lambda: (rank, world_size), raising=False)


def fake_runner(rank: int, seed: int = 0, iteration: int = 6):
    return SimpleNamespace(_resume=True, rank=rank, seed=seed + rank,
                           iter=iteration, epoch=2)


def cpu_states():
    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def assert_cpu_states(expected, msg=''):
    python, numpy_state, torch_state = cpu_states()
    assert python == expected[0], f'{msg}: python'
    for a, b in zip(numpy_state, expected[1]):
        assert np.array_equal(a, b), f'{msg}: numpy'
    assert torch.equal(torch_state, expected[2]), f'{msg}: torch'


def seed_cpu(seed: int):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def draw_cpu():
    random.random(), np.random.rand(3), torch.rand(3)


def loaded_on_cuda(checkpoint: dict) -> dict:
    """The checkpoint through torch.save and torch.load, as mmengine's
    resume loads it on a GPU (``map_location=get_device()``, 'cuda'): every
    tensor on CUDA. Loaded under ``weights_only``, as resume does."""
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, map_location='cpu', weights_only=True)
    return apply_to(loaded, lambda x: isinstance(x, torch.Tensor),
                    lambda x: x.as_subclass(ReportsCuda))


def test_resume_mapped_to_cuda_restores_on_the_cpu(
        monkeypatch, cpu_setter_checks_the_device):
    """One GPU: the stored states reach torch's setters as CPU byte tensors,
    and the resumed run draws what the uninterrupted one would have."""
    cuda = FakeCudaProcess(device=0, devices=1)
    cuda.install(monkeypatch)
    seed_cpu(3)
    draw_cpu()
    cuda.draw()
    runner = fake_runner(0)
    checkpoint = dict(meta=dict(iter=6))
    RandomStateHook().before_save_checkpoint(runner, checkpoint)
    saved_cuda = cuda.states[0].clone()
    next_draws = cpu_states()
    # the interrupted run drew on before it stopped
    draw_cpu()
    cuda.draw()

    RandomStateHook().after_load_checkpoint(runner, loaded_on_cuda(checkpoint))
    assert_cpu_states(next_draws, 'after resume')
    assert torch.equal(cuda.states[0], saved_cuda)


def save_two_ranks(monkeypatch, cudas, runners):
    """A pass ends on ranks 0 and 1 (the hook gathers their states), then
    rank 0 saves the checkpoint. Returns it and each rank's CPU states."""
    gathered = []

    def all_gather_object(obj):
        # as torch.distributed's: each rank gets the others' objects through
        # pickle (filled in as the simulated ranks reach the collective)
        gathered.append(pickle.loads(pickle.dumps(obj)))
        return gathered

    monkeypatch.setattr(random_state_hook, 'all_gather_object',
                        all_gather_object, raising=False)
    hooks, states = [RandomStateHook(), RandomStateHook()], []
    for rank in (0, 1):
        as_rank(monkeypatch, rank, 2)
        cudas[rank].install(monkeypatch)
        seed_cpu(100 + rank)  # diff_rank_seed: seed + rank
        draw_cpu()
        cudas[rank].draw()
        hooks[rank].after_train_epoch(runners[rank])
        states.append(cpu_states())
    as_rank(monkeypatch, 0, 2)
    cudas[0].install(monkeypatch)
    random.setstate(states[0][0])
    np.random.set_state(states[0][1])
    torch.set_rng_state(states[0][2])
    checkpoint = dict(meta=dict(iter=6))
    hooks[0].before_save_checkpoint(runners[0], checkpoint)  # rank 0 only
    return checkpoint, states


def test_each_rank_restores_its_own_cpu_and_cuda_states(
        monkeypatch, cpu_setter_checks_the_device):
    """Two ranks (one process per GPU): after a resume mapped to CUDA, rank 1
    has its own CPU states and its own device's CUDA state, not rank 0's."""
    cudas = [FakeCudaProcess(rank, devices=2) for rank in (0, 1)]
    runners = [fake_runner(rank) for rank in (0, 1)]
    checkpoint, states = save_two_ranks(monkeypatch, cudas, runners)
    saved_cuda = [cudas[rank].states[rank].clone() for rank in (0, 1)]
    assert not torch.equal(saved_cuda[0], saved_cuda[1])

    for rank in (0, 1):
        as_rank(monkeypatch, rank, 2)
        cudas[rank].install(monkeypatch)
        seed_cpu(999)  # what the processes of the resumed run start from
        cudas[rank].manual_seed_all(999)
        RandomStateHook().after_load_checkpoint(runners[rank],
                                                loaded_on_cuda(checkpoint))
        assert_cpu_states(states[rank], f'rank {rank}')
        assert torch.equal(cudas[rank].states[rank], saved_cuda[rank]), \
            f'rank {rank}: CUDA state of its device'


@pytest.mark.parametrize('world_size', [1, 3])
def test_resume_with_another_world_size_reseeds_each_rank_and_says_so(
        monkeypatch, cpu_setter_checks_the_device, warnings_logged,
        world_size):
    """A 2-rank checkpoint resumed on 1 or 3 processes: no rank takes another
    rank's (or rank 0's) states; each is reseeded from its seed, the
    iteration and its rank -- apart from the other ranks, reproducibly --
    and the run is told why."""
    cudas = [FakeCudaProcess(rank, devices=2) for rank in (0, 1)]
    checkpoint, states = save_two_ranks(
        monkeypatch, cudas, [fake_runner(rank) for rank in (0, 1)])

    resumed = []
    for rank in range(world_size):
        as_rank(monkeypatch, rank, world_size)
        FakeCudaProcess(rank, devices=world_size).install(monkeypatch)
        seed_cpu(rank)  # the start-up seed (diff_rank_seed)
        start_up = cpu_states()
        RandomStateHook().after_load_checkpoint(fake_runner(rank),
                                                loaded_on_cuda(checkpoint))
        now = cpu_states()
        resumed.append(now)
        for other in states + [start_up]:
            assert not torch.equal(now[2], other[2]), f'rank {rank}'
        seed_cpu(rank)
        RandomStateHook().after_load_checkpoint(fake_runner(rank),
                                                loaded_on_cuda(checkpoint))
        assert_cpu_states(now, f'rank {rank}, reseeded again')
    assert len({bytes(s[2].numpy()) for s in resumed}) == world_size
    assert any(f'states of 2 rank(s), this run has {world_size}' in w
               for w in warnings_logged), warnings_logged


def test_runner_resume_on_a_gpu_restores_the_generators(
        covid_lungs, tmp_path, monkeypatch, cpu_setter_checks_the_device):
    """mmengine's own resume path: Runner.resume maps the checkpoint to
    ``get_device()`` ('cuda' on a GPU) and calls the hook with it; the
    generators end as they were when the checkpoint was saved."""
    from mmengine.config import Config
    from mmengine.hooks import Hook
    from mmengine.runner import Runner
    import mmengine.runner.runner as runner_module

    from tests.conftest import tiny_train_config

    config = tiny_train_config(str(tmp_path / 'cfg.py'), covid_lungs,
                               n_train=2, extra='''
train_cfg = dict(max_cycles=1, steps=[('CovidLungs', 'cls')], val_interval=9)
model = dict(teacher=False)
default_hooks = dict(checkpoint=dict(save_last=False))
''')
    at_save = []

    class StatesAtSave(Hook):

        def before_save_checkpoint(self, runner, checkpoint):
            at_save.append(cpu_states())

    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'run')
    runner = Runner.from_cfg(cfg)
    runner.register_hook(StatesAtSave(), priority='LOWEST')
    runner.train()
    assert len(at_save) == 1

    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'resumed')
    cfg.resume, cfg.load_from = True, str(tmp_path / 'run' / 'epoch_1.pth')
    resumed = Runner.from_cfg(cfg)
    map_locations, real_load = [], torch.load

    def load_on_cuda(f, map_location=None, **kwargs):
        """torch.load as on a GPU: every tensor mapped to CUDA."""
        map_locations.append(map_location)
        checkpoint = real_load(f, map_location='cpu', **kwargs)
        return apply_to(checkpoint, lambda x: isinstance(x, torch.Tensor),
                        lambda x: x.as_subclass(ReportsCuda))

    monkeypatch.setattr(runner_module, 'get_device', lambda: 'cuda')
    monkeypatch.setattr(torch, 'load', load_on_cuda)
    seed_cpu(12345)
    resumed.load_or_resume()
    assert map_locations == ['cuda']
    assert_cpu_states(at_save[0], 'after Runner.resume')
    os.remove(str(tmp_path / 'run' / 'epoch_1.pth'))  # tens of MB


def test_a_checkpoint_saved_between_pass_ends_reseeds_the_other_ranks(
        monkeypatch, cpu_setter_checks_the_device, warnings_logged):
    """Rank 0 drew on after the pass end (a checkpoint saved by iteration):
    the other ranks' states gathered at the pass end are stale. The
    checkpoint keeps rank 0's current states only and says so; a resume
    restores rank 0 and reseeds rank 1 -- never with rank 0's states."""
    cudas = [FakeCudaProcess(rank, devices=2) for rank in (0, 1)]
    runners = [fake_runner(rank) for rank in (0, 1)]
    gathered = []
    monkeypatch.setattr(random_state_hook, 'all_gather_object',
                        lambda obj: gathered.append(obj) or gathered,
                        raising=False)
    hooks = [RandomStateHook(), RandomStateHook()]
    for rank in (0, 1):
        as_rank(monkeypatch, rank, 2)
        cudas[rank].install(monkeypatch)
        seed_cpu(100 + rank)
        hooks[rank].after_train_epoch(runners[rank])
    as_rank(monkeypatch, 0, 2)
    cudas[0].install(monkeypatch)
    seed_cpu(100)
    draw_cpu()  # the next iteration
    runners[0].iter += 1
    at_save = cpu_states()
    checkpoint = dict(meta=dict(iter=runners[0].iter))
    hooks[0].before_save_checkpoint(runners[0], checkpoint)
    assert any('outside a pass end' in w for w in warnings_logged)

    for rank in (0, 1):
        as_rank(monkeypatch, rank, 2)
        cudas[rank].install(monkeypatch)
        seed_cpu(100 + rank)
        RandomStateHook().after_load_checkpoint(runners[rank],
                                                loaded_on_cuda(checkpoint))
        if rank == 0:
            assert_cpu_states(at_save, 'rank 0')
        else:
            assert not torch.equal(cpu_states()[2], at_save[2])
    assert any('no generator states of rank 1' in w
               for w in warnings_logged), warnings_logged


def test_a_checkpoint_of_the_earlier_layout_resumes_on_one_gpu(
        monkeypatch, cpu_setter_checks_the_device):
    """Checkpoints written before per-rank states (one set: rank 0's, the
    torch state as a tensor, the CUDA states of all devices) still resume
    a one-process run, also when mapped to CUDA."""
    cuda = FakeCudaProcess(device=0, devices=1)
    cuda.install(monkeypatch)
    seed_cpu(5)
    cuda.draw()
    saved, saved_cuda = cpu_states(), cuda.states[0].clone()
    checkpoint = dict(meta=dict(iter=3), random_state=dict(
        python=saved[0], numpy=saved[1], torch=saved[2],
        cuda=torch.cuda.get_rng_state_all()))
    draw_cpu()
    cuda.draw()
    RandomStateHook().after_load_checkpoint(fake_runner(0),
                                            loaded_on_cuda(checkpoint))
    assert_cpu_states(saved, 'earlier layout')
    assert torch.equal(cuda.states[0], saved_cuda)
