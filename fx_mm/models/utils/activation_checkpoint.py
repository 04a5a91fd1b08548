"""Activation checkpointing by module type, with unchanged weight names.

A checkpointed module keeps no activations of its forward pass; backward runs
that forward again (with the same random state, so dropout and drop-path
repeat) to get them. The random state replayed is the CPU generator and the
generator of every device holding a tensor argument, positional or keyword
(torch itself looks at positional tensors only; see ``forward`` below).
Memory falls by the activations of every checkpointed block, time rises by
one extra forward of each.

Why not the toolboxes' switches: mmpretrain's Swin ``with_cp`` uses
PyTorch's *reentrant* checkpoint, which takes no keyword arguments, gives no
gradients inside a block none of whose inputs requires one, and which torch's
DDP with ``find_unused_parameters=True`` (the wrapper a config can still
choose with ``model_wrapper_cfg.type='MMDistributedDataParallel'``) does not
support; mmdet's ``num_cp`` needs fairscale and covers the encoder only. Here
every block uses the non-reentrant checkpoint, which works with autocast and
keyword arguments, and changes no state-dict key: checkpoints load with or
without it. fx_mm's own wrapper, ``PassDistributedDataParallel``, puts no
hook on the parameters (it all-reduces the gradients once backward has
ended), so recomputation in backward does not meet it; no test runs
checkpointing in a multi-process run yet.
"""
from typing import Dict, Iterable

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

_SUBCLASSES: Dict[type, type] = {}


def _call_forward(forward, module: nn.Module, args: tuple, kwargs: dict):
    """``forward(module, *args, **kwargs)``: what the checkpoint runs (and
    runs again in backward)."""
    return forward(module, *args, **kwargs)


def _checkpointed_class(base: type) -> type:
    """A subclass of ``base`` whose forward is checkpointed (cached)."""
    if getattr(base, 'fx_activation_checkpointed', False):
        return base
    if base not in _SUBCLASSES:

        def forward(self, *args, **kwargs):
            # Only while building a graph: under no_grad (the EMA teacher,
            # evaluation) there is nothing to save.
            if not torch.is_grad_enabled():
                return base.forward(self, *args, **kwargs)
            # The arguments go in as two positional containers: torch saves
            # and replays the CUDA generators of the devices of the tensors
            # among checkpoint's *positional* arguments only (it walks them
            # as pytrees: tuples and dicts included), and mmdet's encoder
            # passes every tensor by keyword. Given as **kwargs, a CUDA
            # dropout would draw another mask in the recomputation.
            return checkpoint(_call_forward, base.forward, self, args, kwargs,
                              use_reentrant=False)

        _SUBCLASSES[base] = type(
            f'Checkpointed{base.__name__}', (base, ),
            dict(forward=forward, fx_activation_checkpointed=True,
                 __module__=base.__module__,
                 __doc__=f'{base.__name__} with activation checkpointing.'))
    return _SUBCLASSES[base]


def checkpoint_modules(modules: Iterable[nn.Module]) -> int:
    """Turn on activation checkpointing for each module, in place.

    The module's class becomes a cached subclass whose ``forward`` runs under
    ``torch.utils.checkpoint.checkpoint(use_reentrant=False)`` when autograd
    is recording; parameters, buffers and their names are unchanged, and
    ``copy.deepcopy`` (the EMA teacher) keeps the switch.

    Args:
        modules (Iterable[nn.Module]): Blocks to checkpoint (e.g. Swin
            blocks, DINO encoder and decoder layers).

    Returns:
        int: How many modules are checkpointed now.
    """
    count = 0
    for module in modules:
        module.__class__ = _checkpointed_class(type(module))
        count += 1
    return count


def is_checkpointed(module: nn.Module) -> bool:
    """Whether :func:`checkpoint_modules` was applied to ``module``."""
    return getattr(type(module), 'fx_activation_checkpointed', False)
