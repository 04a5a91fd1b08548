"""`make demo` (tools/demo.py) trains what it promises: one tiny Foundation X
on the two bundled real sets -- pneumonia classification on Kermany, lung
boxes and lung masks on CovidLungs -- from folders the demo itself prepares.
Config and model only; nothing is trained here."""
import os.path as osp

from mmengine.config import Config

from fx_mm.datasets.dataset_table import table_steps
from fx_mm.engine.loops import build_schedule
from fx_mm.utils import build_model_from_cfg
from tests.conftest import load_tool, repo_path

HEADS = {'cls': ['KermanyPneumonia'], 'loc': ['CovidLungs'],
         'seg': ['CovidLungs']}
CLASSES = {('KermanyPneumonia', 'cls'): ['Pneumonia'],
           ('CovidLungs', 'loc'): ['Right Lung', 'Left Lung'],
           ('CovidLungs', 'seg'): ['Lungs']}
METRIC = {'cls': 'AUC', 'loc': 'mAP40', 'seg': 'Dice'}


def load_demo():
    """tools/demo.py as a module (tools/ is not a package)."""
    return load_tool('tools', 'demo.py')


def demo_cfg(demo):
    return Config.fromfile(repo_path(demo.CONFIG))


def test_demo_config_has_two_datasets_and_one_head_per_task():
    demo = load_demo()
    cfg = demo_cfg(demo)
    classes = {(e['name'], t): list(e[t]['classes'])
               for e in cfg.fx_datasets for t in METRIC if e.get(t)}
    assert classes == CLASSES
    # No COVID-19 classification head: it stayed at chance in every run.
    assert 'cls' not in [e for e in cfg.fx_datasets
                         if e['name'] == 'CovidLungs'][0]
    cfg.model.teacher = False  # the teacher is a copy of the student
    model = build_model_from_cfg(cfg)
    assert {t: list(v) for t, v in model.datasets.items()} == HEADS
    # One backbone feeds all three heads.
    assert model.backbone is not None and model.cls_heads is not None
    assert model.loc is not None and model.seg is not None


def test_demo_cycle_visits_every_head():
    """A cycle: Kermany cls (one pass), then CovidLungs loc and seg (each a
    lock and a release pass); validation after every step."""
    cfg = demo_cfg(load_demo())
    runtime = Config.fromfile(repo_path('configs', '_base_',
                                        'fx_runtime.py'))
    lock_tasks = cfg.train_cfg.get('lock_tasks', runtime.train_cfg.lock_tasks)
    schedule = build_schedule(table_steps(cfg.fx_datasets), lock_tasks,
                              num_cycles=cfg.train_cfg.max_cycles)
    first = [(p.dataset, p.task, p.kind) for p in schedule
             if p.cycle == 0]
    assert first == [('KermanyPneumonia', 'cls', 'full'),
                     ('CovidLungs', 'loc', 'lock'),
                     ('CovidLungs', 'loc', 'release'),
                     ('CovidLungs', 'seg', 'lock'),
                     ('CovidLungs', 'seg', 'release')]
    assert cfg.train_cfg.val_by == 'step' and cfg.train_cfg.val_interval == 1


def test_demo_prepares_the_folders_its_config_reads():
    demo = load_demo()
    cfg = demo_cfg(demo)
    roots = {e['data_root'] for e in cfg.fx_datasets}
    assert {out for _, _, out in demo.BUNDLED} == roots
    for converter, src, _ in demo.BUNDLED:
        assert osp.isfile(repo_path(src, 'ATTRIBUTION.md')), src
        assert osp.isfile(repo_path('data_prep', 'converters',
                                    f'{converter}.py')), converter


def test_demo_has_one_target_per_head():
    demo = load_demo()
    expected = {f'{d}/{t}/{METRIC[t]}' for t, names in HEADS.items()
                for d in names}
    assert set(demo.TARGETS) == expected
    assert all(v == 0.90 for v in demo.TARGETS.values())


def test_a_run_of_another_demo_is_moved_aside_not_resumed(tmp_path):
    """make demo after an update: the work dir's run (its config as mmengine
    dumped it) was trained under other settings, so tools/demo.py must not
    resume it; the same settings resume."""
    demo = load_demo()
    config = repo_path(demo.CONFIG)
    work_dir = tmp_path / 'demo'
    work_dir.mkdir()
    assert demo.stale_run(str(work_dir), config) == []  # nothing to resume
    (work_dir / 'last_checkpoint').write_text('epoch_21.pth')
    assert demo.stale_run(str(work_dir), config) == [
        '(no config in the work dir)']
    cfg = Config.fromfile(config)
    cfg.dump(str(work_dir / 'fx_demo.py'))
    assert demo.stale_run(str(work_dir), config) == []
    cfg.train_cfg.max_cycles = 2
    cfg.optim_wrapper.optimizer.lr = 1e-3
    cfg.dump(str(work_dir / 'fx_demo.py'))
    assert demo.stale_run(str(work_dir), config) == ['train_cfg',
                                                     'optim_wrapper']
