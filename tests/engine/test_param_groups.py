"""FXOptimWrapperConstructor's parameter groups: one per branch and setting
(mmengine makes one per parameter), the same update as per-parameter groups,
and a clear refusal of an optimizer state saved with another grouping."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import DefaultOptimWrapperConstructor, build_optim_wrapper

from fx_mm.engine.optimizers.fx_optim_constructor import branch_of
from fx_mm.utils import build_model_from_cfg
from tests.conftest import repo_path


@pytest.fixture(scope='module')
def demo():
    cfg = Config.fromfile(repo_path('configs', 'tiny', 'fx_demo.py'))
    torch.manual_seed(0)
    return cfg, build_model_from_cfg(cfg)


def per_parameter(model, optim_wrapper_cfg):
    """mmengine's own constructor: one group per (student) parameter."""
    cfg = copy.deepcopy(optim_wrapper_cfg)
    cfg.pop('constructor', None)
    cfg.pop('clip_tasks', None)
    cfg['type'] = 'OptimWrapper'
    paramwise = cfg.pop('paramwise_cfg')
    teacher, model.teacher = getattr(model, 'teacher', None), None
    try:
        return DefaultOptimWrapperConstructor(cfg, paramwise)(model)
    finally:
        model.teacher = teacher


def student_params(model):
    return [(n, p) for n, p in model.named_parameters()
            if not n.startswith('teacher.') and p.requires_grad]


def test_one_group_per_branch_and_setting(demo):
    cfg, model = demo
    groups = build_optim_wrapper(model, cfg.optim_wrapper).optimizer \
        .param_groups
    # The demo's lr multipliers: backbone 0.5, seg 4 (base 8e-4).
    assert [(g['branch'], g['lr']) for g in groups] == [
        ('backbone', 4e-4), ('cls', 8e-4), ('loc', 8e-4), ('seg', 3.2e-3)]
    names = {id(p): n for n, p in model.named_parameters()}
    grouped = [names[id(p)] for g in groups for p in g['params']]
    assert sorted(grouped) == sorted(n for n, _ in student_params(model))
    assert all(branch_of(names[id(p)]) == g['branch']
               for g in groups for p in g['params'])
    # A setting that differs inside a branch splits it (no decay on norm
    # layers); every parameter keeps the lr and decay mmengine gave it.
    split = copy.deepcopy(cfg.optim_wrapper)
    split.paramwise_cfg['norm_decay_mult'] = 0.0
    groups = build_optim_wrapper(model, split).optimizer.param_groups
    assert len(groups) > 4
    given = {names[id(g['params'][0])]: (g['lr'], g['weight_decay'])
             for g in per_parameter(model, split).optimizer.param_groups}
    assert {names[id(p)]: (g['lr'], g['weight_decay'])
            for g in groups for p in g['params']} == given
    assert {wd for _, wd in given.values()} == {0.0, 1e-4}


def test_merged_groups_update_as_per_parameter_groups(demo):
    """Two AdamW steps with the same gradients move every parameter as
    mmengine's one-group-per-parameter optimizer does."""
    cfg, model = demo
    a, b = copy.deepcopy(model), copy.deepcopy(model)
    merged = build_optim_wrapper(a, cfg.optim_wrapper)
    per_param = per_parameter(b, cfg.optim_wrapper)
    assert len(merged.optimizer.param_groups) == 4
    assert len(per_param.optimizer.param_groups) > 100
    generator = torch.Generator().manual_seed(1)
    for _ in range(2):
        for (_, pa), (_, pb) in zip(student_params(a), student_params(b)):
            grad = torch.randn(pa.shape, generator=generator)
            pa.grad, pb.grad = grad.clone(), grad.clone()
        merged.optimizer.step()
        per_param.optimizer.step()
    for (name, pa), (_, pb) in zip(student_params(a), student_params(b)):
        assert torch.allclose(pa, pb, rtol=0, atol=1e-7), name
    assert any(not torch.equal(pa, p0) for (_, pa), (_, p0) in zip(
        student_params(a), student_params(model)))


def test_a_per_parameter_optimizer_state_is_refused_clearly(demo):
    cfg, model = demo
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    state = wrapper.state_dict()
    legacy = dict(state, param_groups=[
        dict(state['param_groups'][0], params=[i]) for i in range(274)])
    with pytest.raises(ValueError, match=r'274 parameter groups, this '
                       r'optimizer 4 .*load_from=CHECKPOINT without --resume'):
        wrapper.load_state_dict(legacy)
    wrapper.load_state_dict(state)  # its own grouping loads
