"""Which parts a Foundation X checkpoint holds, and which one predicts.

A run with ``model.teacher=False`` saves no ``teacher.*`` weights. Loaded
into its config's default model (which has a teacher and predicts with it),
such a checkpoint would leave the teacher at its random initialisation and
every prediction would come from it, without a word (a held-out heart Dice
of 0.02 instead of 0.92 was seen). The tools therefore read the checkpoint's
keys first and follow them: no teacher in the file, the student predicts.
"""
import os.path as osp
from typing import Mapping, Optional, Tuple

import torch
from mmengine.runner.checkpoint import _load_checkpoint

TEACHER_PREFIX = 'teacher.'


def read_checkpoint(path: str) -> Tuple[Mapping, dict]:
    """The state dict and the meta of a checkpoint file (mmengine's or a
    plain state dict, whose meta is empty).

    A local file is memory-mapped: the tools read its keys before the
    runner loads it, and a Swin-B checkpoint with its teacher is ~1.4 GB, so
    reading it fully here would hold it in memory twice. Tensors are paged
    in only where they are used (copied into a model). Files torch cannot
    map (the legacy non-zip format) and remote ones are read whole.
    """
    ckpt = None
    if osp.isfile(path):
        try:
            ckpt = torch.load(path, map_location='cpu', mmap=True)
        except RuntimeError:  # legacy format: mmap needs the zip format
            ckpt = None
    if ckpt is None:
        ckpt = _load_checkpoint(path, map_location='cpu')
    if 'state_dict' in ckpt:
        return ckpt['state_dict'], dict(ckpt.get('meta') or {})
    return ckpt, {}


def checkpoint_state(path: str) -> Mapping:
    """The state dict of a checkpoint file (mmengine's or a plain one)."""
    return read_checkpoint(path)[0]


def holds_teacher(state: Mapping) -> bool:
    """Whether a state dict has the EMA teacher's weights."""
    return any(k.startswith(TEACHER_PREFIX) for k in state)


def predictor_for(path: str, state: Mapping,
                  requested: Optional[str] = None,
                  default: str = 'teacher') -> str:
    """The part that can predict from this checkpoint: 'teacher' or
    'student'.

    Args:
        path (str): The checkpoint (for messages).
        state (Mapping): Its state dict.
        requested (str, optional): What the user asked for
            (``--predict-with``); None follows the config and the checkpoint:
            ``default`` when the checkpoint holds a teacher, else its
            student.
        default (str): The config's ``model.predict_with``.

    Raises:
        ValueError: The teacher was asked for and the file holds none.
    """
    for choice in (requested, default):
        if choice not in (None, 'teacher', 'student'):
            raise ValueError(f"predict with 'teacher' or 'student', not "
                             f'{choice!r}.')
    if holds_teacher(state):
        return requested or default
    if requested == 'teacher':
        raise ValueError(
            f'{path} holds no teacher weights (it was trained with '
            'model.teacher=False): predict with its student '
            '(--predict-with student, or --cfg-options model.teacher=False).')
    return 'student'
