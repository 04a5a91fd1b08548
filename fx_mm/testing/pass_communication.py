"""What a training step of each pass kind all-reduces, measured on several
CPU processes (gloo) -- for tests/engine/test_distributed.py and
``tools/benchmark.py ddp``.

Each process builds the config's model, wraps it with the config's
``model_wrapper_cfg`` (as mmengine's runner does), builds the config's
optimizer wrapper, and runs a few training steps of each pass kind on
synthetic batches that differ per rank, freezing with the real
:class:`LockReleaseHook`. Bytes are counted at
``torch.distributed.all_reduce``; a DDP wrapper gets torch's Python
all-reduce comm hook, so each of its buckets passes through that function
too (DDP's own per-step all-reduce of its unused-parameter map, one int32
per parameter tensor, stays uncounted).
"""
import copy
import hashlib
import json
import os
import os.path as osp
import socket
import statistics
import tempfile
import time
from types import SimpleNamespace
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.distributed as dist

# (task, pass kind) of the passes a Foundation X cycle has.
PASS_KINDS: Tuple[Tuple[str, str], ...] = (
    ('cls', 'full'), ('loc', 'lock'), ('loc', 'release'), ('seg', 'lock'),
    ('seg', 'release'))


class AllReduceCounter:
    """Count the bytes this process hands to ``torch.distributed.all_reduce``
    while the context is active (callers that look the function up at call
    time: mmengine.dist, torch's DDP comm hooks)."""

    def __init__(self) -> None:
        self.bytes = 0
        self.calls = 0

    def __enter__(self) -> 'AllReduceCounter':
        self._original = dist.all_reduce

        def counting(tensor, *args, **kwargs):
            self.bytes += tensor.numel() * tensor.element_size()
            self.calls += 1
            return self._original(tensor, *args, **kwargs)

        dist.all_reduce = counting
        return self

    def __exit__(self, *exc) -> None:
        dist.all_reduce = self._original


def route_ddp_buckets_through_python(model) -> None:
    """Give a DDP model torch's default all-reduce as a Python comm hook (the
    same reduction: bucket / world size, summed), so that
    :class:`AllReduceCounter` sees every bucket; other wrappers are left
    alone."""
    from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
    from torch.nn.parallel import DistributedDataParallel
    if isinstance(model, DistributedDataParallel):
        model.register_comm_hook(None, default_hooks.allreduce_hook)


def parameter_digest(module: torch.nn.Module) -> str:
    """sha1 of every parameter's name and bytes (student and teacher)."""
    digest = hashlib.sha1()
    for name, value in module.named_parameters():
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _num_classes(model, task: str, dataset: str) -> int:
    return (model.cls_heads[dataset].num_classes if task == 'cls' else
            model.loc.num_classes[dataset] if task == 'loc' else
            model.seg.num_classes_of[dataset])


def free_port() -> int:
    """A TCP port free on this machine now (for MASTER_PORT)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world_size: int, port: int, options: dict) -> None:
    """One process of :func:`measure_passes` (rank 0 writes the results)."""
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(options['threads'])
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        results = _measure_on_this_rank(rank, options)
        if rank == 0:
            with open(options['out'], 'w') as f:
                json.dump(results, f)
    finally:
        dist.destroy_process_group()


def _measure_on_this_rank(rank: int, options: dict) -> List[dict]:
    from mmengine.config import Config
    from mmengine.dist import all_gather_object
    from mmengine.logging import MMLogger
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import MODEL_WRAPPERS

    import fx_mm  # noqa: F401  (registers the wrapper, hooks, models)
    from fx_mm.engine.hooks import LockReleaseHook
    from fx_mm.engine.loops.cyclic_train_loop import Pass
    from fx_mm.testing import make_batch
    from fx_mm.utils import build_initialised_model
    MMLogger.get_instance('mmengine', log_level='WARNING')

    cfg = Config.fromfile(options['config'])
    model = build_initialised_model(cfg).train()
    wrapper_cfg = copy.deepcopy(options['wrapper_cfg'] or
                                cfg.model_wrapper_cfg)
    wrapper_cfg['device_ids'] = None  # CPU processes (fx_mm.utils.runtime)
    wrapped = MODEL_WRAPPERS.build(wrapper_cfg,
                                   default_args=dict(module=model))
    route_ddp_buckets_through_python(wrapped)
    optim_wrapper = build_optim_wrapper(wrapped, cfg.optim_wrapper)
    trained_bytes = []
    optim_wrapper.optimizer.register_step_pre_hook(
        lambda *_: trained_bytes.append(sum(
            p.grad.numel() * p.grad.element_size()
            for p in model.parameters() if p.grad is not None)))

    # The real freezing of a pass, with the runner stand-ins it reads.
    hook = LockReleaseHook()
    runner = SimpleNamespace(model=wrapped,
                             train_loop=SimpleNamespace(current_pass=None))
    hook.before_train(runner)
    results = []
    for index, (task, kind) in enumerate(options['kinds']):
        dataset = model.datasets[task][0]
        runner.train_loop.current_pass = Pass(index, 0, 0, dataset, task,
                                              kind)
        hook.before_train_epoch(runner)
        optim_wrapper.set_task(task)
        sent, times, digests = [], [], []
        del trained_bytes[:]
        for i in range(options['warmup'] + options['steps']):
            data = make_batch(task, dataset, _num_classes(model, task,
                                                          dataset),
                              size=options['size'],
                              batch_size=options['batch_size'],
                              seed=1000 * rank + 100 * index + i)
            with AllReduceCounter() as counter:
                start = time.perf_counter()
                wrapped.train_step(data, optim_wrapper)
                elapsed = time.perf_counter() - start
            if options['check_each_step'] or i == (options['warmup'] +
                                                   options['steps'] - 1):
                digests.append(all_gather_object(parameter_digest(model)))
            if i >= options['warmup']:
                sent.append(counter.bytes)
                # a step lasts as long as its slowest rank
                times.append(max(all_gather_object(elapsed)))
        trained = trained_bytes[options['warmup']:]
        results.append(dict(
            task=task, kind=kind, dataset=dataset,
            allreduce_bytes=statistics.median(sent),
            trainable_bytes=statistics.median(trained),
            step_seconds=statistics.median(times),
            ranks_identical_after_each_step=all(
                len(set(d)) == 1 for d in digests),
            steps_checked=len(digests)))
    return results


def measure_passes(config: str,
                   kinds: Sequence[Tuple[str, str]] = PASS_KINDS,
                   steps: int = 2,
                   warmup: int = 1,
                   size: int = 64,
                   batch_size: int = 2,
                   world_size: int = 2,
                   wrapper_cfg: Optional[dict] = None,
                   check_each_step: bool = False,
                   threads: int = 1) -> List[Dict]:
    """Run training steps of each pass kind on ``world_size`` gloo processes.

    Args:
        config (str): Config file (its model, ``model_wrapper_cfg`` and
            ``optim_wrapper``); each task's first dataset is used.
        kinds (Sequence[tuple[str, str]]): ``(task, kind)`` pairs, kind
            'lock', 'release' or 'full', run in this order.
        steps (int): Measured steps per kind (after ``warmup`` steps).
        size (int): Image side of the synthetic batches.
        batch_size (int): Images per process and step.
        world_size (int): Processes.
        wrapper_cfg (dict, optional): Instead of the config's
            ``model_wrapper_cfg``.
        check_each_step (bool): Compare the parameters of all ranks after
            every step (else after the last step of each kind).
        threads (int): torch threads per process.

    Returns:
        list[dict]: Per kind: ``task``, ``kind``, ``dataset``,
        ``allreduce_bytes`` (median per step, on rank 0),
        ``trainable_bytes`` (gradients present when the optimizer steps,
        median), ``step_seconds`` (median of the slowest rank's step time),
        ``ranks_identical_after_each_step`` and ``steps_checked``.
    """
    import torch.multiprocessing as mp
    options = dict(config=config, kinds=[tuple(k) for k in kinds],
                   steps=steps, warmup=warmup, size=size,
                   batch_size=batch_size, wrapper_cfg=wrapper_cfg,
                   check_each_step=check_each_step, threads=threads)
    with tempfile.TemporaryDirectory() as tmp:
        options['out'] = osp.join(tmp, 'results.json')
        mp.spawn(_rank_main, args=(world_size, free_port(), options),
                 nprocs=world_size, join=True)
        with open(options['out']) as f:
            return json.load(f)
