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
import re

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


def load_weights_only(path: str, keep: tuple = ('model', 'teacher_model')):
    """``torch.load`` a checkpoint of unknown origin under ``weights_only``.

    fx_mm's allowed globals (:func:`register_checkpoint_safe_globals`) and
    ``argparse.Namespace`` -- which training scripts (the reference code,
    Ark) save as ``args`` -- are accepted; anything else is refused before
    any of it runs.

    Args:
        path (str): The checkpoint file.
        keep (tuple[str]): Entries the refusal's advice tells a user who
            trusts the file to keep (its weights).

    Raises:
        ValueError: The file is not a torch checkpoint, or holds other
            objects (the message names the file and what was refused, and
            says how to keep only its weights if the file is trusted).
    """
    import argparse
    register_checkpoint_safe_globals()
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location='cpu', weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as e:
        text = str(e)
        if 'Weights only load failed' not in text:
            raise ValueError(f'{path} could not be read as a torch '
                             f'checkpoint: {text}') from e
        # torch's message: a paragraph of advice around the one reason.
        found = re.search(r'Unsupported [^\n]*?(?=\. Please|$)', text,
                          re.M)
        reason = found.group(0) if found else 'refused'
        raise ValueError(
            f'{path} is not a checkpoint of tensors and plain data '
            f'(torch\'s weights-only load: {reason}). If it is a checkpoint '
            'you trust, keep only its weights first: python -c "import '
            'torch; c = torch.load(SRC, weights_only=False); '
            f"torch.save({{k: c[k] for k in {tuple(keep)!r} if k in "
            'c}, DST)" and convert DST.') from e
