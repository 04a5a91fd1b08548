"""FXOptimWrapper clips every parameter with a gradient in localization
passes -- the backbone's too in a release pass, as the reference code does --
and nothing in classification or segmentation passes."""
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from fx_mm.testing import make_batch
from fx_mm.utils import build_initialised_model
from tests.conftest import repo_path

TINY_3DS = repo_path('configs', 'tiny', 'fx_cls_tiny_3ds.py')


@pytest.fixture(scope='module')
def setup():
    cfg = Config.fromfile(TINY_3DS)
    model = build_initialised_model(cfg).train()
    return model, build_optim_wrapper(model, cfg.optim_wrapper)


def grad_norm(params):
    return float(torch.linalg.vector_norm(torch.stack(
        [p.grad.norm() for p in params if p.grad is not None])))


def step(model, wrapper, task, dataset, num_classes):
    wrapper.set_task(task)
    wrapper.zero_grad()
    data = model.data_preprocessor(make_batch(task, dataset, num_classes,
                                              seed=4), True)
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    wrapper.backward(loss)
    before = grad_norm(model.student_parameters())
    wrapper.step()  # mmengine's step: clip (if configured), then AdamW
    return before, grad_norm(model.student_parameters())


def test_loc_pass_clips_all_parameters_including_the_backbone(setup):
    model, wrapper = setup
    assert wrapper.clip_tasks == {'loc'}
    before, after = step(model, wrapper, 'loc', 'ChestX-Det', 13)
    assert before > 0.1 and after == pytest.approx(0.1, rel=1e-4)
    backbone = grad_norm(model.backbone.parameters())
    assert 0 < backbone < 0.1  # the backbone's share was scaled down too


@pytest.mark.parametrize('task,dataset,num_classes', [
    ('cls', 'ChestX-Det', 13), ('seg', 'SIIM-ACR', 1)])
def test_other_passes_are_not_clipped(setup, task, dataset, num_classes):
    model, wrapper = setup
    before, after = step(model, wrapper, task, dataset, num_classes)
    assert before > 0.1 and after == pytest.approx(before)
