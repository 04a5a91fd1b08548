"""MIMIC-CXR-JPG converter on a fixture in the official PhysioNet layout."""
import csv
import gzip
import os
import os.path as osp
import runpy
import shutil

import cv2
import numpy as np
import pytest

import data_prep.converters.mimic_cxr as mimic_module
from data_prep.converters.mimic_cxr import CLASSES, convert
from data_prep.tables import find_file
from tests.data_prep.listings import count_listings
from tests.data_prep.prepared import read_cls, read_splits
from tests.conftest import repo_path, run_python

# The real CheXpert CSV orders the observations alphabetically (not in the
# config's order): the converter must map by name.
LABEL_HEADER = ['subject_id', 'study_id'] + sorted(CLASSES)
SPLIT_HEADER = ['dicom_id', 'study_id', 'subject_id', 'split']
META_HEADER = ['dicom_id', 'subject_id', 'study_id',
               'PerformedProcedureStepDescription', 'ViewPosition', 'Rows',
               'Columns', 'StudyDate', 'StudyTime',
               'ProcedureCodeSequence_CodeMeaning',
               'ViewCodeSequence_CodeMeaning',
               'PatientOrientationCodeSequence_CodeMeaning']
CODES = ['1.0', '0.0', '-1.0', '']
CELL = {'1.0': '1', '0.0': '0', '-1.0': '-1', '': ''}
VIEWS = ['PA', 'AP', 'LATERAL', 'LL', 'AP AXIAL', '']


def _write_gz(path, header, rows):
    with gzip.open(path, 'wt', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(h, '') for h in header])


def _make(root):
    """A MIMIC-CXR-JPG download; returns (labels, split rows, meta rows,
    the dicom whose file is missing, the study without labels)."""
    rng = np.random.default_rng(5)
    image = np.full((40, 32), 90, np.uint8)
    labels, split_rows, meta_rows = {}, [], []
    official = ['train'] * 8 + ['validate'] * 2 + ['test'] * 3
    for i, split in enumerate(official):
        subject = str(10000032 + i * 1117)
        for _ in range(int(rng.integers(1, 3))):
            study = str(int(rng.integers(50000000, 59999999)))
            labels[study] = dict(subject_id=subject, study_id=study, **{
                c: str(rng.choice(CODES)) for c in CLASSES})
            for k in range(int(rng.integers(1, 4))):
                dicom = '-'.join(f'{int(v):08x}' for v in
                                 rng.integers(0, 2 ** 32, 5))
                view = VIEWS[0 if k == 0 else int(rng.integers(0, 6))]
                split_rows.append(dict(dicom_id=dicom, study_id=study,
                                       subject_id=subject, split=split))
                meta_rows.append(dict(dicom_id=dicom, subject_id=subject,
                                      study_id=study, ViewPosition=view,
                                      Rows='40', Columns='32'))
                folder = osp.join(root, 'files', f'p{subject[:2]}',
                                  f'p{subject}', f's{study}')
                os.makedirs(folder, exist_ok=True)
                cv2.imwrite(osp.join(folder, f'{dicom}.jpg'), image)
    missing = split_rows[1]['dicom_id'] if meta_rows[1]['ViewPosition'] in (
        'PA', 'AP') else split_rows[0]['dicom_id']
    m = next(r for r in meta_rows if r['dicom_id'] == missing)
    os.remove(osp.join(root, 'files', f'p{m["subject_id"][:2]}',
                       f'p{m["subject_id"]}', f's{m["study_id"]}',
                       f'{missing}.jpg'))
    unlabelled = split_rows[-1]['study_id']
    label_rows = [r for s, r in labels.items() if s != unlabelled]
    _write_gz(osp.join(root, 'mimic-cxr-2.0.0-chexpert.csv.gz'),
              LABEL_HEADER, label_rows)
    _write_gz(osp.join(root, 'mimic-cxr-2.0.0-split.csv.gz'), SPLIT_HEADER,
              split_rows)
    _write_gz(osp.join(root, 'mimic-cxr-2.0.0-metadata.csv.gz'), META_HEADER,
              meta_rows)
    return labels, split_rows, meta_rows, missing, unlabelled


@pytest.fixture
def mimic_src(tmp_path):
    root = tmp_path / 'download' / 'mimic-cxr-jpg' / '2.0.0'
    root.mkdir(parents=True)
    return (root,) + _make(str(root))


def _read(out):
    return read_cls(out), read_splits(out)


def test_classes_match_the_config():
    cfg = runpy.run_path(repo_path('configs', '_base_', 'datasets',
                                   'mimic_cxr.py'))
    assert cfg['mimic_cxr_classes'] == CLASSES
    assert cfg['mimic_cxr']['name'] == 'MIMIC-CXR'


def test_frontal_images_official_split_study_labels(mimic_src, tmp_path):
    root, labels, split_rows, meta_rows, missing, unlabelled = mimic_src
    out = str(tmp_path / 'out')
    summary = convert(str(root), out)
    view = {r['dicom_id']: r['ViewPosition'] for r in meta_rows}
    frontal = [r for r in split_rows if view[r['dicom_id']] in ('PA', 'AP')]
    no_labels = [r for r in frontal if r['study_id'] == unlabelled]
    kept = [r for r in frontal if r['study_id'] != unlabelled and
            r['dicom_id'] != missing]
    assert no_labels and len(kept) > 10
    assert summary['images'] == len(kept)
    assert summary['skipped'] == {
        'not a frontal view': len(split_rows) - len(frontal),
        'study has no labels': len(no_labels), 'image file missing': 1}
    table, splits = _read(out)
    name = {'train': 'train', 'validate': 'val', 'test': 'test'}
    for split in ('train', 'val', 'test'):
        assert splits[split] == sorted(
            f'{r["dicom_id"]}.jpg' for r in kept if name[r['split']] == split)
        assert splits[split]
    for r in kept:
        row = table[f'{r["dicom_id"]}.jpg']
        for c in CLASSES:
            assert row[c] == CELL[labels[r['study_id']][c]]
    assert summary['cls_positives'] == {
        c: sum(labels[r['study_id']][c] == '1.0' for r in kept)
        for c in CLASSES}


def test_cli_from_the_parent_folder_gives_the_same_output(mimic_src,
                                                          tmp_path):
    root = mimic_src[0]
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    convert(str(root), a)
    run_python(['-m', 'data_prep', 'mimic_cxr', '--src',
                str(root.parent.parent), '--out', b])
    assert _read(a) == _read(b)
    assert sorted(os.listdir(osp.join(a, 'images'))) == \
        sorted(os.listdir(osp.join(b, 'images')))


def test_missing_column_is_named(mimic_src, tmp_path):
    root, _, _, meta_rows = mimic_src[:4]
    _write_gz(str(root / 'mimic-cxr-2.0.0-metadata.csv.gz'),
              [h for h in META_HEADER if h != 'ViewPosition'], meta_rows)
    with pytest.raises(ValueError, match=r"metadata\.csv\.gz has no "
                       r"column\(s\) \['ViewPosition'\]"):
        convert(str(root), str(tmp_path / 'out'))


def test_label_value_outside_the_codes_is_an_error(mimic_src, tmp_path):
    root, labels = mimic_src[:2]
    rows = list(labels.values())
    rows[2]['Pneumothorax'] = '2.0'
    _write_gz(str(root / 'mimic-cxr-2.0.0-chexpert.csv.gz'), LABEL_HEADER,
              rows)
    with pytest.raises(ValueError, match=r"chexpert\.csv\.gz line 4 .*column "
                       r"'Pneumothorax': value '2\.0'"):
        convert(str(root), str(tmp_path / 'out'))


def test_unknown_split_is_an_error(mimic_src, tmp_path):
    root, _, split_rows = mimic_src[:3]
    split_rows[0]['split'] = 'valid'
    _write_gz(str(root / 'mimic-cxr-2.0.0-split.csv.gz'), SPLIT_HEADER,
              split_rows)
    with pytest.raises(ValueError, match=r"split\.csv\.gz line 2 .*split "
                       r"'valid' is not one of"):
        convert(str(root), str(tmp_path / 'out'))


@pytest.mark.parametrize('levels', [0, 2])
def test_tables_are_found_in_one_walk_that_skips_the_image_tree(
        mimic_src, tmp_path, monkeypatch, levels):
    """--src = the release folder or a mirror's top folder: every folder is
    listed at most once, none below files/ (the 377k images are opened at
    their computed path, never searched)."""
    root = mimic_src[0]
    src = root
    for _ in range(levels):
        src = src.parent
    listings = count_listings(monkeypatch, mimic_module)
    a = str(tmp_path / 'a')
    summary = convert(str(src), a)
    assert summary['images'] > 10
    assert not listings or max(listings.values()) == 1
    image_tree = osp.realpath(str(root / 'files')) + os.sep
    assert not [f for f in listings if f.startswith(image_tree)]
    if levels:
        assert osp.realpath(str(root)) in listings
    # The same output as from the release folder itself.
    monkeypatch.undo()
    b = str(tmp_path / 'b')
    convert(str(root), b)
    assert _read(a) == _read(b)


def test_tables_are_chosen_as_find_file_chose(tmp_path):
    """Plain before .gz, --src itself before deeper folders, then the first
    path: as tables.find_file chose for each table on its own."""
    src = tmp_path / 'src'
    deep = src / 'b' / 'c'
    other = src / 'a'
    for folder in (deep, other, src / 'files' / 'p10' / 'p10000032'):
        folder.mkdir(parents=True)
    labels, split, meta = (mimic_module.LABELS_CSV, mimic_module.SPLIT_CSV,
                           mimic_module.META_CSV)
    # labels: .gz in src, plain deeper (plain wins); split: the same name
    # in two folders (first path wins) and in src (src wins); meta: only
    # inside a hidden folder and the image tree, so absent.
    for path in (src / (labels + '.gz'), deep / labels, deep / split,
                 other / split, src / '.cache' / meta,
                 src / 'files' / 'p10' / 'p10000032' / meta):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('x')
    with pytest.raises(FileNotFoundError, match=r"none of \['mimic-cxr-2"
                       r"\.0\.0-metadata\.csv'\]"):
        mimic_module._find_tables(str(src))
    tables = mimic_module._find_tables(str(src), (labels, split))
    assert tables == {n: find_file(str(src), n) for n in (labels, split)}
    assert tables == {labels: str(deep / labels), split: str(other / split)}
    shutil.copyfile(str(deep / split), str(src / split))
    assert mimic_module._find_tables(str(src), (split,)) == {
        split: str(src / split)} == {split: find_file(str(src), split)}
