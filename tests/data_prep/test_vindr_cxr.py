"""VinDr-CXR converter: the real Kaggle train.csv, a PhysioNet-layout
fixture, and bad input."""
import csv
import gzip
import json
import math
import os.path as osp
import shutil
from collections import defaultdict

import numpy as np
import pytest

from data_prep.converters.vindr_cxr import CLS_CLASSES, LESIONS, convert
from tests.data_prep.prepared import read_cls, read_splits
from tests.conftest import run_python, shared_data
from tests.data_prep.dicom_fixtures import write_dicom, write_flat_dicom

SPLITS = ('train', 'val', 'test')


def _coco_boxes(out):
    """file name -> sorted [(class, x, y, w, h)] over all splits."""
    boxes = defaultdict(list)
    for split in SPLITS:
        with open(osp.join(out, 'loc', f'{split}.json')) as f:
            coco = json.load(f)
        cats = {c['id']: c['name'] for c in coco['categories']}
        assert [c['name'] for c in coco['categories']] == LESIONS
        names = {im['id']: im['file_name'] for im in coco['images']}
        for name in names.values():
            boxes.setdefault(name, [])
        for a in coco['annotations']:
            boxes[names[a['image_id']]].append(
                (cats[a['category_id']],) + tuple(a['bbox']))
    return {k: sorted(v) for k, v in boxes.items()}


# --------------------------------------------------------- the real Kaggle CSV
@pytest.fixture(scope='module')
def kaggle(tmp_path_factory):
    """The real train.csv and stand-in DICOMs for 20 of its images: the
    first image of each lesion class, and 6 normal ones."""
    real = shared_data('official_formats', 'vindr_cxr',
                       'vinbigdata-train.csv.gz')
    with gzip.open(real, 'rt', newline='') as f:
        rows = list(csv.DictReader(f))
    by_image = defaultdict(list)
    for r in rows:
        by_image[r['image_id']].append(r)
    chosen = []
    for lesion in LESIONS:
        chosen.append(next(i for i in sorted(by_image) if i not in chosen and
                           any(r['class_name'] == lesion
                               for r in by_image[i])))
    normal = [i for i in sorted(by_image)
              if all(r['class_name'] == 'No finding' for r in by_image[i])]
    chosen += normal[:6]
    src = tmp_path_factory.mktemp('vinbigdata')
    (src / 'train').mkdir()
    shutil.copy(real, src / 'train.csv.gz')
    for image_id in chosen:
        boxes = [r for r in by_image[image_id] if r['class_name'] !=
                 'No finding']
        path = src / 'train' / f'{image_id}.dicom'
        if boxes:  # big enough for its real boxes, tiny on disk
            write_flat_dicom(path, math.ceil(max(float(r['y_max'])
                                                 for r in boxes)) + 4,
                             math.ceil(max(float(r['x_max'])
                                           for r in boxes)) + 4)
        else:
            write_dicom(path, np.full((64, 64), 90, np.uint8))
    out = str(tmp_path_factory.mktemp('vindr_out'))
    summary = convert(str(src), out, allow_partial=True)
    return src, by_image, chosen, out, summary


def test_real_csv_boxes_and_labels_match_an_independent_count(kaggle):
    src, by_image, chosen, out, summary = kaggle
    assert len(by_image) == 15000 and len(chosen) == 20
    # In this release the readers of an image never mix No finding with
    # boxes: an image is normal for all three or boxed by all three.
    assert all(len({r['class_name'] == 'No finding' for r in rs}) == 1
               for rs in by_image.values())
    assert summary['images'] == len(chosen)
    assert summary['skipped'] == {'image file missing': 15000 - len(chosen)}
    expected_boxes = {c: 0 for c in LESIONS}
    for image_id in chosen:
        for r in by_image[image_id]:
            if r['class_name'] != 'No finding':
                expected_boxes[r['class_name']] += 1
    assert summary['boxes'] == expected_boxes
    assert all(expected_boxes.values())
    # PE: most readers (2 of 3) drew a Pleural effusion box; No finding:
    # most readers said so; the 4 labels the CSV cannot tell are blank.
    table = read_cls(out)
    assert sorted(table) == sorted(f'{i}.dicom' for i in chosen)
    positives = {'PE': 0, 'No finding': 0}
    for image_id in chosen:
        rs = by_image[image_id]
        pe = len({r['rad_id'] for r in rs
                  if r['class_name'] == 'Pleural effusion'}) >= 2
        normal = len({r['rad_id'] for r in rs
                      if r['class_name'] == 'No finding'}) >= 2
        assert len({r['rad_id'] for r in rs}) == 3
        row = table[f'{image_id}.dicom']
        assert row['PE'] == str(int(pe)), image_id
        assert row['No finding'] == str(int(normal)), image_id
        for missing in ('Lung tumor', 'Pneumonia', 'Tuberculosis',
                        'Other diseases'):
            assert row[missing] == ''
        positives['PE'] += pe
        positives['No finding'] += normal
    assert summary['cls_positives'] == dict(
        {c: 0 for c in CLS_CLASSES}, **positives)
    assert positives['No finding'] >= 6 and positives['PE'] >= 1


def test_real_csv_box_coordinates_are_kept_from_every_reader(kaggle):
    src, by_image, chosen, out, summary = kaggle
    coco = _coco_boxes(out)
    for image_id in chosen:
        expected = sorted(
            (r['class_name'], round(float(r['x_min']), 2),
             round(float(r['y_min']), 2),
             round(float(r['x_max']) - float(r['x_min']), 2),
             round(float(r['y_max']) - float(r['y_min']), 2))
            for r in by_image[image_id] if r['class_name'] != 'No finding')
        assert coco[f'{image_id}.dicom'] == expected, image_id
    splits = read_splits(out)
    assert sorted(sum(splits.values(), [])) == sorted(coco)
    assert [len(splits[s]) for s in SPLITS] == [14, 2, 4]  # 70/10/20 of 20


def test_real_csv_through_the_cli_gives_the_same_files(kaggle, tmp_path):
    src, by_image, chosen, out, summary = kaggle
    again = str(tmp_path / 'cli')
    run_python(['-m', 'data_prep', 'vindr_cxr', '--allow-partial', '--src',
                str(src), '--out',
                again])
    for split in SPLITS:
        for rel in (f'cls/{split}.csv', f'loc/{split}.json',
                    f'splits/{split}.txt'):
            assert open(osp.join(out, rel)).read() == \
                open(osp.join(again, rel)).read(), rel


# ------------------------------------------------------ PhysioNet 1.0.0 layout
LOCAL = ['Aortic enlargement', 'Atelectasis', 'Calcification', 'Cardiomegaly',
         'Clavicle fracture', 'Consolidation', 'Edema', 'Emphysema',
         'Enlarged PA', 'ILD', 'Infiltration', 'Lung Opacity', 'Lung cavity',
         'Lung cyst', 'Mediastinal shift', 'Nodule/Mass', 'Pleural effusion',
         'Pleural thickening', 'Pneumothorax', 'Pulmonary fibrosis',
         'Rib fracture', 'Other lesion']
GLOBAL_TRAIN = ['COPD', 'Lung tumor', 'Pneumonia', 'Tuberculosis',
                'Other diseases', 'No finding']


def _label_rows(path, header, rows):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(header)
        for image_id, rad, marked in rows:
            cells = [int(c in marked) for c in header[2 if rad else 1:]]
            w.writerow([image_id] + ([rad] if rad else []) + cells)


@pytest.fixture
def physionet(tmp_path):
    src = tmp_path / 'vindr-cxr' / '1.0.0'
    (src / 'annotations').mkdir(parents=True)
    (src / 'train').mkdir()
    (src / 'test').mkdir()
    img = np.full((64, 64), 80, np.uint8)
    for name in 'abcdefgh':
        write_dicom(src / 'train' / f'{name}.dicom', img)
    (src / 'train' / 'x.dicom').write_bytes(b'DICM but truncated')
    for name in ('t1', 't2'):
        write_dicom(src / 'test' / f'{name}.dicom', img)
    train = [
        ('a', 'R1', {'Pleural effusion', 'Lung tumor'}),
        ('a', 'R2', {'Pleural effusion', 'Cardiomegaly'}),
        ('a', 'R3', {'Cardiomegaly'}),
        ('b', 'R4', {'No finding'}), ('b', 'R5', {'No finding'}),
        ('b', 'R6', {'No finding'}),
        ('c', 'R1', {'Pneumonia'}), ('c', 'R2', {'Pneumonia', 'Tuberculosis'}),
        ('c', 'R3', {'Pneumonia', 'Tuberculosis', 'COPD'}),
        ('m', 'R1', {'No finding'}), ('m', 'R2', {'No finding'}),
        ('m', 'R3', {'No finding'}),
        ('x', 'R1', {'No finding'}), ('x', 'R2', {'No finding'}),
        ('x', 'R3', {'No finding'}),
    ] + [(n, r, {'No finding'}) for n in 'defgh'
         for r in ('R1', 'R2', 'R3')]
    _label_rows(src / 'annotations' / 'image_labels_train.csv',
                ['image_id', 'rad_id'] + LOCAL + GLOBAL_TRAIN, train)
    # The test file: one consensus row, no reader, 'Other disease' singular.
    _label_rows(src / 'annotations' / 'image_labels_test.csv',
                ['image_id'] + LOCAL + GLOBAL_TRAIN[:4] +
                ['Other disease', 'No finding'],
                [('t1', None, {'Pleural effusion', 'Other disease'}),
                 ('t2', None, {'No finding'})])
    header = ['image_id', 'rad_id', 'class_name', 'x_min', 'y_min', 'x_max',
              'y_max']
    with open(src / 'annotations' / 'annotations_train.csv', 'w',
              newline='') as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows([
            ['a', 'R1', 'Pleural effusion', 2, 30, 20, 60],
            ['a', 'R2', 'Pleural effusion', 3, 31, 21, 61],
            ['a', 'R2', 'Cardiomegaly', 20, 30, 44, 50],
            ['a', 'R3', 'Cardiomegaly', 21.5, 29, 45, 51],
            ['a', 'R1', 'Rib fracture', 5, 5, 10, 10],
            ['a', 'R1', 'Lung tumor', '', '', '', ''],
            ['b', 'R4', 'No finding', '', '', '', ''],
            ['c', 'R2', 'Tuberculosis', '', '', '', ''],
        ])
    with open(src / 'annotations' / 'annotations_test.csv', 'w',
              newline='') as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows([['t1', 'R8', 'Pleural effusion', 40, 40, 63, 63],
                     ['t1', 'R8', 'Other disease', '', '', '', ''],
                     ['t2', 'R9', 'No finding', '', '', '', '']])
    return src


def test_physionet_majority_labels_all_boxes_and_official_test(physionet,
                                                               tmp_path):
    out = str(tmp_path / 'out')
    summary = convert(str(physionet), out)
    assert summary['skipped'] == {
        'image file missing': 1,  # m
        'unreadable image': 1,  # x, counted and named, never labelled
        'box of a local label outside the 14 lesions': 1}
    assert 'x.dicom' in summary['skipped_examples']['unreadable image'][0]
    table = read_cls(out)
    values = {n[:-6]: [table[n][c] for c in CLS_CLASSES] for n in table}
    # PE, Lung tumor, Pneumonia, Tuberculosis, Other diseases, No finding
    assert values['a'] == ['1', '0', '0', '0', '0', '0']  # 2/3 PE, 1/3 tumour
    assert values['b'] == ['0', '0', '0', '0', '0', '1']
    assert values['c'] == ['0', '0', '1', '1', '0', '0']  # COPD is not a class
    assert values['t1'] == ['1', '0', '0', '0', '1', '0']
    assert values['t2'] == ['0', '0', '0', '0', '0', '1']
    coco = _coco_boxes(out)
    assert coco['a.dicom'] == [
        ('Cardiomegaly', 20.0, 30.0, 24.0, 20.0),
        ('Cardiomegaly', 21.5, 29.0, 23.5, 22.0),
        ('Pleural effusion', 2.0, 30.0, 18.0, 30.0),
        ('Pleural effusion', 3.0, 31.0, 18.0, 30.0)]
    assert coco['t1.dicom'] == [('Pleural effusion', 40.0, 40.0, 23.0, 23.0)]
    assert coco['b.dicom'] == [] and coco['t2.dicom'] == []
    splits = read_splits(out)
    assert splits['test'] == ['t1.dicom', 't2.dicom']
    assert sorted(splits['train'] + splits['val']) == [
        f'{n}.dicom' for n in 'abcdefgh']
    assert len(splits['val']) == 1  # 1/8 of the official train


# ------------------------------------------------------------------ bad input
def _kaggle_src(tmp_path, rows, header=('image_id', 'class_name', 'class_id',
                                        'rad_id', 'x_min', 'y_min', 'x_max',
                                        'y_max')):
    src = tmp_path / 'kaggle'
    (src / 'train').mkdir(parents=True)
    write_dicom(src / 'train' / 'i1.dicom', np.zeros((64, 64), np.uint8))
    with open(src / 'train.csv', 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return src


def test_unknown_class_names_file_line_and_class(tmp_path):
    src = _kaggle_src(tmp_path, [['i1', 'No finding', 14, 'R1', '', '', '',
                                  ''],
                                 ['i1', 'Pneumonia', 15, 'R2', 1, 1, 5, 5]])
    with pytest.raises(ValueError, match=r"train.csv line 3 \(i1\): unknown "
                       r"class 'Pneumonia'"):
        convert(str(src), str(tmp_path / 'out'))


def test_class_id_must_match_class_name(tmp_path):
    src = _kaggle_src(tmp_path, [['i1', 'Cardiomegaly', 2, 'R1', 1, 1, 5, 5]])
    with pytest.raises(ValueError, match=r"line 2 \(i1\): class_id '2' does "
                       r"not match class_name 'Cardiomegaly' \(expected 3\)"):
        convert(str(src), str(tmp_path / 'out'))


def test_box_outside_the_image_is_clipped_or_counted(tmp_path):
    src = _kaggle_src(tmp_path, [
        ['i1', 'Cardiomegaly', 3, 'R1', 10, 10, 90, 40],
        ['i1', 'Cardiomegaly', 3, 'R2', 70, 70, 90, 90]])
    summary = convert(str(src), str(tmp_path / 'out'))
    assert summary['skipped'] == {'box clipped to the image': 1,
                                  'box outside the image or empty': 1}
    assert "i1.dicom: box (10.0, 10.0, 90.0, 40.0) of class 'Cardiomegaly'" \
        in summary['skipped_examples']['box clipped to the image'][0]


def test_missing_column_is_named(tmp_path):
    src = _kaggle_src(tmp_path, [['i1', 'No finding', 14, '', '', '', '']],
                      header=('image_id', 'class_name', 'class_id', 'x_min',
                              'y_min', 'x_max', 'y_max'))
    with pytest.raises(ValueError, match=r"VinDr-CXR: .*train.csv has no "
                       r"column\(s\) \['rad_id'\]"):
        convert(str(src), str(tmp_path / 'out'))


def test_physionet_unknown_annotation_class(physionet, tmp_path):
    path = physionet / 'annotations' / 'annotations_test.csv'
    with open(path, 'a', newline='') as f:
        csv.writer(f).writerow(['t2', 'R9', 'Pleural Effusion', 1, 1, 5, 5])
    with pytest.raises(ValueError, match=r"annotations_test.csv line 5 \(t2\)"
                       r": unknown class 'Pleural Effusion'"):
        convert(str(physionet), str(tmp_path / 'out'))
