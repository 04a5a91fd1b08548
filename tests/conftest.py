"""Shared helpers for the fx_mm tests."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHARED_DATA = osp.abspath(
    os.environ.get('FX_SHARED_DATA', osp.join(REPO, '..', 'shared', 'data')))


def pytest_collection_modifyitems(config, items):
    """Skip the ``gpu`` tests, saying why, where torch sees no CUDA GPU."""
    gpu_tests = [item for item in items if 'gpu' in item.keywords]
    if not gpu_tests:
        return
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(
        reason='needs a CUDA GPU: torch.cuda.is_available() is False here '
        '(run `make test-gpu` on a machine with one)')
    for item in gpu_tests:
        item.add_marker(skip)


@pytest.fixture(autouse=True)
def _forget_visualizers():
    """Drop the visualizers a test's runners made when the test ends.

    The configs name their visualizer ``'visualizer'`` (as mmdet's do), and
    mmengine keeps one instance per name per process: a later test's runner
    would get the earlier one, still writing into that test's ``tmp_path``,
    which pytest removes when a test passes (pytest.ini).
    """
    yield
    if 'mmengine.visualization' not in sys.modules:
        return
    from mmengine.visualization import Visualizer
    pending = [Visualizer]
    while pending:
        cls = pending.pop()
        cls._instance_dict.clear()
        pending.extend(cls.__subclasses__())


def repo_path(*parts: str) -> str:
    """Absolute path of a file in the repository."""
    return osp.join(REPO, *parts)


def load_tool(*parts: str):
    """A script of the repository (tools/ is not a package) as a fresh
    module, e.g. ``load_tool('tools', 'demo.py')``; not put in sys.modules."""
    path = repo_path(*parts)
    name = 'fx_tool_' + osp.splitext('_'.join(parts))[0].replace('/', '_')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shared_data(*parts: str) -> str:
    """Path under ../shared/data; skips the test when it is absent."""
    path = osp.join(SHARED_DATA, *parts)
    if not osp.exists(path):
        pytest.skip(f'shared data not present: {path} (set FX_SHARED_DATA to '
                    'the folder holding cxr_covid_lungs and official_formats)')
    return path


BUNDLED_COVID = osp.join(REPO, 'data_prep', 'bundled', 'covid_lungs')


@pytest.fixture(scope='session')
def covid_lungs(tmp_path_factory) -> str:
    """The bundled real sample, converted by data_prep into the layout."""
    from data_prep.converters.covid_lungs import convert
    out = str(tmp_path_factory.mktemp('data') / 'covid_lungs')
    convert(BUNDLED_COVID, out)
    return out


# Checkpoint settings for tiny_train_config: every pass kept (for tests that
# compare passes), only the last pass saved (mmengine's CheckpointHook:
# interval -1 saves no pass but the last one, ``save_last``), or none (a
# test that reads only logs). A tiny checkpoint is 80-120 MB: a run that
# keeps all ten holds about 1 GB.
EVERY_PASS = dict(max_keep_ckpts=-1)
LAST_PASS_ONLY = dict(interval=-1)
NO_CHECKPOINT = dict(interval=-1, save_last=False)


def tiny_train_config(path: str, data_root: str, n_train: int = 8,
                      n_eval: int = 4, extra: str = '',
                      checkpoint: dict = EVERY_PASS) -> str:
    """Write a config that inherits the tiny X-CLS config, on ``data_root``
    and the first ``n_train`` / ``n_eval`` images of each split (mmengine's
    dataset ``indices``) -- the way a user points a config at their data.
    ``checkpoint`` sets ``default_hooks.checkpoint`` (write only what the
    test reads: :data:`LAST_PASS_ONLY` when it reads the last pass's)."""
    text = f'''_base_ = [{repo_path('configs', 'tiny', 'fx_cls_tiny.py')!r}]
data_root = {data_root!r}
_small = dict(train=dict(indices={n_train}), val=dict(indices={n_eval}),
              test=dict(indices={n_eval}))
fx_datasets = [
    dict(name='CovidLungs', data_root=data_root,
         cls=dict(classes=['COVID-19'], **_small),
         loc=dict(classes=['Right Lung', 'Left Lung'], **_small),
         seg=dict(classes=['Lungs'], **_small)),
    dict(name='CovidBoxes', data_root=data_root,
         cls=dict(classes=['COVID-19'], **_small),
         loc=dict(classes=['Right Lung', 'Left Lung'], **_small)),
    dict(name='LungMasks', data_root=data_root,
         seg=dict(classes=['Lungs'], **_small)),
]
default_hooks = dict(checkpoint={checkpoint!r}, logger=dict(interval=1))
custom_hooks = [
    dict(type='LockReleaseHook'),
    dict(type='EMATeacherHook', momentum=0.8, interval='pass'),
    dict(type='RandomStateHook'),
    dict(type='RunAuditHook'),
]
{extra}
'''
    with open(path, 'w') as f:
        f.write(text)
    return path


def run_python(args, check=True, env=None):
    """Run ``python ARGS`` in the repository; on failure show its output."""
    proc = subprocess.run([sys.executable] + list(args), cwd=REPO, text=True,
                          capture_output=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed:\n{proc.stdout[-3000:]}\n'
                             f'{proc.stderr[-5000:]}')
    return proc


@pytest.fixture(scope='session')
def trained_tiny(covid_lungs, tmp_path_factory):
    """One cycle of the tiny 3-dataset X-CLS config through tools/train.py,
    validated after every pass: (work dir, config, output)."""
    tmp = tmp_path_factory.mktemp('cycle')
    config = tiny_train_config(str(tmp / 'cfg.py'), covid_lungs,
                               extra="train_cfg = dict(val_by='pass')")
    work_dir = str(tmp / 'work')
    proc = run_python([repo_path('tools', 'train.py'), config, '--work-dir',
                       work_dir])
    return work_dir, config, proc.stdout + proc.stderr
