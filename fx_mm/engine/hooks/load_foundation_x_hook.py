"""Start a new configuration from a Foundation X checkpoint (fine-tuning)."""
from collections import Counter
from typing import Dict, List

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

from ...utils.checkpoint_parts import checkpoint_state
from ..loops.cyclic_train_loop import unwrap


def _group(keys: List[str], depth: int = 3) -> str:
    """'a.b.c.d', 'a.b.c.e' -> 'a.b.c (2)': a readable summary of keys."""
    counts = Counter('.'.join(k.split('.')[:depth]) for k in keys)
    return ', '.join(f'{k} ({n})' for k, n in sorted(counts.items())) or '-'


def load_foundation_x(model, checkpoint: str, use: str = 'teacher') -> Dict:
    """Load a Foundation X checkpoint into a model that may differ in heads.

    The weights of ``use`` ('teacher' -- the model the paper evaluates and
    fine-tunes -- or 'student') go into the new model's student: every key
    whose name and shape match is loaded; new heads keep their random
    initialisation; heads the new config dropped are ignored.

    Returns:
        dict: ``loaded``, ``missing`` (new in this config), ``unexpected``
        (not in this config) and ``mismatched`` (same name, other shape) keys.
    """
    if use not in ('teacher', 'student'):
        raise ValueError(f"use must be 'teacher' or 'student', not {use!r}.")
    state = checkpoint_state(checkpoint)
    if use == 'teacher':
        source = {k[len('teacher.'):]: v for k, v in state.items()
                  if k.startswith('teacher.')}
        if not source:
            raise ValueError(f'{checkpoint} has no teacher weights; load the '
                             "student with use='student'.")
    else:
        source = {k: v for k, v in state.items()
                  if not k.startswith('teacher.')}
    own = {k: v for k, v in model.state_dict().items()
           if not k.startswith('teacher.')}
    loadable = {k: v for k, v in source.items()
                if k in own and own[k].shape == v.shape}
    report = dict(
        loaded=sorted(loadable),
        missing=sorted(set(own) - set(source)),
        unexpected=sorted(set(source) - set(own)),
        mismatched=sorted(k for k in set(own) & set(source)
                          if own[k].shape != source[k].shape))
    model.load_state_dict(loadable, strict=False)
    return report


@HOOKS.register_module()
class LoadFoundationXHook(Hook):
    """Initialise a (fine-tuning) run from a Foundation X checkpoint.

    Runs before training (before the EMA teacher is synchronised, so a new
    teacher starts as a copy of the loaded student) unless the run resumes.
    Prints one summary: loaded, missing (new heads, random init), unexpected
    (dropped heads) and mismatched (e.g. a head with another class count).

    Args:
        checkpoint (str): The Foundation X checkpoint.
        use (str): 'teacher' (default) or 'student' weights.
    """

    priority = 'VERY_HIGH'

    def __init__(self, checkpoint: str, use: str = 'teacher') -> None:
        self.checkpoint, self.use = checkpoint, use

    def before_train(self, runner) -> None:
        if runner._resume or runner.iter > 0:
            return
        r = load_foundation_x(unwrap(runner.model), self.checkpoint, self.use)
        print_log(
            f'Loaded the {self.use} of {self.checkpoint}: {len(r["loaded"])} '
            f'tensors; new in this config (random init): '
            f'{_group(r["missing"])}; not in this config (ignored): '
            f'{_group(r["unexpected"])}; other shape (random init): '
            f'{_group(r["mismatched"])}', logger='current')
