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
    # Every reader's box ('raw'), to compare with the CSV row by row.
    out = str(tmp_path_factory.mktemp('vindr_out'))
    summary = convert(str(src), out, allow_partial=True, eval_boxes='raw')
    return src, by_image, chosen, out, summary


@pytest.fixture(scope='module')
def kaggle_default(kaggle, tmp_path_factory):
    """The same images converted with the defaults (fused eval boxes)."""
    src = kaggle[0]
    out = str(tmp_path_factory.mktemp('vindr_default'))
    return out, convert(str(src), out, allow_partial=True)


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


def test_real_csv_default_fuses_the_readers_of_eval_splits_only(
        kaggle, kaggle_default):
    src, by_image, chosen, raw_out, raw_summary = kaggle
    out, summary = kaggle_default
    raw, fused = _coco_boxes(raw_out), _coco_boxes(out)
    splits = read_splits(out)
    assert splits == read_splits(raw_out)
    assert summary['loc_boxes'] == dict(train='raw', val='wbf', test='wbf')
    assert raw_summary['loc_boxes'] == dict(train='raw', val='raw',
                                            test='raw')
    assert summary['wbf_iou_thr'] == 0.5 and 'wbf_iou_thr' not in \
        raw_summary
    assert set(summary['loc_box_policies']) == {'raw', 'wbf'}
    for name in splits['train']:
        assert fused[name] == raw[name], name
    evaluated = splits['val'] + splits['test']
    boxed = [n for n in evaluated if raw[n]]
    assert boxed  # the seed puts lesion images in val / test
    for name in boxed:
        for lesion in {b[0] for b in raw[name]}:
            before = np.array([b[1:] for b in raw[name] if b[0] == lesion])
            after = np.array([b[1:] for b in fused[name] if b[0] == lesion])
            # x, y, w, h of a mean lie within the readers' range.
            assert 1 <= len(after) <= len(before), (name, lesion)
            assert np.all(after >= before.min(0) - 0.01) and \
                np.all(after <= before.max(0) + 0.01), (name, lesion)
    # Readers often agree on a lesion but not always (over the whole CSV,
    # WBF at 0.5 turns 36,096 boxes into 23,902): fewer boxes, some lesion
    # boxed by several readers now one box, and meta.json counts both.
    n_raw = sum(len(raw[n]) for n in evaluated)
    n_fused = sum(len(fused[n]) for n in evaluated)
    assert n_fused < n_raw
    assert any(len([b for b in fused[n] if b[0] == lesion]) == 1 <
               len([b for b in raw[n] if b[0] == lesion])
               for n in boxed for lesion in {b[0] for b in raw[n]})
    counts = summary['loc_box_counts']
    assert counts['val']['read'] + counts['test']['read'] == n_raw
    assert counts['val']['written'] + counts['test']['written'] == n_fused
    assert counts['train']['read'] == counts['train']['written'] == \
        sum(len(raw[n]) for n in splits['train'])
    assert raw_summary['loc_box_counts'] == {
        k: dict(read=v['read'], written=v['read']) for k, v in counts.items()}
    with open(osp.join(out, 'meta.json')) as f:
        assert json.load(f)['loc_boxes'] == summary['loc_boxes']


def test_real_csv_through_the_cli_gives_the_same_files(kaggle_default,
                                                       kaggle, tmp_path):
    src = kaggle[0]
    out = kaggle_default[0]
    again = str(tmp_path / 'cli')
    run_python(['-m', 'data_prep', 'vindr_cxr', '--allow-partial', '--src',
                str(src), '--out',
                again])
    for split in SPLITS:
        for rel in (f'cls/{split}.csv', f'loc/{split}.json',
                    f'splits/{split}.txt'):
            assert open(osp.join(out, rel)).read() == \
                open(osp.join(again, rel)).read(), rel


# ------------------------------------------- Kaggle layout, three readers each
# One heart and two nodules per image, each boxed by all three readers with a
# reader's own jitter (IoU between readers 0.6 to 0.9).
THREE_READERS = [('Cardiomegaly', (20, 30, 44, 50)),
                 ('Nodule/Mass', (4, 4, 14, 14)),
                 ('Nodule/Mass', (48, 4, 58, 14))]
JITTER = {'R8': (0, 0, 0, 0), 'R9': (1, 1, 1, 0), 'R10': (-1, 0, 0.5, 1.5)}


@pytest.fixture
def three_readers(tmp_path):
    """Kaggle layout, 10 images (7 / 1 / 2 at seed 0), three readers."""
    src = tmp_path / 'kaggle3'
    (src / 'train').mkdir(parents=True)
    rows = []
    for k in range(10):
        write_dicom(src / 'train' / f'i{k}.dicom',
                    np.zeros((64, 64), np.uint8))
        # Rows reader by reader, as the release lists them.
        for rad, d in JITTER.items():
            for lesion, box in THREE_READERS:
                rows.append([f'i{k}', lesion, LESIONS.index(lesion), rad] +
                            [b + j for b, j in zip(box, d)])
    with open(src / 'train.csv', 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['image_id', 'class_name', 'class_id', 'rad_id', 'x_min',
                    'y_min', 'x_max', 'y_max'])
        w.writerows(rows)
    return src


def _per_lesion_means():
    """The expected fused boxes: each lesion's mean over the readers."""
    out = []
    for lesion, box in THREE_READERS:
        mean = np.mean([[b + j for b, j in zip(box, d)]
                        for d in JITTER.values()], 0)
        out.append((lesion, round(mean[0], 2), round(mean[1], 2),
                    round(mean[2] - mean[0], 2), round(mean[3] - mean[1], 2)))
    return sorted(out)


def _per_reader():
    return sorted((lesion, box[0] + d[0], box[1] + d[1],
                   box[2] + d[2] - box[0] - d[0],
                   box[3] + d[3] - box[1] - d[1])
                  for lesion, box in THREE_READERS for d in JITTER.values())


def test_kaggle_eval_splits_get_one_box_per_lesion(three_readers, tmp_path):
    out = str(tmp_path / 'out')
    summary = convert(str(three_readers), out)
    splits = read_splits(out)
    assert [len(splits[k]) for k in SPLITS] == [7, 1, 2]
    coco = _coco_boxes(out)
    for name in splits['val'] + splits['test']:
        assert coco[name] == _approx(_per_lesion_means()), name
    for name in splits['train']:  # every reader's box, for training
        assert coco[name] == _per_reader(), name
    assert summary['loc_boxes'] == dict(train='raw', val='wbf', test='wbf')
    assert summary['loc_box_counts'] == dict(
        train=dict(read=63, written=63), val=dict(read=9, written=3),
        test=dict(read=18, written=6))
    with open(osp.join(out, 'meta.json')) as f:
        meta = json.load(f)
    assert meta['loc_boxes'] == summary['loc_boxes']
    assert meta['wbf_iou_thr'] == 0.5
    assert 'weighted boxes fusion' in meta['loc_box_policies']['wbf']
    assert meta['boxes']['Nodule/Mass'] == 7 * 6 + 3 * 2


def test_kaggle_raw_keeps_every_reader_and_train_can_be_fused(three_readers,
                                                              tmp_path):
    raw = str(tmp_path / 'raw')
    summary = convert(str(three_readers), raw, eval_boxes='raw')
    assert all(v == _per_reader() for v in _coco_boxes(raw).values())
    assert summary['loc_boxes'] == dict(train='raw', val='raw', test='raw')
    assert summary['boxes']['Nodule/Mass'] == 10 * 6
    fused = str(tmp_path / 'fused')
    summary = convert(str(three_readers), fused, train_boxes='wbf')
    assert all(v == _approx(_per_lesion_means())
               for v in _coco_boxes(fused).values())
    assert summary['loc_boxes'] == dict(train='wbf', val='wbf', test='wbf')
    # A stricter threshold than the readers agree to: nothing fused.
    strict = str(tmp_path / 'strict')
    summary = convert(str(three_readers), strict, train_boxes='wbf',
                      wbf_iou_thr=0.95)
    assert all(v == _per_reader() for v in _coco_boxes(strict).values())
    assert summary['wbf_iou_thr'] == 0.95
    with pytest.raises(ValueError, match=r"eval_boxes='fused'; expected one "
                       r"of \('raw', 'wbf'\)"):
        convert(str(three_readers), str(tmp_path / 'bad'),
                eval_boxes='fused')


def _approx(boxes):
    return [(b[0],) + tuple(pytest.approx(v, abs=0.01) for v in b[1:])
            for b in boxes]


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
    ] + [(n, r, {'No finding'}) for n in 'defg'
         for r in ('R1', 'R2', 'R3')] + [
        ('h', r, {'Cardiomegaly'}) for r in ('R1', 'R2', 'R3')]
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
            # h is the val image (seed 0): three readers, one heart.
            ['h', 'R1', 'Cardiomegaly', 20, 30, 44, 50],
            ['h', 'R2', 'Cardiomegaly', 21, 31, 46, 50],
            ['h', 'R3', 'Cardiomegaly', 19, 29, 45, 53],
        ])
    with open(src / 'annotations' / 'annotations_test.csv', 'w',
              newline='') as f:
        w = csv.writer(f)
        w.writerow(header)
        # Two overlapping consensus boxes (IoU 0.79): kept as released.
        w.writerows([['t1', 'R8', 'Pleural effusion', 40, 40, 63, 63],
                     ['t1', 'R8', 'Pleural effusion', 42, 42, 62, 63],
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
    # The official test boxes are the 5 radiologists' consensus: as they
    # are, even where fusion would merge them.
    assert coco['t1.dicom'] == [('Pleural effusion', 40.0, 40.0, 23.0, 23.0),
                                ('Pleural effusion', 42.0, 42.0, 20.0, 21.0)]
    assert coco['b.dicom'] == [] and coco['t2.dicom'] == []
    splits = read_splits(out)
    assert splits['test'] == ['t1.dicom', 't2.dicom']
    assert sorted(splits['train'] + splits['val']) == [
        f'{n}.dicom' for n in 'abcdefgh']
    assert splits['val'] == ['h.dicom']  # 1/8 of the official train
    # val, carved from the 3-reader train: the readers' boxes fused (mean).
    assert coco['h.dicom'] == [('Cardiomegaly', 20.0, 30.0, 25.0, 21.0)]
    assert summary['loc_boxes'] == dict(train='raw', val='wbf',
                                        test='consensus')
    assert summary['loc_box_counts'] == dict(
        train=dict(read=4, written=4), val=dict(read=3, written=1),
        test=dict(read=2, written=2))
    assert set(summary['loc_box_policies']) == {'raw', 'wbf', 'consensus'}


def test_physionet_raw_keeps_val_readers_and_test_consensus(physionet,
                                                            tmp_path):
    out = str(tmp_path / 'out')
    summary = convert(str(physionet), out, eval_boxes='raw')
    coco = _coco_boxes(out)
    assert coco['h.dicom'] == [('Cardiomegaly', 19.0, 29.0, 26.0, 24.0),
                               ('Cardiomegaly', 20.0, 30.0, 24.0, 20.0),
                               ('Cardiomegaly', 21.0, 31.0, 25.0, 19.0)]
    assert len(coco['t1.dicom']) == 2
    assert summary['loc_boxes'] == dict(train='raw', val='raw',
                                        test='consensus')
    assert 'wbf_iou_thr' not in summary


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
    with pytest.raises(ValueError, match=r"annotations_test.csv line 6 \(t2\)"
                       r": unknown class 'Pleural Effusion'"):
        convert(str(physionet), str(tmp_path / 'out'))
