"""Let torch's ``weights_only`` loader read mmengine checkpoints, and no more.

torch >= 2.6 loads checkpoints with ``weights_only=True``: only tensors, plain
containers and explicitly allowed globals are unpickled. mmengine 0.10.7 calls
``torch.load`` without the argument, so its own checkpoints (which carry the
message hub's numpy scalars and ``HistoryBuffer`` objects) fail to load or
resume. Rather than turning ``weights_only`` off -- which would run arbitrary
code from a checkpoint of unknown origin -- this module allows exactly the
globals that mmengine's checkpoints use. Anything else still fails with
torch's ``UnpicklingError`` naming the global.
"""
import pickle

import numpy as np
import torch
from mmengine.logging import HistoryBuffer


def _history_buffer_getattr(obj, name: str):
    """The only ``getattr`` a checkpoint may call.

    A pickled ``HistoryBuffer`` stores its statistics as bound methods, which
    pickle as ``getattr(buffer, 'mean')``. A general ``getattr`` would hand a
    malicious file any attribute of any allowed object (``ndarray.tofile`` ...),
    so only a HistoryBuffer's own statistics methods are given out.
    """
    # The built-in statistics are registered lazily (by the first buffer
    # created), so name them; statistics added by register_statistics count.
    allowed = {'min', 'max', 'current', 'mean'} | set(
        HistoryBuffer._statistics_methods)
    if (obj is HistoryBuffer or isinstance(obj, HistoryBuffer)) \
            and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'Refusing getattr({type(obj).__name__}, {name!r}) while loading a '
        'checkpoint: only HistoryBuffer statistics are allowed.')


def _numpy_globals():
    """numpy objects that pickled arrays, scalars and dtypes refer to."""
    core = getattr(np, '_core', None) or np.core
    objs = [np.ndarray, np.dtype, core.multiarray._reconstruct,
            core.multiarray.scalar]
    # numpy 2 pickles a dtype through its class, e.g. numpy.dtypes.Float64DType.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        objs += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    names = [(core.multiarray._reconstruct,
              'numpy.core.multiarray._reconstruct'),
             (core.multiarray.scalar, 'numpy.core.multiarray.scalar')]
    return objs + names


def register_checkpoint_safe_globals() -> None:
    """Allow the globals of mmengine checkpoints in torch's weights_only load.

    Safe to call more than once.
    """
    torch.serialization.add_safe_globals(
        [HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr')] +
        _numpy_globals())
