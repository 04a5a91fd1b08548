"""The TensorBoard switch: visualizer.tensorboard=True."""
import glob
import importlib.util
import os.path as osp
import sys

import pytest
from mmengine.config import Config
from mmengine.registry import VISUALIZERS

import fx_mm  # noqa: F401  (registers FXVisualizer)
from tests.conftest import repo_path, run_python, tiny_train_config

HAS_TENSORBOARD = importlib.util.find_spec('tensorboard') is not None
NO_TENSORBOARD = ('the tensorboard package is not installed here (`pip '
                  'install tensorboard` to run this test)')


def build(name, save_dir, **switch):
    """The runtime config's visualizer, as the runner builds it."""
    cfg = Config.fromfile(repo_path('configs', 'tiny', 'fx_cls_tiny.py'))
    visualizer = cfg.visualizer.to_dict()
    visualizer.update(name=name, save_dir=str(save_dir), **switch)
    return VISUALIZERS.build(visualizer)


def test_switch_is_off_by_default(tmp_path):
    visualizer = build('tb_off', tmp_path)
    assert type(visualizer).__name__ == 'FXVisualizer'
    assert list(visualizer._vis_backends) == ['LocalVisBackend']


def test_switch_names_the_missing_package(tmp_path, monkeypatch):
    # As if tensorboard were not installed, whether or not it is.
    monkeypatch.setitem(sys.modules, 'tensorboard', None)
    monkeypatch.setitem(sys.modules, 'torch.utils.tensorboard', None)
    with pytest.raises(ImportError, match=r'`tensorboard` package.*'
                       r'pip install\s+tensorboard'):
        build('tb_missing', tmp_path, tensorboard=True)


@pytest.mark.skipif(HAS_TENSORBOARD, reason='tensorboard is installed here')
def test_train_tool_stops_before_training_without_tensorboard(
        covid_lungs, tmp_path):
    config = tiny_train_config(str(tmp_path / 'cfg.py'), covid_lungs)
    work_dir = str(tmp_path / 'work')
    proc = run_python([repo_path('tools', 'train.py'), config, '--work-dir',
                       work_dir, '--cfg-options',
                       'visualizer.tensorboard=True'], check=False)
    assert proc.returncode != 0
    assert 'needs the `tensorboard` package' in proc.stderr
    assert 'pip install tensorboard' in proc.stderr
    assert not glob.glob(osp.join(work_dir, 'epoch_*.pth'))


@pytest.mark.skipif(not HAS_TENSORBOARD, reason=NO_TENSORBOARD)
def test_switch_writes_events_under_the_log_names(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    visualizer = build('tb_on', tmp_path, tensorboard=True)
    assert list(visualizer._vis_backends) == ['LocalVisBackend',
                                              'TensorboardVisBackend']
    visualizer.add_scalars({'cls.loss_cls': 0.5, 'loss_cons_backbone': 0.1,
                            'CovidLungs/loc/mAP40': 0.3}, step=3)
    visualizer.close()
    events = glob.glob(osp.join(tmp_path, 'vis_data', 'events.out.tfevents.*'))
    assert len(events) == 1
    accumulator = EventAccumulator(events[0])
    accumulator.Reload()
    assert set(accumulator.Tags()['scalars']) == {
        'cls.loss_cls', 'loss_cons_backbone', 'CovidLungs/loc/mAP40'}
    (event, ) = accumulator.Scalars('cls.loss_cls')
    assert event.step == 3 and event.value == pytest.approx(0.5)
