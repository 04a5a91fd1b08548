"""FXInferencer without a checkpoint predicts with initialised weights.

Built but not initialised, a model holds whatever memory held in the
parameters mmdet creates with ``torch.Tensor(n, c)`` (DINO's level
embedding): tests/apis/test_inferencer_host_transfers.py, which builds its
inferencer without a checkpoint, failed about one run in eight on NaN boxes
(NaN != NaN).
"""
import torch
from mmengine.config import Config

from fx_mm.apis.inferencer import FXInferencer
from fx_mm.utils import build_initialised_model
from tests.conftest import repo_path

CONFIG = repo_path('configs', 'tiny', 'fx_cls_tiny_3ds.py')


def test_no_checkpoint_gives_the_weights_training_starts_from():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    model = FXInferencer(CONFIG, device='cpu').model
    after = torch.get_rng_state()
    expected = build_initialised_model(Config.fromfile(CONFIG)).state_dict()
    state = model.state_dict()
    assert state.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(state[key], value), key
    # the caller's generator is left as it was
    assert torch.equal(after, before)
