"""Parameter groups of Foundation X: per branch, teacher excluded."""
from typing import Dict, List, Tuple

from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

BRANCH_OF_PREFIX = (('backbone', 'backbone'), ('cls_', 'cls'), ('loc', 'loc'),
                    ('seg', 'seg'))


def branch_of(name: str) -> str:
    """The branch of a FoundationX parameter, from its name."""
    for prefix, branch in BRANCH_OF_PREFIX:
        if name.startswith(prefix):
            return branch
    return 'other'


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class FXOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's constructor, without the teacher, with branch tags and
    one group per setting.

    Every student parameter gets the lr and decay that ``paramwise_cfg``
    gives it (e.g. ``custom_keys`` ``backbone``: ``lr_mult=0.1`` for the
    paper's 1e-5 backbone lr at base lr 1e-4). mmengine makes a group of each
    parameter (274 in the tiny model, ~500 in Swin-B's); parameters of one
    branch with the same settings are merged into one group, in order: the
    optimizer's per-group work (AdamW's step reads each group's settings
    through a ConfigDict) took 43 ms of every step of the CPU demo with 274
    groups. Each group is tagged ``branch`` (backbone, cls, loc, seg) for
    :class:`FXOptimWrapper`'s clipping and lr logs. The EMA teacher is never
    in the optimizer. mmengine leaves out parameters frozen when the
    optimizer is built, so Lock-Release freezes only afterwards.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg=None) -> None:
        # A non-empty paramwise_cfg makes mmengine build per-parameter groups
        # (add_params) instead of handing over model.parameters().
        paramwise_cfg = dict(paramwise_cfg or {})
        paramwise_cfg.setdefault('custom_keys', {})
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def add_params(self, params, module, prefix: str = '', **kwargs) -> None:
        """mmengine's per-parameter groups, skipping the teacher; the call
        on the whole model (``prefix=''``) merges them per branch and
        setting."""
        if prefix == 'teacher' or prefix.startswith('teacher.'):
            return
        if prefix:
            super().add_params(params, module, prefix, **kwargs)
            return
        per_parameter: List[dict] = []
        super().add_params(per_parameter, module, prefix, **kwargs)
        params.extend(merge_groups(per_parameter, {
            id(p): n for n, p in module.named_parameters()}))


def merge_groups(groups: List[dict], names: Dict[int, str]) -> List[dict]:
    """One group per (branch, settings), parameters in their given order.

    Args:
        groups (list[dict]): mmengine's groups, ``params`` and settings.
        names (dict[int, str]): Parameter name by ``id``.

    Returns:
        list[dict]: Plain-dict groups, tagged ``branch``, in the order of
        their first parameter.
    """
    merged: Dict[Tuple, dict] = {}
    for group in groups:
        settings = {k: v for k, v in group.items() if k != 'params'}
        for param in group['params']:
            branch = branch_of(names[id(param)])
            key = (branch, ) + tuple(sorted(
                (k, repr(v)) for k, v in settings.items()))
            if key not in merged:
                merged[key] = dict(settings, branch=branch, params=[])
            merged[key]['params'].append(param)
    return list(merged.values())
