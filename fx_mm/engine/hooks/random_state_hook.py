"""Save and restore every rank's random generator states with checkpoints."""
import logging
import random
from typing import List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS
from mmengine.runner import set_random_seed


def generator_states() -> dict:
    """This process's generator states, as CPU data.

    The torch states are stored as numpy arrays: ``torch.load`` moves every
    tensor of a checkpoint to ``map_location`` (mmengine's resume maps to the
    current device, CUDA on a GPU), where ``torch.set_rng_state`` refuses
    them; it leaves numpy arrays alone.

    Returns:
        dict: ``python``, ``numpy``, ``torch`` (uint8 array, the CPU
        generator) and ``cuda`` (uint8 array, the generator of this process's
        CUDA device, or None without CUDA).
    """
    return dict(
        python=random.getstate(), numpy=np.random.get_state(),
        torch=torch.get_rng_state().numpy(),
        cuda=torch.cuda.get_rng_state().numpy()
        if torch.cuda.is_available() else None)


def _byte_tensor(state) -> torch.Tensor:
    """A generator state as the CPU uint8 tensor torch's setters take (from
    an array, or from a tensor an older checkpoint stored, on any device)."""
    if isinstance(state, torch.Tensor):
        return state.detach().cpu()
    return torch.from_numpy(np.ascontiguousarray(state, dtype=np.uint8))


def _same(a, b) -> bool:
    """Equal generator states, element by element (the pickles of equal
    states can differ, e.g. after a trip through all_gather_object)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            _same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(
            map(_same, a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def _warn(message: str) -> None:
    print_log(f'RandomStateHook: {message}', logger='current',
              level=logging.WARNING)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Make ``--resume`` continue every rank's random streams where they
    stopped.

    mmengine reseeds at start-up but does not checkpoint generator states, so
    a resumed run would draw other DINO denoising noise, drop-path masks and
    augmentations than the uninterrupted run. Each checkpoint gets the
    Python, numpy, torch CPU and CUDA (this process's device) states of every
    rank: at the end of a pass every rank's states are gathered (a
    collective, before :class:`CheckpointHook` saves -- it saves on rank 0
    only), and on resume each rank restores its own, so a resume on N ranks
    draws what the uninterrupted run on N ranks would have.

    A checkpoint written by another number of ranks cannot continue any
    run's streams: each rank is then reseeded from its seed, the resumed
    iteration and its rank (reproducible, and not a replay of the draws made
    since start-up, but not an uninterrupted run's draws), with a warning;
    so is a rank whose states a checkpoint lacks (one saved between pass
    ends, e.g. by iteration, holds rank 0's only). A CPU run's checkpoint
    resumed on a GPU leaves the CUDA generators as seeded at start-up, with a
    warning. Checkpoints of earlier fx_mm versions (rank 0's states only)
    restore on a one-process run.
    """

    # After every hook but before CheckpointHook (VERY_LOW = 90) in
    # after_train_epoch: the gathered states are those the checkpoint saves.
    priority = 89

    def __init__(self) -> None:
        # (iteration, states of every rank) of the last pass end
        self._gathered: Optional[tuple] = None

    def after_train_epoch(self, runner) -> None:
        if get_dist_info()[1] > 1:
            self._gathered = (runner.iter,
                              all_gather_object(generator_states()))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # Runs on rank 0 only (Runner.save_checkpoint is master_only).
        own = generator_states()
        world_size = get_dist_info()[1]
        ranks: List[Optional[dict]] = [own] + [None] * (world_size - 1)
        if world_size > 1:
            gathered = self._gathered
            # Valid while rank 0 has drawn nothing since: the same iteration
            # and the same state (a best checkpoint after validation, whose
            # loop restores the generators, still qualifies).
            if gathered is not None and gathered[0] == runner.iter \
                    and _same(gathered[1][0], own):
                ranks = gathered[1]
            else:
                _warn(f'the checkpoint of iteration {runner.iter} is saved '
                      'outside a pass end: it holds rank 0\'s generator '
                      'states only; a resume from it reseeds the other ranks.')
        checkpoint['random_state'] = dict(ranks=ranks)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('random_state')
        if state is None or not runner._resume:
            return
        rank, world_size = get_dist_info()
        ranks = state['ranks'] if 'ranks' in state else [_legacy(state)]
        iteration = checkpoint.get('meta', {}).get('iter', 0)
        if len(ranks) != world_size:
            self._reseed(runner, iteration,
                         f'the checkpoint holds the generator states of '
                         f'{len(ranks)} rank(s), this run has {world_size}')
            return
        own = ranks[rank]
        if own is None:
            self._reseed(runner, iteration, f'the checkpoint holds no '
                         f'generator states of rank {rank}')
            return
        random.setstate(own['python'])
        np.random.set_state(own['numpy'])
        torch.set_rng_state(_byte_tensor(own['torch']))
        if torch.cuda.is_available():
            if own['cuda'] is not None:
                torch.cuda.set_rng_state(_byte_tensor(own['cuda']))
            elif rank == 0:
                _warn('the checkpoint was written without CUDA: the CUDA '
                      'generators keep their start-up seeds, the resumed '
                      'run\'s CUDA draws are not the uninterrupted run\'s.')
        elif own['cuda'] is not None and rank == 0:
            _warn('the checkpoint has CUDA generator states and this run '
                  'has no CUDA: the CPU states are restored.')

    @staticmethod
    def _reseed(runner, iteration: int, reason: str) -> None:
        """Seed this rank's generators from (its seed, iteration, rank): not
        the start-up seeds, whose draws the run has already made. No
        collective: ranks may take this branch alone."""
        rank = get_dist_info()[0]
        seed = int(np.random.SeedSequence(
            [runner.seed, iteration, rank]).generate_state(1)[0])
        set_random_seed(seed)
        _warn(f'{reason}: the random streams cannot continue as an '
              'uninterrupted run\'s; each rank is reseeded from its seed, '
              f'iteration {iteration} and its rank (rank {rank}: '
              f'{seed}). Resume with the number of processes that wrote the '
              'checkpoint for an exact continuation.')


def _legacy(state: dict) -> dict:
    """An earlier fx_mm checkpoint's states (rank 0's, with the CUDA states
    of all its devices) as one rank's."""
    cuda = state.get('cuda')
    return dict(python=state['python'], numpy=state['numpy'],
                torch=state['torch'], cuda=cuda[0] if cuda else None)
