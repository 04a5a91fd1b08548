"""A config whose data is not prepared: one table, no traceback, exit 2."""
import os
import os.path as osp
import shutil
import subprocess
import sys

from mmengine.config import Config

from data_prep import CONVERTERS
from fx_mm.datasets.data_check import (check_config_data, config_reads,
                                       missing_data_table)
from tests.conftest import repo_path

FX_CLS = repo_path('configs', 'fx_cls.py')


def run_in(cwd, args):
    """``python ARGS`` with ``cwd`` as the working directory (where the
    configs' relative data roots are looked for)."""
    env = dict(os.environ, PYTHONPATH=repo_path())
    return subprocess.run([sys.executable] + list(args), cwd=str(cwd),
                          text=True, capture_output=True, env=env,
                          timeout=300)


def table_rows(text):
    """(dataset, task, split) of each row of the printed table, cut at the
    columns its dashed line marks."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith('dataset '))
    dashes = lines[start + 1]
    cuts = [i for i, c in enumerate(dashes)
            if c == '-' and (i == 0 or dashes[i - 1] == ' ')] + [None]
    rows = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        rows.append(tuple(line[a:b].strip() for a, b in zip(cuts[:3],
                                                           cuts[1:4])))
    return rows


def test_train_on_unprepared_data_prints_the_table_and_exits_2(tmp_path):
    proc = run_in(tmp_path, [repo_path('tools', 'train.py'), FX_CLS,
                             '--work-dir', str(tmp_path / 'work')])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-3000:]
    assert 'Traceback' not in out
    cfg = Config.fromfile(FX_CLS)
    names = [e['name'] for e in cfg.fx_datasets]
    assert len(names) == 11
    assert f'11 dataset(s) are not prepared ({", ".join(names)})' in out
    rows = table_rows(proc.stderr)
    # Every (dataset, task) of X-CLS, in table order, train split first.
    steps = list(dict.fromkeys(
        (d, t) for d, t, _ in config_reads(cfg, ('train', 'val'))))
    assert len(steps) == 20  # C1..C11, L1..L6, S1..S3 (paper Table 2)
    assert [(d, t) for d, t, _ in rows] == steps
    assert {s for _, _, s in rows} == {'train, val'}
    for entry in cfg.fx_datasets:
        converter = osp.basename(entry['data_root'])
        assert converter in CONVERTERS
        assert (f'python -m data_prep {converter} --src <official download> '
                f'--out {entry["data_root"]}') in out
        assert f'{entry["data_root"]}/ (the whole folder)' in out
    # Nothing was built or written.
    assert not (tmp_path / 'work').exists()


def test_test_tool_checks_its_split_before_reading_the_checkpoint(tmp_path):
    proc = run_in(tmp_path, [repo_path('tools', 'test.py'), FX_CLS,
                             str(tmp_path / 'no_such.pth'), '--split', 'val'])
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    rows = table_rows(proc.stderr)
    assert len(rows) == 20 and {s for _, _, s in rows} == {'val'}
    assert 'no_such.pth' not in proc.stderr


def covid_cfg(data_root, **model):
    entry = dict(name='CovidLungs', data_root=data_root,
                 cls=dict(classes=['COVID-19']),
                 loc=dict(classes=['Right Lung', 'Left Lung']),
                 seg=dict(classes=['Lungs']))
    return Config(dict(fx_datasets=[entry], model=dict(datasets=[entry],
                                                        **model),
                       val_cfg=dict(type='MultiTaskValLoop')))


def test_only_what_is_missing_is_listed(covid_lungs, tmp_path):
    data = str(tmp_path / 'covid_lungs')
    shutil.copytree(covid_lungs, data)
    assert check_config_data(covid_cfg(data), ('train', 'val', 'test')) == []
    os.remove(osp.join(data, 'loc', 'val.json'))
    shutil.rmtree(osp.join(data, 'seg', 'masks'))
    missing = check_config_data(covid_cfg(data), ('train', 'val', 'test'))
    assert [(m.dataset, m.task, m.splits, m.missing) for m in missing] == [
        ('CovidLungs', 'loc', ('val', ), (f'{data}/loc/val.json', )),
        ('CovidLungs', 'seg', ('train', 'val', 'test'),
         (f'{data}/seg/masks', ))]
    # The converter is the folder's name when data_prep has one.
    assert {m.converter for m in missing} == {'covid_lungs'}
    text = missing_data_table(missing, 'cfg.py')
    assert 'cfg.py: 1 dataset(s) are not prepared (CovidLungs)' in text
    assert (f'python -m data_prep covid_lungs --src <official download> '
            f'--out {data}') in text
    # A variant without the branches reads only what its heads need.
    assert check_config_data(covid_cfg(data, localization=None,
                                       segmentation=None),
                             ('train', 'val')) == []


def test_a_folder_without_a_converter_says_so(tmp_path):
    missing = check_config_data(covid_cfg(str(tmp_path / 'my_own_set')),
                                ('train', ))
    assert [m.converter for m in missing] == [None, None, None]
    assert 'no converter: write the prepared layout yourself' in \
        missing_data_table(missing)
