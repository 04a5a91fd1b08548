"""CheXpert converter on a fixture in the official archive layout."""
import csv
import json
import os
import os.path as osp
import runpy

import cv2
import numpy as np
import pytest

from data_prep.converters.chexpert import CLASSES, convert
from tests.data_prep.prepared import read_cls, read_splits
from tests.conftest import repo_path, run_python

HEADER = ['Path', 'Sex', 'Age', 'Frontal/Lateral', 'AP/PA'] + CLASSES
CODES = ['1.0', '0.0', '-1.0', '']
EXPECTED_CELL = {'1.0': '1', '0.0': '0', '-1.0': '-1', '': ''}
ARCHIVE = 'CheXpert-v1.0-small'


def _write_csv(path, rows, header=HEADER):
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(h, '') for h in header])


def _make(root, n_train=16, n_valid=4):
    """A CheXpert-v1.0-small download under ``root``; returns its rows."""
    rng = np.random.default_rng(3)
    image = np.full((32, 32), 100, np.uint8)
    rows = {'train': [], 'valid': []}
    patients = [('train', 1 + i) for i in range(n_train)] + \
        [('valid', 64541 + i) for i in range(n_valid)]
    for split, num in patients:
        for study in range(1, 1 + int(rng.integers(1, 3))):
            views = ['frontal', 'frontal', 'lateral'][:int(rng.integers(1, 4))]
            for v, kind in enumerate(views, start=1):
                rel = (f'{ARCHIVE}/{split}/patient{num:05d}/study{study}/'
                       f'view{v}_{kind}.jpg')
                row = {'Path': rel, 'Sex': 'Female', 'Age': '60',
                       'Frontal/Lateral': kind.capitalize(),
                       'AP/PA': 'AP' if kind == 'frontal' else ''}
                codes = CODES if split == 'train' else CODES[:2]
                row.update({c: str(rng.choice(codes)) for c in CLASSES})
                rows[split].append(row)
                path = osp.join(root, *rel.split('/'))
                os.makedirs(osp.dirname(path), exist_ok=True)
                cv2.imwrite(path, image)
    # One row whose image is not in the download.
    missing = rows['train'][0]
    os.remove(osp.join(root, *missing['Path'].split('/')))
    for split in ('train', 'valid'):
        _write_csv(osp.join(root, ARCHIVE, f'{split}.csv'), rows[split])
    return rows, missing['Path']


def _flat(rel):
    return '_'.join(rel.split('/')[2:])


@pytest.fixture
def chexpert_src(tmp_path):
    root = tmp_path / 'download'
    rows, missing = _make(str(root))
    return root, rows, missing


def test_classes_match_the_config():
    cfg = runpy.run_path(repo_path('configs', '_base_', 'datasets',
                                   'chexpert.py'))
    assert cfg['chexpert_classes'] == CLASSES
    assert cfg['chexpert']['name'] == 'CheXpert'


def test_labels_views_andread_splits(chexpert_src, tmp_path):
    root, rows, missing = chexpert_src
    out = str(tmp_path / 'out')
    summary = convert(str(root), out)
    frontal = {s: [r for r in rows[s] if r['Frontal/Lateral'] == 'Frontal']
               for s in rows}
    laterals = sum(r['Frontal/Lateral'] == 'Lateral'
                   for s in rows for r in rows[s])
    kept = [r for s in rows for r in frontal[s] if r['Path'] != missing]
    assert missing.endswith('frontal.jpg')
    assert summary['images'] == len(kept)
    assert summary['skipped'] == {'lateral view': laterals,
                                  'image file missing': 1}
    # Every cell keeps 1 / 0 / -1 / blank distinct.
    table = read_cls(out)
    assert set(table) == {_flat(r['Path']) for r in kept}
    for r in kept:
        row = table[_flat(r['Path'])]
        for c in CLASSES:
            assert row[c] == EXPECTED_CELL[r[c]], (r['Path'], c)
    seen_codes = {r[c] for r in kept for c in CLASSES}
    assert seen_codes == set(CODES)
    assert summary['cls_positives'] == {
        c: sum(r[c] == '1.0' for r in kept) for c in CLASSES}
    # valid.csv is the test split; train.csv is split by patient.
    splits = read_splits(out)
    assert splits['test'] == sorted(_flat(r['Path']) for r in frontal['valid'])
    assert sorted(splits['train'] + splits['val']) == sorted(
        _flat(r['Path']) for r in frontal['train'] if r['Path'] != missing)
    assert splits['val'] and splits['train']
    owner = {}
    for split, names in splits.items():
        for name in names:
            assert owner.setdefault(name.split('_')[0], split) == split
    with open(osp.join(out, 'meta.json')) as f:
        assert json.load(f)['name'] == 'CheXpert'


def test_cli_on_the_archive_folder_gives_the_same_output(chexpert_src,
                                                         tmp_path):
    root, _, _ = chexpert_src
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    convert(str(root), a)
    # --src may be the archive folder itself.
    run_python(['-m', 'data_prep', 'chexpert', '--src',
                str(root / ARCHIVE), '--out', b])
    for split in ('train', 'val', 'test'):
        for sub in (f'cls/{split}.csv', f'splits/{split}.txt'):
            assert open(osp.join(a, sub)).read() == \
                open(osp.join(b, sub)).read()
    convert(str(root), b)  # rerun into the same folder: identical
    assert open(osp.join(a, 'cls', 'train.csv')).read() == \
        open(osp.join(b, 'cls', 'train.csv')).read()


def test_all_views_when_asked(chexpert_src, tmp_path):
    root, rows, _ = chexpert_src
    summary = convert(str(root), str(tmp_path / 'out'), frontal_only=False)
    total = sum(len(v) for v in rows.values())
    assert summary['images'] == total - 1
    assert 'lateral view' not in summary['skipped']


def test_corrupt_image_is_skipped(chexpert_src, tmp_path):
    root, rows, _ = chexpert_src
    bad = rows['valid'][0]['Path']
    with open(osp.join(str(root), *bad.split('/')), 'wb') as f:
        f.write(b'not a jpeg')
    summary = convert(str(root), str(tmp_path / 'out'))
    assert summary['skipped']['unreadable image'] == 1
    assert _flat(bad) not in read_splits(str(tmp_path / 'out'))['test']


def test_missing_column_is_named(chexpert_src, tmp_path):
    root, rows, _ = chexpert_src
    header = [h for h in HEADER if h != 'Pleural Effusion']
    _write_csv(str(root / ARCHIVE / 'valid.csv'), rows['valid'], header)
    with pytest.raises(ValueError, match=r"valid\.csv has no column\(s\) "
                       r"\['Pleural Effusion'\]"):
        convert(str(root), str(tmp_path / 'out'))


def test_label_value_outside_the_codes_is_an_error(chexpert_src, tmp_path):
    root, rows, _ = chexpert_src
    rows['train'][3]['Edema'] = '2.0'
    _write_csv(str(root / ARCHIVE / 'train.csv'), rows['train'])
    with pytest.raises(ValueError, match=r"train\.csv line 5 .*column "
                       r"'Edema': value '2\.0' is not 1\.0, 0\.0, -1\.0"):
        convert(str(root), str(tmp_path / 'out'))
