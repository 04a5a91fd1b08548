"""ChestX-Det converter: labels, boxes and polygon masks per class."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest

from data_prep.converters.chestx_det import CLASSES, convert
from tests.data_prep.prepared import read_boxes, read_cls, read_splits
from tests.conftest import run_python

SPLITS = ('train', 'val', 'test')


def _square(x1, y1, x2, y2):
    return [[x1, y1], [x2, y1], [x2, y2], [x1, y2]]


TRAIN = [
    {'file_name': '1.png', 'syms': ['Cardiomegaly', 'Effusion', 'Effusion'],
     'boxes': [[20, 30, 44, 50], [2, 40, 12, 60], [50, 40, 62, 60]],
     'polygons': [_square(20, 30, 44, 50), _square(2, 40, 12, 60),
                  _square(50, 40, 62, 60)]},
    {'file_name': '2.png', 'syms': ['Nodule', 'Mass'],
     'boxes': [[8, 8, 24, 24], [10, 10, 30, 30]],
     'polygons': [_square(8, 8, 24, 24), [[10, 10], [30, 10], [10, 30]]]},
    {'file_name': '3.png', 'syms': [], 'boxes': [], 'polygons': []},
    {'file_name': '4.png', 'syms': ['Diffuse Nodule', 'Pleural Thickening'],
     'boxes': [[0, 0, 64, 64], [1, 1, 5, 5]],
     'polygons': [_square(0, 0, 63, 63), [[1, 1], [5, 5]]]},
] + [{'file_name': f'{n}.png', 'syms': ['Fracture'], 'boxes': [[1, 2, 3, 4]],
      'polygons': [_square(1, 2, 3, 4)]} for n in range(5, 10)] + [
    {'file_name': 'missing.png', 'syms': ['Fibrosis'], 'boxes': [[1, 1, 9, 9]],
     'polygons': [_square(1, 1, 9, 9)]}]
TEST = [
    {'file_name': '100.png', 'syms': ['Pneumothorax'],
     'boxes': [[30.5, 2.5, 60.5, 20.5]], 'polygons': [_square(31, 3, 60, 20)]},
    {'file_name': '101.png', 'syms': [], 'boxes': [], 'polygons': []}]


@pytest.fixture
def chestx_det(tmp_path):
    """Both JSON files at the root; images as the two zips unpack."""
    src = tmp_path / 'ChestX-Det'
    (src / 'train_data' / 'train').mkdir(parents=True)
    (src / 'test_data' / 'test').mkdir(parents=True)
    for entry in TRAIN[:-1]:
        cv2.imwrite(str(src / 'train_data' / 'train' / entry['file_name']),
                    np.full((64, 64), 120, np.uint8))
    for entry in TEST:
        cv2.imwrite(str(src / 'test_data' / 'test' / entry['file_name']),
                    np.full((64, 64), 120, np.uint8))
    (src / 'ChestX_Det_train.json').write_text(json.dumps(TRAIN))
    (src / 'ChestX_Det_test.json').write_text(json.dumps(TEST))
    return src


def _mask(out, cls, name):
    return cv2.imread(osp.join(out, 'seg', 'masks', cls, name), 0) > 127


def test_labels_boxes_masks_and_official_test(chestx_det, tmp_path):
    out = str(tmp_path / 'out')
    summary = convert(str(chestx_det), out)
    assert summary['images'] == 11
    assert summary['skipped'] == {'image file missing': 1,
                                  'polygon with fewer than 3 points': 1}
    present = TRAIN[:-1] + TEST
    assert summary['cls_positives'] == {
        c: sum(c in e['syms'] for e in present) for c in CLASSES}
    assert summary['boxes'] == {
        c: sum(e['syms'].count(c) for e in present) for c in CLASSES}
    assert summary['masked_images'] == 11
    # Every class of every image has a mask; a rectangle polygon from
    # (x1, y1) to (x2, y2) fills (x2 - x1 + 1) * (y2 - y1 + 1) pixels.
    assert _mask(out, 'Cardiomegaly', '1.png').sum() == 25 * 21
    assert _mask(out, 'Effusion', '1.png').sum() == 11 * 21 + 13 * 21
    assert _mask(out, 'Atelectasis', '1.png').sum() == 0
    nodule, mass = _mask(out, 'Nodule', '2.png'), _mask(out, 'Mass', '2.png')
    assert nodule.sum() == 17 * 17 and mass.sum() > 0 and (nodule & mass).any()
    assert _mask(out, 'Pleural Thickening', '4.png').sum() == 0  # 2 points
    assert _mask(out, 'Diffuse Nodule', '4.png').all()
    assert _mask(out, 'Pneumothorax', '101.png').sum() == 0
    with open(osp.join(out, 'loc', 'test.json')) as f:
        coco = json.load(f)
    assert [(a['category_id'], a['bbox']) for a in coco['annotations']] == [
        (CLASSES.index('Pneumothorax') + 1, [30.5, 2.5, 30.0, 18.0])]
    rows = read_cls(out)
    assert rows['1.png']['Effusion'] == '1' and rows['1.png']['Mass'] == '0'
    assert set(rows['3.png'].values()) == {'3.png', '0'}
    splits = read_splits(out)
    assert splits['test'] == ['100.png', '101.png']
    assert sorted(splits['train'] + splits['val']) == sorted(
        e['file_name'] for e in TRAIN[:-1])
    assert len(splits['val']) == 1


def test_cli_rerun_is_identical_and_resize_scales(chestx_det, tmp_path):
    out = str(tmp_path / 'out')
    convert(str(chestx_det), out)
    cli = str(tmp_path / 'cli')
    run_python(['-m', 'data_prep', 'chestx_det', '--src', str(chestx_det),
                '--out', cli])
    for split in SPLITS:
        for rel in (f'cls/{split}.csv', f'loc/{split}.json',
                    f'seg/{split}.txt'):
            assert open(osp.join(out, rel)).read() == \
                open(osp.join(cli, rel)).read()
    small = str(tmp_path / 'small')
    convert(str(chestx_det), small, resize=32)
    assert _mask(small, 'Cardiomegaly', '1.png').shape == (32, 32)
    assert abs(_mask(small, 'Cardiomegaly', '1.png').sum() - 13 * 11) <= 13
    with open(osp.join(small, 'loc', 'test.json')) as f:
        assert json.load(f)['annotations'][0]['bbox'] == [15.25, 1.25, 15.0,
                                                           9.0]


def _write(src, train):
    (src / 'ChestX_Det_train.json').write_text(json.dumps(train))


def test_unknown_class_names_file_entry_and_class(chestx_det, tmp_path):
    bad = [dict(TRAIN[0], syms=['Cardiomegaly', 'Effusion', 'Efusion'])]
    _write(chestx_det, bad)
    with pytest.raises(ValueError, match=r"ChestX_Det_train.json entry 0 "
                       r"\(1.png\): unknown class\(es\) \['Efusion'\]"):
        convert(str(chestx_det), str(tmp_path / 'out'))


def test_box_past_the_border_is_clipped_and_counted(chestx_det, tmp_path):
    _write(chestx_det, [dict(TRAIN[1], boxes=[[8, 8, 24, 24], [10, 10, 90,
                                                               30]])])
    out = str(tmp_path / 'out')
    summary = convert(str(chestx_det), out)
    assert summary['skipped']['box clipped to the image'] == 1
    example, = summary['skipped_examples']['box clipped to the image']
    assert 'ChestX_Det_train.json entry 0: 2.png: box' in example
    assert "'Mass'" in example
    # Clipped to x2 = 64 (the image's width), not dropped.
    assert (10.0, 10.0, 54.0, 20.0) in read_boxes(out, CLASSES)['2.png']


def test_boxes_must_parallel_syms(chestx_det, tmp_path):
    _write(chestx_det, [dict(TRAIN[1], boxes=[[8, 8, 24, 24]])])
    with pytest.raises(ValueError, match=r"entry 0 \(2.png\): 1 boxes for 2 "
                       r"syms"):
        convert(str(chestx_det), str(tmp_path / 'out'))


def test_missing_field_and_corrupt_image(chestx_det, tmp_path):
    _write(chestx_det, [{'file_name': '1.png', 'syms': []}])
    with pytest.raises(ValueError, match=r"entry 0: no field\(s\) \['boxes', "
                       r"'polygons'\]"):
        convert(str(chestx_det), str(tmp_path / 'out'))
    _write(chestx_det, TRAIN)
    (chestx_det / 'train_data' / 'train' / '3.png').write_bytes(b'\x89PNG..')
    summary = convert(str(chestx_det), str(tmp_path / 'out2'))
    assert summary['skipped']['unreadable image'] == 1
    assert summary['images'] == 10
