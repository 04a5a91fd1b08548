"""mmengine checkpoints load under torch's weights_only default; others don't."""
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.runner.checkpoint import _load_checkpoint, save_checkpoint

import fx_mm  # noqa: F401  (registers the allowed globals)


def test_mmengine_resume_file_loads(tmp_path):
    hub = MessageHub.get_instance('fx_mm_ckpt_test')
    for i in range(3):
        hub.update_scalar('train/loss', 1.0 / (i + 1))
    hub.update_info('iter', np.int64(7))
    checkpoint = dict(
        meta=dict(epoch=1, seed=np.int64(3), dataset_meta=dict(classes=('a', ))),
        state_dict=dict(w=torch.ones(2)),
        message_hub=hub.state_dict(),
        optimizer=dict(state={}, param_groups=[dict(lr=np.float64(1e-4))]),
        rng=np.random.RandomState(0).get_state())
    path = str(tmp_path / 'iter_7.pth')
    save_checkpoint(checkpoint, path)

    loaded = _load_checkpoint(path, map_location='cpu')  # mmengine's loader
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    restored = MessageHub.get_instance('fx_mm_ckpt_test_restored')
    restored.load_state_dict(loaded['message_hub'])
    assert restored.get_scalar('train/loss').mean() == pytest.approx(
        (1 + 1 / 2 + 1 / 3) / 3)
    assert int(loaded['meta']['seed']) == 3


class _RunsCode:

    def __reduce__(self):
        return (os.system, ('echo this must never run',))


class _WritesFiles:
    """A pickle that would fetch ndarray.tofile through getattr."""

    def __reduce__(self):
        return (getattr, (np.ndarray, 'tofile'))


def test_checkpoint_with_code_is_refused(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict={}, payload=_RunsCode()), path)
    with pytest.raises(pickle.UnpicklingError, match='system'):
        torch.load(path)


def test_only_history_buffer_getattr_is_allowed(tmp_path):
    path = str(tmp_path / 'getattr.pth')
    torch.save(dict(payload=_WritesFiles()), path)
    with pytest.raises(pickle.UnpicklingError, match='tofile'):
        torch.load(path)
