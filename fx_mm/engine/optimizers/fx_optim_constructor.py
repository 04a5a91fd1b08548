"""Parameter groups of Foundation X: per branch, teacher excluded."""
from mmengine.model import is_model_wrapper
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
    """mmengine's constructor, without the teacher and with branch tags.

    Every student parameter gets a group, with the lr and decay
    that ``paramwise_cfg`` gives it (e.g. ``custom_keys`` ``backbone``:
    ``lr_mult=0.1`` for the paper's 1e-5 backbone lr at base lr 1e-4). Each
    group is tagged ``branch`` (backbone, cls, loc, seg) for
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

    def __call__(self, model):
        """Build the wrapper; tag each group with its parameter's branch."""
        model = model.module if is_model_wrapper(model) else model
        optim_wrapper = super().__call__(model)
        names = {id(p): n for n, p in model.named_parameters()}
        for group in optim_wrapper.optimizer.param_groups:
            group['branch'] = branch_of(names[id(group['params'][0])])
        return optim_wrapper

    def add_params(self, params, module, prefix: str = '', **kwargs) -> None:
        """mmengine's per-parameter groups, skipping the teacher."""
        if prefix == 'teacher' or prefix.startswith('teacher.'):
            return
        super().add_params(params, module, prefix, **kwargs)
