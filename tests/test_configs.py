"""Every config parses; the model of each builds from the config alone."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from fx_mm.utils import build_model_from_cfg
from tests.conftest import repo_path

# configs/experiments/ holds grids for tools/experiment.py (variants and
# seeds over model configs), not model configs: tests/tools/test_experiment.py
# reads them.
CONFIGS = sorted(
    p for p in glob.glob(repo_path('configs', '**', '*.py'), recursive=True)
    if '_base_' not in p
    and osp.join('configs', 'experiments') not in p)
# Expected (cls, loc, seg) head counts of the paper variants.
VARIANTS = {'fx_c.py': (11, 0, 0), 'fx_l.py': (0, 6, 0), 'fx_s.py': (0, 0, 3),
            'fx_cl.py': (11, 6, 0), 'fx_ls.py': (0, 6, 3),
            'fx_cls.py': (11, 6, 3), 'fx_ls_organs_vindr.py': (0, 3, 3)}


def test_configs_are_found():
    names = {osp.basename(p) for p in CONFIGS}
    assert set(VARIANTS) <= names
    assert {'fx_cls_tiny.py', 'fx_covid_demo.py', 'swin-b_cls_chexpert.py',
            'swin-b_dino_tbx11k.py', 'swin-b_upernet_siim.py'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(
    p, repo_path('configs')))
def test_config_builds_its_model(path):
    cfg = Config.fromfile(path)
    assert cfg.fx_datasets, 'no dataset table'
    assert cfg.train_cfg.type == 'CyclicTrainLoop'
    for entry in cfg.fx_datasets:
        assert entry.get('data_root'), entry['name']
    name = osp.basename(path)
    tiny = 'tiny' in path
    if not tiny and name not in VARIANTS:
        return  # baselines: one Swin-B build is enough per branch kind below
    cfg.model.teacher = False  # halves the build; the teacher is a copy
    model = build_model_from_cfg(cfg)
    counts = {t: len(v) for t, v in model.datasets.items()}
    if name in VARIANTS:
        assert (counts['cls'], counts['loc'], counts['seg']) == VARIANTS[name]


def test_organ_schedule_has_twelve_passes_a_cycle():
    """The loop's own schedule of the organ config: per cycle, each organ's
    loc step, then each organ's seg step, each a lock and a release pass."""
    from fx_mm.engine.loops import build_schedule
    cfg = Config.fromfile(repo_path('configs', 'fx_ls_organs_vindr.py'))
    runtime = Config.fromfile(repo_path('configs', '_base_',
                                        'fx_runtime.py'))
    lock_tasks = cfg.train_cfg.get('lock_tasks', runtime.train_cfg.lock_tasks)
    schedule = build_schedule([tuple(s) for s in cfg.train_cfg.steps],
                              lock_tasks, num_cycles=2)
    assert len(schedule) == 24
    first = [(p.dataset, p.task, p.kind) for p in schedule[:12]]
    organs = ('VinDr-Heart', 'VinDr-LeftLung', 'VinDr-RightLung')
    assert first == [(o, t, k) for t in ('loc', 'seg') for o in organs
                     for k in ('lock', 'release')]
    assert [p.cycle for p in schedule] == [0] * 12 + [1] * 12
