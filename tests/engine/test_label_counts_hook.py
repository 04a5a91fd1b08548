"""The label count table logged when training starts, and its warnings."""
import logging

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import fx_mm  # noqa: F401
from fx_mm.engine.hooks import LabelCountsHook
from tests.conftest import repo_path

# CheXpert-like labels (No Finding, Atelectasis) per split.
CHEXPERT = dict(
    train=['a,1,1', 'b,,1', 'c,,-1', 'd,1,0', 'e,,'],
    val=['a,1,1', 'b,,0'],
    test=['a,1,-1', 'b,0,0'])
# NIH-like labels (Atelectasis, Effusion): Atelectasis has no negative in
# train once blanks are ignored.
NIH = dict(
    train=['a,1,1', 'b,,0', 'c,1,', 'd,1,1'],
    val=['a,1,0', 'b,0,1'],
    test=['a,1,0', 'b,0,1'])


def write_split_csvs(root, classes, rows):
    import cv2
    (root / 'images').mkdir(parents=True)
    (root / 'cls').mkdir()
    for split, lines in rows.items():
        (root / 'cls' / f'{split}.csv').write_text(
            'file_name,' + ','.join(classes) + '\n' +
            '\n'.join(f'{line[0]}.png{line[1:]}' for line in lines) + '\n')
    for name in {line[0] for lines in rows.values() for line in lines}:
        cv2.imwrite(str(root / 'images' / f'{name}.png'),
                    np.full((16, 16), 100, np.uint8))
    return str(root)


@pytest.fixture
def runner(tmp_path):
    """The tiny X-C model on two datasets whose entries (and label
    policies) are the shipped CheXpert and NIH ones, on small CSVs."""
    chexpert = write_split_csvs(tmp_path / 'chexpert',
                                ['No Finding', 'Atelectasis'], CHEXPERT)
    nih = write_split_csvs(tmp_path / 'nih', ['Atelectasis', 'Effusion'],
                           NIH)
    base = repo_path('configs', '_base_', 'datasets')
    config = tmp_path / 'cfg.py'
    config.write_text(f'''_base_ = [
    {repo_path('configs', 'tiny', 'fx_c_tiny.py')!r},
    {base + '/chexpert.py'!r}, {base + '/nih_chestxray14.py'!r}]
chexpert = _base_.chexpert
chexpert.update(data_root={chexpert!r})
chexpert['cls']['classes'] = ['No Finding', 'Atelectasis']
nih = _base_.nih_chestxray14
nih.update(data_root={nih!r})
nih['cls']['classes'] = ['Atelectasis', 'Effusion']
fx_datasets = [chexpert, nih]
model = dict(datasets=fx_datasets)
custom_hooks = []
default_hooks = dict(checkpoint=None)
''')
    cfg = Config.fromfile(str(config))
    cfg.work_dir = str(tmp_path / 'work')
    return Runner.from_cfg(cfg)


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def table_rows(text):
    """``{class: [counts...]}`` and the header of a logged count table."""
    lines = [line for line in text.splitlines() if line.startswith('|')]
    header = [c.strip() for c in lines[0].strip('|').split('|')]
    rows = {}
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip('|').split('|')]
        rows[cells[0]] = dict(zip(header[1:], map(int, cells[1:])))
    return rows


def test_counts_are_logged_when_training_starts(runner):
    assert any(isinstance(h, LabelCountsHook) for h in runner.hooks), \
        'LabelCountsHook is not on by default (fx_runtime default_hooks)'
    records = Records()
    runner.logger.addHandler(records)
    try:
        runner.train()
    finally:
        runner.logger.removeHandler(records)
    infos = [r.getMessage() for r in records.records
             if r.levelno == logging.INFO]
    chexpert = next(m for m in infos if m.startswith('CheXpert:'))
    assert ('train: 5 images; uncertain: lsr-ones U(0.55, 0.85), blank: '
            'negative; raw cells: 1 uncertain, 4 blank') in chexpert
    assert 'val: 2 images; uncertain: ignore, blank: negative' in chexpert
    rows = table_rows(chexpert)
    assert rows['No Finding'] == {
        'train pos': 2, 'train neg': 3, 'train soft': 0, 'train ign': 0,
        'val pos': 1, 'val neg': 1, 'val ign': 0,
        'test pos': 1, 'test neg': 1, 'test ign': 0}
    assert rows['Atelectasis'] == {
        'train pos': 2, 'train neg': 2, 'train soft': 1, 'train ign': 0,
        'val pos': 1, 'val neg': 1, 'val ign': 0,
        'test pos': 0, 'test neg': 1, 'test ign': 1}
    nih = next(m for m in infos if m.startswith('NIH-ChestX-ray14:'))
    assert 'train: 4 images; uncertain: lsr-ones U(0.55, 0.85), blank: ' \
        'ignore; raw cells: 0 uncertain, 2 blank' in nih
    rows = table_rows(nih)
    assert rows['Atelectasis']['train pos'] == 3
    assert rows['Atelectasis']['train neg'] == 0
    assert rows['Atelectasis']['train ign'] == 1
    assert rows['Effusion']['train neg'] == 1
    # the table comes before the first training iteration
    first_iter = next((i for i, r in enumerate(records.records)
                       if 'Epoch(train)' in r.getMessage()), None)
    table_at = next(i for i, r in enumerate(records.records)
                    if r.getMessage().startswith('CheXpert:'))
    assert first_iter is None or table_at < first_iter

    warnings = [r.getMessage() for r in records.records
                if r.levelno == logging.WARNING]
    all_positive = [w for w in warnings
                    if w.startswith('NIH-ChestX-ray14 train: no negatives')]
    assert len(all_positive) == 1 and "['Atelectasis']" in all_positive[0]
    assert 'cls.missing' in all_positive[0]
    test_warning = [w for w in warnings
                    if w.startswith('CheXpert test: no positives')]
    assert len(test_warning) == 1 and "['Atelectasis']" in test_warning[0]
    # CheXpert's blanks are negatives now: no all-positive No Finding
    assert not [w for w in warnings if 'No Finding' in w]


def test_a_split_without_its_csv_is_named_not_fatal(runner, tmp_path):
    (tmp_path / 'nih' / 'cls' / 'test.csv').unlink()
    records = Records()
    runner.logger.addHandler(records)
    try:
        runner.train_loop  # built as runner.train() builds it
        LabelCountsHook().before_train(runner)
    finally:
        runner.logger.removeHandler(records)
    text = [r.getMessage() for r in records.records]
    assert any(m.startswith('NIH-ChestX-ray14:') and 'test: not counted '
               '(FileNotFoundError' in m for m in text)
    assert any(m.startswith('NIH-ChestX-ray14 test: labels not counted')
               for m in text)
    # the other splits are still in the table
    nih = next(m for m in text if m.startswith('NIH-ChestX-ray14:'))
    assert table_rows(nih)['Effusion']['val neg'] == 1


def test_warning_lines_per_split_and_kind():
    counts = dict(classes=['A', 'B', 'C'], policy='p', images=3,
                  positive=np.array([3, 0, 0]), negative=np.array([0, 3, 0]))
    lines = LabelCountsHook.warnings('D', dict(train=counts, val=counts))
    assert lines[0].startswith("D train: no negatives after the label policy "
                               "(p) for ['A', 'C']: its head learns a single")
    assert lines[1].startswith("D train: no positives after the label policy "
                               "(p) for ['B', 'C']")
    assert lines[2].startswith("D val: no negatives") and \
        'its AUC is undefined' in lines[2] and 'cls.eval_missing' in lines[2]
    assert len(lines) == 4


def test_bad_split_name():
    with pytest.raises(ValueError, match=r"splits \['dev'\]"):
        LabelCountsHook(splits=('train', 'dev'))
