"""Every dataloader worker of every pass on every rank draws from its own
seed: random augmentations must not replay another pass's or another rank's
draws.

mmengine's ``worker_init_fn`` seeds worker ``w`` of rank ``r`` with
``seed + num_workers * r + w``, ``seed`` being what the loop hands to
``build_dataloader`` for the pass. The loop's loaders are built here for two
cycles of the tiny config as each of 1, 2 and 3 ranks would build them
(rank and world size patched; nothing is iterated), and each loader's own
``worker_init_fn`` is called as a worker would call it.
"""
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import fx_mm  # noqa: F401
from fx_mm.engine.loops import cyclic_train_loop
from fx_mm.utils.runtime import setup_runtime_cfg
from tests.conftest import tiny_train_config

NUM_WORKERS = 2


@pytest.fixture
def train_loop(covid_lungs, tmp_path):
    config = tiny_train_config(
        str(tmp_path / 'cfg.py'), covid_lungs, extra=f'''
train_cfg = dict(max_cycles=2)
train_dataloader = dict(num_workers={NUM_WORKERS})
''')
    cfg = Config.fromfile(config)
    setup_runtime_cfg(cfg, config, str(tmp_path / 'work'))
    # mmengine keeps one visualizer per name for the process: a name of its
    # own keeps it out of an earlier test's (removed) folder
    cfg.visualizer.name = f'visualizer_{tmp_path.name}'
    return Runner.from_cfg(cfg).train_loop


def worker_seeds(loader):
    """The seed each worker of ``loader`` gets (torch's initial seed after
    the loader's worker_init_fn, as DataLoader runs it in a worker); the
    process's generators are left as they were."""
    python, numpy = random.getstate(), np.random.get_state()
    seeds = []
    with torch.random.fork_rng(devices=[]):
        for worker_id in range(NUM_WORKERS):
            loader.worker_init_fn(worker_id)
            seeds.append(torch.initial_seed())
    random.setstate(python)
    np.random.set_state(numpy)
    return seeds


def seeds_by_worker(loop, world_size, monkeypatch):
    """{(pass index, rank, worker): seed} over the loop's schedule."""
    seeds = {}
    for rank in range(world_size):
        with monkeypatch.context() as patch:
            patch.setattr(cyclic_train_loop, 'get_world_size',
                          lambda: world_size)
            patch.setattr('mmengine.runner.runner.get_rank', lambda: rank)
            for p in loop.schedule:
                loop._loaders.clear()
                for worker, seed in enumerate(worker_seeds(loop._loader(p))):
                    seeds[(p.index, rank, worker)] = seed
    loop._loaders.clear()
    return seeds


@pytest.mark.parametrize('world_size', [1, 2, 3])
def test_workers_of_all_passes_and_ranks_get_distinct_seeds(
        train_loop, monkeypatch, world_size):
    assert len(train_loop.schedule) > 10  # two cycles of several steps
    seeds = seeds_by_worker(train_loop, world_size, monkeypatch)
    assert len(seeds) == len(train_loop.schedule) * world_size * NUM_WORKERS
    repeated = {s for s in seeds.values()
                if list(seeds.values()).count(s) > 1}
    assert not repeated, sorted(
        k for k, s in seeds.items() if s in repeated)[:6]


def test_worker_seeds_depend_only_on_the_pass(train_loop, monkeypatch):
    """Built again (as a resumed run builds its passes' loaders), every
    worker gets the seed it had: resume stays exact."""
    first = seeds_by_worker(train_loop, 2, monkeypatch)
    assert seeds_by_worker(train_loop, 2, monkeypatch) == first
