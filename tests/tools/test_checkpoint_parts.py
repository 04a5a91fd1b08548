"""A checkpoint without a teacher (trained with model.teacher=False) is
evaluated and inferred with its student, never with the config's untrained
teacher; asking for its teacher is an error that names the options. Reading
a checkpoint's keys costs no second copy of its weights."""
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

import fx_mm.utils.checkpoint_parts as parts
from fx_mm.utils import build_initialised_model
from fx_mm.utils.checkpoint_parts import (holds_teacher, predictor_for,
                                          read_checkpoint)
from tests.conftest import (BUNDLED_COVID, repo_path, run_python,
                            tiny_train_config)

TEST = repo_path('tools', 'test.py')


@pytest.fixture(scope='module')
def setup(covid_lungs, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('parts')
    config = tiny_train_config(str(tmp / 'cfg.py'), covid_lungs)
    student_only = build_initialised_model(Config.fromfile(config),
                                           teacher=False)
    ckpt = str(tmp / 'student_only.pth')
    torch.save(dict(state_dict=student_only.state_dict(), meta={}), ckpt)
    return tmp, config, ckpt


def test_predictor_follows_the_checkpoint():
    with_teacher = {'backbone.w': 0, 'teacher.backbone.w': 0}
    without = {'backbone.w': 0}
    assert holds_teacher(with_teacher) and not holds_teacher(without)
    assert predictor_for('a.pth', with_teacher) == 'teacher'
    assert predictor_for('a.pth', with_teacher, 'student') == 'student'
    assert predictor_for('b.pth', without) == 'student'
    # the config's own choice stands when the user asks for nothing
    assert predictor_for('a.pth', with_teacher, default='student') == \
        'student'
    assert predictor_for('a.pth', with_teacher, 'teacher',
                         default='student') == 'teacher'
    with pytest.raises(ValueError, match='b.pth holds no teacher'):
        predictor_for('b.pth', without, 'teacher')


def metrics(tmp, name, config, ckpt, *extra):
    work_dir = str(tmp / name)
    proc = run_python([TEST, config, ckpt, '--work-dir', work_dir, *extra])
    with open(osp.join(work_dir, 'test_metrics.json')) as f:
        return proc.stdout, json.load(f)


def test_test_tool_evaluates_the_student_of_a_teacherless_checkpoint(setup):
    tmp, config, ckpt = setup
    out, followed = metrics(tmp, 'default', config, ckpt)
    assert 'holds no teacher weights' in out and 'its student' in out
    _, explicit = metrics(tmp, 'explicit', config, ckpt, '--cfg-options',
                          'model.teacher=False')
    assert followed == explicit
    proc = run_python([TEST, config, ckpt, '--work-dir', str(tmp / 'no'),
                       '--predict-with', 'teacher'], check=False)
    assert proc.returncode != 0
    assert 'model.teacher=False' in proc.stderr
    assert '--predict-with student' in proc.stderr


def test_inferencer_predicts_with_the_student_of_a_teacherless_checkpoint(
        setup):
    from fx_mm.apis import FXInferencer
    _, config, ckpt = setup
    image = osp.join(BUNDLED_COVID, 'images', '000001-2.png')
    followed = FXInferencer(config, ckpt, device='cpu')
    assert followed.model.teacher is None
    assert followed.model.predict_with == 'student'
    cfg = Config.fromfile(config)
    cfg.model.teacher = False
    explicit = FXInferencer(cfg, ckpt, device='cpu')
    a, b = followed(image)[0], explicit(image)[0]
    assert a['cls'] == b['cls'] and a['loc'] == b['loc']
    with pytest.raises(ValueError, match='holds no teacher'):
        FXInferencer(config, ckpt, predict_with='teacher', device='cpu')


def test_config_predict_with_student_is_kept(setup, tmp_path):
    """A checkpoint with a teacher, a config that predicts with the
    student: the inferencer keeps the config's choice."""
    from fx_mm.apis import FXInferencer
    _, config, _ = setup
    cfg = Config.fromfile(config)
    full = build_initialised_model(cfg)
    ckpt = str(tmp_path / 'with_teacher.pth')
    torch.save(dict(state_dict=full.state_dict(), meta={}), ckpt)
    cfg.model.predict_with = 'student'
    assert FXInferencer(cfg, ckpt, device='cpu').model.predict_with == \
        'student'
    assert FXInferencer(config, ckpt, device='cpu').model.predict_with == \
        'teacher'


def _save(path, **kwargs):
    state = {'backbone.w': torch.arange(6.).reshape(2, 3),
             'teacher.backbone.w': torch.ones(2, 3)}
    torch.save(dict(state_dict=state, meta=dict(fx_val_metrics={'a': 1.0})),
               path, **kwargs)
    return state


def _spy_on_torch_load(monkeypatch):
    calls = []
    real = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get('mmap', False))
        return real(*args, **kwargs)

    monkeypatch.setattr(parts.torch, 'load', spy)
    return calls


def test_zip_checkpoint_is_memory_mapped_not_read(tmp_path, monkeypatch):
    path = str(tmp_path / 'epoch_1.pth')
    saved = _save(path)
    calls = _spy_on_torch_load(monkeypatch)
    state, meta = read_checkpoint(path)
    # One load, mapped: the tensors are pages of the file, not a copy.
    assert calls == [True]
    assert meta == dict(fx_val_metrics={'a': 1.0}) and holds_teacher(state)
    for key, value in saved.items():
        assert torch.equal(state[key], value)


def test_legacy_format_is_read_whole(tmp_path, monkeypatch):
    path = str(tmp_path / 'old.pth')
    saved = _save(path, _use_new_zipfile_serialization=False)
    calls = _spy_on_torch_load(monkeypatch)
    state, meta = read_checkpoint(path)
    assert calls == [True, False]  # mapping refused, then read whole
    assert torch.equal(state['teacher.backbone.w'],
                       saved['teacher.backbone.w'])
    assert meta == dict(fx_val_metrics={'a': 1.0})
