"""Configuration errors are reported before any training."""
import glob

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import fx_mm  # noqa: F401
from tests.conftest import tiny_train_config


def runner_for(tmp_path, covid_lungs, extra=''):
    cfg = Config.fromfile(tiny_train_config(
        str(tmp_path / 'cfg.py'), covid_lungs, extra=extra))
    cfg.work_dir = str(tmp_path / 'work')
    return Runner.from_cfg(cfg)


def test_step_for_a_task_without_labels(tmp_path, covid_lungs):
    runner = runner_for(tmp_path, covid_lungs, extra=(
        "train_cfg = dict(steps=[('CovidLungs', 'cls'), "
        "('LungMasks', 'loc')])"))
    with pytest.raises(ValueError, match=r"'LungMasks' has no 'loc' labels in "
                       r"the table \(it has \['seg'\]\)"):
        runner.train()
    assert not glob.glob(str(tmp_path / 'work' / '*.pth'))


def test_step_naming_an_undeclared_dataset(tmp_path, covid_lungs):
    runner = runner_for(tmp_path, covid_lungs, extra=(
        "train_cfg = dict(steps=[('NIH-Shenzhen', 'cls')])"))
    with pytest.raises(KeyError, match=r"NIH-Shenzhen.*declared: "
                       r"\['CovidLungs', 'CovidBoxes', 'LungMasks'\]"):
        runner.train()


def test_empty_dataset(tmp_path, covid_lungs):
    empty = tmp_path / 'empty'
    (empty / 'cls').mkdir(parents=True)
    (empty / 'cls' / 'train.csv').write_text('file_name,COVID-19\n')
    runner = runner_for(tmp_path, covid_lungs, extra=(
        f"fx_datasets = [dict(name='CovidLungs', data_root={str(empty)!r}, "
        "cls=dict(classes=['COVID-19']))]"))
    with pytest.raises(ValueError, match=r"Dataset 'CovidLungs', task 'cls'"
                       r".*train.csv: no images listed"):
        runner.train()
    assert not glob.glob(str(tmp_path / 'work' / '*.pth'))
