"""CheXpert converter on fixtures in the official layouts: CheXpert-v1.0-small,
the Stanford AIMI full-resolution batch folders, the official test labels."""
import csv
import filecmp
import json
import os
import os.path as osp
import runpy
import shutil

import cv2
import numpy as np
import pytest

import data_prep.converters.chexpert as chexpert_module
from data_prep.converters.chexpert import CLASSES, convert
from tests.data_prep.listings import count_listings
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


# The Stanford AIMI full-resolution release, folder names as published.
AIMI = 'CheXpert-v1.0'
BATCH1 = 'CheXpert-v1.0 batch 1 (validate & csv)'
TRAIN_BATCHES = ['CheXpert-v1.0 batch 2 (train 1)',
                 'CheXpert-v1.0 batch 3 (train 2)',
                 'CheXpert-v1.0 batch 4 (train 3)']


def _image_file(root, rel, layout):
    """Where a download keeps the image a CSV ``Path`` names."""
    parts = rel.split('/')
    if layout == 'small':
        return osp.join(root, *parts)
    # AIMI: valid/ sits in batch 1; training patients lie directly in the
    # three train batches (no train/ level), dealt by patient number.
    if parts[1] == 'valid':
        return osp.join(root, BATCH1, *parts[1:])
    batch = TRAIN_BATCHES[int(parts[2][len('patient'):]) % 3]
    return osp.join(root, batch, *parts[2:])


def _make(root, n_train=16, n_valid=4, layout='small', size=32):
    """A CheXpert download under ``root`` (``layout`` 'small' =
    CheXpert-v1.0-small, 'aimi' = the four AIMI batch folders); returns its
    rows and the Path whose image is not in the download."""
    rng = np.random.default_rng(3)
    image = np.full((size, size), 100, np.uint8)
    archive = ARCHIVE if layout == 'small' else AIMI
    rows = {'train': [], 'valid': []}
    patients = [('train', 1 + i) for i in range(n_train)] + \
        [('valid', 64541 + i) for i in range(n_valid)]
    for split, num in patients:
        for study in range(1, 1 + int(rng.integers(1, 3))):
            views = ['frontal', 'frontal', 'lateral'][:int(rng.integers(1, 4))]
            for v, kind in enumerate(views, start=1):
                rel = (f'{archive}/{split}/patient{num:05d}/study{study}/'
                       f'view{v}_{kind}.jpg')
                row = {'Path': rel, 'Sex': 'Female', 'Age': '60',
                       'Frontal/Lateral': kind.capitalize(),
                       'AP/PA': 'AP' if kind == 'frontal' else ''}
                codes = CODES if split == 'train' else CODES[:2]
                row.update({c: str(rng.choice(codes)) for c in CLASSES})
                rows[split].append(row)
                path = _image_file(root, rel, layout)
                os.makedirs(osp.dirname(path), exist_ok=True)
                cv2.imwrite(path, image)
    # One row whose image is not in the download.
    missing = rows['train'][0]
    os.remove(_image_file(root, missing['Path'], layout))
    csv_dir = osp.join(root, ARCHIVE if layout == 'small' else BATCH1)
    for split in ('train', 'valid'):
        _write_csv(osp.join(csv_dir, f'{split}.csv'), rows[split])
    return rows, missing['Path']


def _add_test(folder, csv_name='test_labels.csv', n=5):
    """The official test set (CheXlocalize / AIMI) in ``folder``:
    ``csv_name`` with Path ``test/patientN/studyM/viewK_*.jpg``, the 14
    observations as 1 / 0 in another column order and no view column, and
    the images in ``folder/test/``. Returns the rows."""
    rng = np.random.default_rng(11)
    header = ['Path'] + CLASSES[::-1]
    rows = []
    for i in range(n):
        views = ['frontal', 'lateral'] if i == 1 else ['frontal']
        for v, kind in enumerate(views, start=1):
            rel = f'test/patient{64741 + i}/study1/view{v}_{kind}.jpg'
            rows.append(dict(Path=rel, **{c: str(rng.choice(['0', '1']))
                                          for c in CLASSES}))
            path = osp.join(folder, *rel.split('/'))
            os.makedirs(osp.dirname(path), exist_ok=True)
            cv2.imwrite(path, np.full((32, 32), 50, np.uint8))
    _write_csv(osp.join(folder, csv_name), rows, header)
    return rows


def _meta(out):
    with open(osp.join(out, 'meta.json')) as f:
        return json.load(f)


def _flat(rel):
    parts = rel.split('/')
    return '_'.join(parts[next(i for i, p in enumerate(parts)
                               if p.startswith('patient')):])


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
    meta = _meta(out)
    assert meta['name'] == 'CheXpert'
    # Without the official test labels, valid.csv is the test split.
    assert meta['split_policy'] == summary['split_policy'] == 'valid_as_test'
    assert meta['split_tables'] == {
        'train': f'{ARCHIVE}/train.csv', 'val': f'{ARCHIVE}/train.csv',
        'test': f'{ARCHIVE}/valid.csv'}


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


# ------------------------------------------ Stanford AIMI full resolution
def _frontal(rows):
    return [r for r in rows if r.get('Frontal/Lateral', 'Frontal') == 'Frontal'
            and not r['Path'].endswith('_lateral.jpg')]


@pytest.fixture
def listings(monkeypatch):
    return count_listings(monkeypatch, chexpert_module)


def test_aimi_release_resolves_images_across_the_batch_folders(tmp_path,
                                                               listings):
    root = tmp_path / 'download'
    rows, missing = _make(str(root), layout='aimi')
    # The CSV names CheXpert-v1.0/train/..., a folder the release lacks.
    assert rows['train'][0]['Path'].startswith('CheXpert-v1.0/train/')
    assert not (root / 'CheXpert-v1.0').exists()
    out = str(tmp_path / 'out')
    summary = convert(str(root), out)
    frontal = {s: _frontal(rows[s]) for s in rows}
    kept = [r for s in rows for r in frontal[s] if r['Path'] != missing]
    assert summary['images'] == len(kept)
    assert summary['skipped'] == {
        'lateral view': sum(len(rows[s]) - len(frontal[s]) for s in rows),
        'image file missing': 1}
    # Each image is the file of its patient's batch folder.
    batches = set()
    for r in kept:
        source = _image_file(str(root), r['Path'], 'aimi')
        assert filecmp.cmp(source, osp.join(out, 'images', _flat(r['Path'])),
                           shallow=False)
        batches.add(osp.relpath(source, str(root)).split(os.sep)[0])
    assert batches == set(TRAIN_BATCHES) | {BATCH1}
    splits = read_splits(out)
    assert splits['test'] == sorted(_flat(r['Path']) for r in frontal['valid'])
    assert sorted(splits['train'] + splits['val']) == sorted(
        _flat(r['Path']) for r in frontal['train'] if r['Path'] != missing)
    meta = _meta(out)
    assert meta['split_policy'] == 'valid_as_test'
    assert meta['split_tables'] == {'train': f'{BATCH1}/train.csv',
                                    'val': f'{BATCH1}/train.csv',
                                    'test': f'{BATCH1}/valid.csv'}
    # One walk indexes the download: no folder is listed twice, whatever
    # the number of rows.
    assert listings and max(listings.values()) == 1
    assert osp.realpath(str(root / TRAIN_BATCHES[0])) in listings


@pytest.mark.parametrize('layout,folder,csv_name', [
    ('aimi', 'CheXpert', 'test_labels.csv'),        # CheXlocalize's folder
    ('aimi', BATCH1, 'test.csv'),
    ('small', 'CheXpert', 'test_labels.csv')])
def test_official_test_labels_are_the_test_split(tmp_path, layout, folder,
                                                 csv_name):
    root = tmp_path / 'download'
    rows, missing = _make(str(root), layout=layout)
    test_rows = _add_test(str(root / folder), csv_name)
    out = str(tmp_path / 'out')
    summary = convert(str(root), out)
    frontal = {s: _frontal(rows[s]) for s in rows}
    test_frontal = _frontal(test_rows)
    assert len(test_frontal) == len(test_rows) - 1
    splits = read_splits(out)
    # As in the reference work: official test = test, valid = val, and
    # train.csv is all of train.
    assert splits['test'] == sorted(_flat(r['Path']) for r in test_frontal)
    assert splits['val'] == sorted(_flat(r['Path']) for r in frontal['valid'])
    assert splits['train'] == sorted(
        _flat(r['Path']) for r in frontal['train'] if r['Path'] != missing)
    assert summary['skipped']['lateral view'] == 1 + sum(
        len(rows[s]) - len(frontal[s]) for s in rows)
    # The test table's columns are mapped by name, 1 / 0 kept.
    table = read_cls(out)
    for r in test_frontal:
        assert {c: table[_flat(r['Path'])][c] for c in CLASSES} == \
            {c: r[c] for c in CLASSES}
    meta = _meta(out)
    archive = ARCHIVE if layout == 'small' else BATCH1
    assert meta['split_policy'] == 'official_test'
    assert meta['split_tables'] == {'train': f'{archive}/train.csv',
                                    'val': f'{archive}/valid.csv',
                                    'test': f'{folder}/{csv_name}'}


def test_small_and_full_release_side_by_side_take_one_release(tmp_path):
    root = tmp_path / 'download'
    _make(str(root), layout='small', size=32)
    rows, missing = _make(str(root), layout='aimi', size=48)
    out = str(tmp_path / 'out')
    summary = convert(str(root), out)
    kept = [r for s in rows for r in _frontal(rows[s]) if r['Path'] != missing]
    assert summary['images'] == len(kept)
    # Every image is the full-resolution copy the AIMI CSV names.
    for r in kept:
        assert filecmp.cmp(_image_file(str(root), r['Path'], 'aimi'),
                           osp.join(out, 'images', _flat(r['Path'])),
                           shallow=False)
    assert _meta(out)['split_tables']['test'] == f'{BATCH1}/valid.csv'


def test_an_image_in_two_batch_folders_is_an_error(tmp_path):
    root = tmp_path / 'download'
    rows, missing = _make(str(root), layout='aimi')
    rel = next(r['Path'] for r in rows['train'] if r['Path'] != missing)
    copy = osp.join(str(root), TRAIN_BATCHES[0], *rel.split('/')[2:])
    if osp.exists(copy):
        copy = osp.join(str(root), TRAIN_BATCHES[1], *rel.split('/')[2:])
    os.makedirs(osp.dirname(copy), exist_ok=True)
    shutil.copyfile(_image_file(str(root), rel, 'aimi'), copy)
    with pytest.raises(ValueError, match=r'is in --src more than once'):
        convert(str(root), str(tmp_path / 'out'))


def test_test_table_listing_other_images_is_an_error(tmp_path):
    root = tmp_path / 'download'
    rows, _ = _make(str(root), layout='aimi')
    _write_csv(str(root / BATCH1 / 'test_labels.csv'), rows['valid'],
               ['Path'] + CLASSES)
    with pytest.raises(ValueError, match=r"test_labels\.csv line 2: Path "
                       r"'CheXpert-v1\.0/valid/.*' is not in a test/ folder"):
        convert(str(root), str(tmp_path / 'out'))
