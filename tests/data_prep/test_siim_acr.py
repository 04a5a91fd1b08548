"""SIIM-ACR converter: the real train-rle.csv with the real DICOM and
stand-ins, checked against an independent decode; and bad input."""
import csv
import gzip
import os
import os.path as osp
import shutil
from collections import OrderedDict

import cv2
import numpy as np
import pytest

from data_prep.converters.siim_acr import convert
from tests.data_prep.prepared import read_prepared
from tests.conftest import run_python, shared_data
from tests.data_prep.dicom_fixtures import write_dicom, write_flat_dicom

SPLITS = ('train', 'val', 'test')
REAL_ID = '1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819'
SIZE = 1024  # every stand-in is 1024 x 1024, like the real images


def _pixels(rle: str) -> set:
    """Flat (column-major) pixel indices of one relative RLE row, decoded
    here without data_prep.rle: each start counts from the previous run's
    end."""
    values = [int(v) for v in rle.split()]
    pixels, position = set(), 0
    for start, length in zip(values[0::2], values[1::2]):
        position += start
        pixels.update(range(position, position + length))
        position += length
    return pixels


def _set_patient(path, patient):
    import pydicom
    ds = pydicom.dcmread(str(path))
    ds.PatientID = patient
    ds.save_as(str(path))


def _read(out):
    return read_prepared(out, ['Pneumothorax'], 'Pneumothorax')


@pytest.fixture(scope='module')
def siim(tmp_path_factory):
    """The real label file and DICOM, plus 1024 x 1024 stand-ins for 35
    more ids: negatives, single-row and multi-row (some overlapping) masks."""
    real = shared_data('official_formats', 'siim_acr')
    table = osp.join(real, 'siim-pneumothorax-train-rle.csv.gz')
    with gzip.open(table, 'rt', newline='') as f:
        reader = csv.reader(f)
        assert next(reader) == ['ImageId', ' EncodedPixels']
        rows = [(i, r.strip()) for i, r in reader]
    per = OrderedDict()
    for image_id, rle in rows:
        per.setdefault(image_id, []).append(rle)
    negatives = [i for i, r in per.items() if r == ['-1'] and i != REAL_ID]
    single = [i for i, r in per.items() if len(r) == 1 and r != ['-1']]
    multi = [i for i, r in per.items() if len(r) > 1]
    overlapping = [i for i in multi if sum(len(_pixels(r)) for r in per[i])
                   > len(set().union(*map(_pixels, per[i])))]
    most = max(multi, key=lambda i: len(per[i]))
    overlapping = [i for i in overlapping if i not in multi[:8]][:6]
    chosen = list(OrderedDict.fromkeys(
        negatives[:12] + single[:8] + multi[:8] + overlapping + [most]))
    src = tmp_path_factory.mktemp('siim') / 'siim'
    os.makedirs(src)
    shutil.copy(table, src / 'train-rle.csv.gz')
    patient = {}
    for k, image_id in enumerate(chosen):
        folder = src / 'dicom-images-train' / f'1.2.3.{k}' / f'1.2.3.{k}.1'
        folder.mkdir(parents=True)
        write_flat_dicom(folder / f'{image_id}.dcm', SIZE, SIZE, value=90)
        patient[image_id] = f'patient{k // 2}'  # pairs share a patient
        _set_patient(folder / f'{image_id}.dcm', patient[image_id])
    folder = src / 'dicom-images-train' / 'real' / 'real'
    folder.mkdir(parents=True)
    shutil.copy(osp.join(real, REAL_ID + '.dcm'), folder)
    import pydicom
    patient[REAL_ID] = pydicom.dcmread(str(folder / (REAL_ID + '.dcm')),
                                       stop_before_pixels=True).PatientID
    present = chosen + [REAL_ID]
    out = str(tmp_path_factory.mktemp('out') / 'siim')
    summary = convert(str(src), out, allow_partial=True)
    return dict(src=src, out=out, summary=summary, per=per, present=present,
                patient=patient, overlapping=overlapping, most=most)


def test_counts_and_labels_match_the_real_csv(siim):
    per, present, summary = siim['per'], siim['present'], siim['summary']
    assert len(per) == 12047 and sum(len(r) for r in per.values()) == 12954
    assert len(siim['overlapping']) == 6 and len(per[siim['most']]) == 10
    assert summary['images'] == len(present) == 36
    assert summary['skipped'] == {'image file missing': len(per) - 36}
    positives = [i for i in present if per[i] != ['-1']]
    assert summary['cls_positives'] == {'Pneumothorax': len(positives)}
    assert summary['masked_images'] == 36
    cls, _, _ = _read(siim['out'])
    for image_id in present:
        assert cls[image_id + '.dcm'] == str(int(per[image_id] != ['-1']))
    assert cls[REAL_ID + '.dcm'] == '0'  # the real image is a negative


def test_masks_equal_an_independent_decode(siim):
    per, out = siim['per'], siim['out']
    for image_id in siim['present']:
        mask = cv2.imread(osp.join(out, 'seg', 'masks', 'Pneumothorax',
                                   image_id + '.png'), cv2.IMREAD_GRAYSCALE)
        assert mask.shape == (SIZE, SIZE)
        if per[image_id] == ['-1']:
            assert not mask.any()
            continue
        union = set().union(*(_pixels(r) for r in per[image_id]))
        assert int((mask == 255).sum()) == len(union)
        # Column-major: flat index i is row i % H of column i // H.
        for flat in (min(union), max(union)):
            assert mask[flat % SIZE, flat // SIZE] == 255
    # Overlapping rows: the area is the union, less than the summed lengths.
    for image_id in siim['overlapping']:
        lengths = sum(sum(int(v) for v in r.split()[1::2])
                      for r in per[image_id])
        union = set().union(*(_pixels(r) for r in per[image_id]))
        assert len(union) < lengths


def test_boxes_are_the_connected_components(siim):
    per, out = siim['per'], siim['out']
    _, boxes, _ = _read(out)
    total = 0
    for image_id in siim['present']:
        flat = np.zeros(SIZE * SIZE, np.uint8)
        for rle in per[image_id]:
            if rle != '-1':
                flat[sorted(_pixels(rle))] = 1
        mask = flat.reshape(SIZE, SIZE).T.copy()
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, 8)
        expected = sorted((float(x), float(y), float(w), float(h))
                          for x, y, w, h, area in stats[1:count]
                          if area >= 105)  # 1e-4 of 1024 x 1024
        assert sorted(boxes[image_id + '.dcm']) == expected, image_id
        total += len(expected)
    assert siim['summary']['boxes'] == {'Pneumothorax': total}
    assert total > len([i for i in siim['present'] if per[i] != ['-1']])


def test_split_is_grouped_by_patient_and_rerun_identical(siim, tmp_path):
    _, _, splits = _read(siim['out'])
    assert sorted(sum(splits.values(), [])) == sorted(
        i + '.dcm' for i in siim['present'])
    seen = {}
    for split, names in splits.items():
        for name in names:
            patient = siim['patient'][name[:-4]]
            assert seen.setdefault(patient, split) == split
    again = str(tmp_path / 'again')
    run_python(['-m', 'data_prep', 'siim_acr', '--allow-partial', '--src',
                str(siim['src']),
                '--out', again])
    for sub in ('cls', 'loc', 'seg', 'splits'):
        for split in SPLITS:
            ext = dict(cls='csv', loc='json').get(sub, 'txt')
            a = open(osp.join(siim['out'], sub, f'{split}.{ext}')).read()
            assert a == open(osp.join(again, sub, f'{split}.{ext}')).read()
    name = siim['most'] + '.png'
    assert open(osp.join(siim['out'], 'seg', 'masks', 'Pneumothorax', name),
                'rb').read() == open(osp.join(again, 'seg', 'masks',
                                              'Pneumothorax', name),
                                     'rb').read()


# ------------------------------------------------------------------ bad input
def _small(tmp_path, lines, images=('a', 'b')):
    src = tmp_path / 'src'
    (src / 'dicom-images-train' / 's' / 's').mkdir(parents=True)
    (src / 'train-rle.csv').write_text('ImageId, EncodedPixels\n'
                                       + ''.join(f'{x}\n' for x in lines))
    for image_id in images:
        write_dicom(src / 'dicom-images-train' / 's' / 's' / f'{image_id}.dcm',
                    np.full((8, 6), 50, np.uint8))
    return src


def test_rle_longer_than_the_image_is_an_error(tmp_path):
    src = _small(tmp_path, ['a, -1', 'b, 40 5 3 2'])  # 8 x 6 = 48 pixels
    with pytest.raises(ValueError, match=r"SIIM-ACR: .*train-rle.csv, ImageId "
                       r"b: EncodedPixels: .*50 pixels.*8x6"):
        convert(str(src), str(tmp_path / 'out'))


def test_corrupt_dicom_and_conflicting_rows_are_counted(tmp_path):
    src = _small(tmp_path, ['a, 2 3', 'b, -1', 'c, -1', 'd, -1', 'd, 1 1'])
    (src / 'dicom-images-train' / 's' / 's' / 'c.dcm').write_bytes(
        b'not a dicom at all')
    summary = convert(str(src), str(tmp_path / 'out'))
    assert summary['images'] == 2
    assert summary['skipped'] == {'unreadable image': 1,
                                  'conflicting rows': 1}
    assert summary['cls_positives'] == {'Pneumothorax': 1}
    mask = cv2.imread(str(tmp_path / 'out' / 'seg' / 'masks' / 'Pneumothorax'
                          / 'a.png'), cv2.IMREAD_GRAYSCALE)
    assert mask.shape == (8, 6)
    # "2 3": pixels 2, 3, 4 of the first column.
    assert mask[:, 0].tolist() == [0, 0, 255, 255, 255, 0, 0, 0]
    assert not mask[:, 1:].any()


def test_missing_column_is_named(tmp_path):
    src = tmp_path / 'src'
    src.mkdir()
    (src / 'train-rle.csv').write_text('ImageId,Pixels\na,-1\n')
    with pytest.raises(ValueError, match=r"train-rle.csv has no column\(s\) "
                       r"\['EncodedPixels'\]"):
        convert(str(src), str(tmp_path / 'out'))


# ------------------------------------------------------- the stage-2 files
def test_stage_2_download_is_read(tmp_path):
    """The competition page's files today: ``stage_2_train.csv`` (header
    without the stage-1 file's leading space) labels the stage-1 train and
    test images, which lie under ``dicom-images-train/`` and
    ``dicom-images-test/``; ``stage_2_images/`` holds the unlabelled
    stage-2 test set, and ``stage_2_sample_submission.csv`` is not read.
    With the stage-1 ``train-rle.csv`` beside it, the stage-2 table (a
    superset) is the one read."""
    src = tmp_path / 'siim'
    labelled = {'1.2.276.0.7230010.3.1.4.8323329.1.1': ['-1'],
                '1.2.276.0.7230010.3.1.4.8323329.2.1': ['2 3'],
                '1.2.276.0.7230010.3.1.4.8323329.3.1': ['-1'],
                '1.2.276.0.7230010.3.1.4.8323329.4.1': ['0 2', '9 4'],
                '1.2.276.0.7230010.3.1.4.8323329.5.1': ['-1']}
    test_ids = list(labelled)[3:]  # stage-1 test images, labelled in stage 2
    pixels = np.full((8, 6), 50, np.uint8)
    for k, image_id in enumerate(labelled):
        folder = 'dicom-images-test' if image_id in test_ids else \
            'dicom-images-train'
        path = src / folder / f'1.2.3.{k}' / f'1.2.3.{k}.1'
        path.mkdir(parents=True)
        write_dicom(path / f'{image_id}.dcm', pixels)
    (src / 'stage_2_images').mkdir()
    write_dicom(src / 'stage_2_images' / 'ID_0a0adf93f.dcm', pixels)
    (src / 'stage_2_sample_submission.csv').write_text(
        'ImageId,EncodedPixels\nID_0a0adf93f,-1\n')
    (src / 'stage_2_train.csv').write_text('ImageId,EncodedPixels\n' + ''.join(
        f'{i},{r}\n' for i, rles in labelled.items() for r in rles))
    (src / 'train-rle.csv').write_text('ImageId, EncodedPixels\n' + ''.join(
        f'{i}, {r}\n' for i, rles in labelled.items() if i not in test_ids
        for r in rles))
    out = str(tmp_path / 'out')
    summary = convert(str(src), out)
    assert summary['images'] == len(labelled)
    assert summary['skipped'] == {}
    assert summary['cls_positives'] == {'Pneumothorax': 2}
    cls, _, _ = _read(out)
    assert cls == {f'{i}.dcm': str(int(r != ['-1']))
                   for i, r in labelled.items()}
    mask = cv2.imread(osp.join(out, 'seg', 'masks', 'Pneumothorax',
                               test_ids[0] + '.png'), cv2.IMREAD_GRAYSCALE)
    # Two rows, each counted from pixel 0 (column-major, H = 8): "0 2" is
    # rows 0-1 of column 0, "9 4" flat pixels 9-12 = rows 1-4 of column 1.
    assert mask[:, 0].tolist() == [255, 255, 0, 0, 0, 0, 0, 0]
    assert mask[:, 1].tolist() == [0, 255, 255, 255, 255, 0, 0, 0]
    assert not mask[:, 2:].any()


def test_no_label_table_names_both_stages_files(tmp_path):
    src = tmp_path / 'siim'
    (src / 'dicom-images-train').mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"SIIM-ACR: none of "
                       r"\['stage_2_train.csv', 'train-rle.csv'\]"):
        convert(str(src), str(tmp_path / 'out'))
