"""CheXmask (VinDr-CXR table) converter: RLE masks, derived boxes, splits."""
import csv
import json
import os.path as osp

import cv2
import numpy as np
import pytest

from data_prep.converters.chexmask_vindr import CLASSES, convert
from data_prep.layout import ConversionError
from tests.conftest import run_python
from tests.data_prep.dicom_fixtures import write_dicom

SPLITS = ('train', 'val', 'test')
HEADER = ['image_id', 'Dice RCA (Mean)', 'Dice RCA (Max)', 'Landmarks',
          'Left Lung', 'Right Lung', 'Heart', 'Height', 'Width']


def _rle(mask):
    """CheXmask's code: 1-based starts over the row-major flattened mask."""
    flat = np.concatenate([[0], mask.reshape(-1).astype(int), [0]])
    runs = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs[1::2] -= runs[::2]
    return ' '.join(str(v) for v in runs)


def _organs(h, w, k):
    """Heart, left lung (image right), right lung in two pieces."""
    heart = np.zeros((h, w), bool)
    heart[20 + k:30, 24:40] = True
    left = np.zeros((h, w), bool)
    left[5:40, w - 18:w - 4] = True
    right = np.zeros((h, w), bool)
    right[5:20, 4:18] = True
    right[24:40, 4:18] = True
    return dict(zip(CLASSES, (heart, left, right)))


@pytest.fixture
def chexmask(tmp_path):
    """CheXmask's table under OriginalResolution/ (and a Preprocessed one that
    must be ignored) next to VinDr-CXR's train/ and test/ DICOMs."""
    src = tmp_path / 'src'
    table = src / 'chexmask' / 'OriginalResolution'
    table.mkdir(parents=True)
    (src / 'chexmask' / 'Preprocessed').mkdir()
    (src / 'vindr' / 'train').mkdir(parents=True)
    (src / 'vindr' / 'test').mkdir()
    rows, truth = [], {}
    ids = [f'tr{i}' for i in range(8)] + ['te0', 'te1', 'gone']
    for k, image_id in enumerate(ids):
        h, w = 48 + 2 * (k % 3), 64
        organs = _organs(h, w, k % 4)
        truth[image_id] = organs
        rows.append([image_id, 0.8 + k / 100, 0.9, '1,2,3,4', _rle(
            organs['Left Lung']), _rle(organs['Right Lung']),
            _rle(organs['Heart']), h, w])
        if image_id != 'gone':
            folder = 'test' if image_id.startswith('te') else 'train'
            write_dicom(src / 'vindr' / folder / f'{image_id}.dicom',
                        np.full((h, w), 70, np.uint8))
    for folder, content in ((table, rows), (src / 'chexmask' / 'Preprocessed',
                                            [[r[0], 0, 0, '', '1 5', '1 5',
                                              '1 5', 1024, 1024]
                                             for r in rows])):
        with open(folder / 'VinDr-CXR.csv', 'w', newline='') as f:
            w = csv.writer(f)
            w.writerow(HEADER)
            w.writerows(content)
    return src, truth


def _check(out, truth, summary):
    assert summary['images'] == 10
    assert summary['skipped'] == {'image file missing': 1}
    assert summary['masked_images'] == 10
    splits = {s: open(osp.join(out, 'splits', f'{s}.txt')).read().split()
              for s in SPLITS}
    # VinDr-CXR's official parts: test/ is test, val comes from train/.
    assert splits['test'] == ['te0.dicom', 'te1.dicom']
    assert sorted(splits['train'] + splits['val']) == [
        f'tr{i}.dicom' for i in range(8)]
    assert len(splits['val']) == 1
    boxes = {}
    for split in SPLITS:
        with open(osp.join(out, 'loc', f'{split}.json')) as f:
            coco = json.load(f)
        assert [c['name'] for c in coco['categories']] == CLASSES
        names = {im['id']: im['file_name'] for im in coco['images']}
        for a in coco['annotations']:
            boxes.setdefault(names[a['image_id']], []).append(
                (CLASSES[a['category_id'] - 1], a['bbox']))
        assert open(osp.join(out, 'seg', f'{split}.txt')).read().split() == \
            splits[split]
    for image_id, organs in truth.items():
        if image_id == 'gone':
            continue
        h = organs['Heart'].shape[0]
        top = int(organs['Heart'].any(1).nonzero()[0][0])
        expected = sorted([
            ('Heart', [24, top, 16, 30 - top]),
            ('Left Lung', [46, 5, 14, 35]),
            ('Right Lung', [4, 5, 14, 15]),
            ('Right Lung', [4, 24, 14, 16])])
        assert sorted(boxes[f'{image_id}.dicom']) == expected, image_id
        for cls, mask in organs.items():
            written = cv2.imread(osp.join(out, 'seg', 'masks',
                                          cls.replace('/', '_'),
                                          f'{image_id}.png'), 0)
            assert written.shape == (h, 64)
            np.testing.assert_array_equal(written > 127, mask)
    assert summary['boxes'] == {'Heart': 10, 'Left Lung': 10,
                                'Right Lung': 20}


def test_masks_boxes_and_official_split(chexmask, tmp_path):
    src, truth = chexmask
    out = str(tmp_path / 'out')
    _check(out, truth, convert(str(src), out))


def test_cli_and_a_separate_image_folder(chexmask, tmp_path):
    src, truth = chexmask
    out = str(tmp_path / 'cli')
    run_python(['-m', 'data_prep', 'chexmask_vindr', '--src', str(src),
                '--out', out])
    with open(osp.join(out, 'meta.json')) as f:
        _check(out, truth, json.load(f))
    again = str(tmp_path / 'images_kw')
    summary = convert(str(src / 'chexmask'), again, images=str(src / 'vindr'))
    for split in SPLITS:
        assert open(osp.join(out, 'loc', f'{split}.json')).read() == open(
            osp.join(again, 'loc', f'{split}.json')).read()
    assert summary['splits'] == {'train': 7, 'val': 1, 'test': 2}


def test_resize_scales_masks_and_boxes(chexmask, tmp_path):
    src, truth = chexmask
    out = str(tmp_path / 'small')
    convert(str(src), out, resize=32)
    mask = cv2.imread(osp.join(out, 'seg', 'masks', 'Left Lung',
                               'tr0.png'), 0)
    assert mask.shape == (24, 32)
    with open(osp.join(out, 'loc', 'test.json')) as f:
        coco = json.load(f)
    left = [a['bbox'] for a in coco['annotations'] if a['category_id'] == 2]
    assert left[0] == [23.0, 2.5, 7.0, 17.5]


def test_flat_image_folder_gets_a_seeded_70_10_20_split(chexmask, tmp_path):
    src, truth = chexmask
    flat = tmp_path / 'flat'
    flat.mkdir()
    for p in (src / 'vindr').rglob('*.dicom'):
        (flat / p.name).write_bytes(p.read_bytes())
    summary = convert(str(src / 'chexmask'), str(tmp_path / 'o'),
                      images=str(flat))
    assert summary['splits'] == {'train': 7, 'val': 1, 'test': 2}
    a = convert(str(src / 'chexmask'), str(tmp_path / 'o'), images=str(flat),
                seed=1)
    assert a['splits'] == summary['splits']


def test_quality_filter(chexmask, tmp_path):
    src, truth = chexmask
    summary = convert(str(src), str(tmp_path / 'o'), min_dice_rca=0.85)
    # Dice RCA (Mean) is 0.80 + k / 100: rows 0-4 fall below 0.85.
    assert summary['skipped'] == {'Dice RCA (Mean) below 0.85': 5,
                                  'image file missing': 1}


def _one_row(tmp_path, heart, h=48, w=64, header=HEADER):
    src = tmp_path / 'bad'
    (src / 'train').mkdir(parents=True)
    write_dicom(src / 'train' / 'i1.dicom', np.zeros((48, 64), np.uint8))
    with open(src / 'VinDr-CXR.csv', 'w', newline='') as f:
        w_ = csv.writer(f)
        w_.writerow(header)
        w_.writerow(['i1', 0.9, 0.9, '', '1 10', '100 10', heart, h, w][
            :len(header)])
    return src


def test_rle_beyond_the_image_names_file_row_and_column(tmp_path):
    src = _one_row(tmp_path, heart=f'{48 * 64 - 5} 10')
    with pytest.raises(ValueError, match=r"VinDr-CXR.csv line 2 \(i1\), "
                       r"column 'Heart': run-length string reaches pixel "
                       r"3076, beyond the 48x64 image"):
        convert(str(src), str(tmp_path / 'out'))


def test_mask_size_must_be_the_image_size(tmp_path):
    src = _one_row(tmp_path, heart='1 4', h=1024, w=1024)
    with pytest.raises(ValueError, match=r"line 2 \(i1\): masks are 1024x1024"
                       r" .* OriginalResolution table"):
        convert(str(src), str(tmp_path / 'out'))


def test_missing_column_is_named(tmp_path):
    src = _one_row(tmp_path, heart='1 4', header=HEADER[:-1])
    with pytest.raises(ValueError, match=r"CheXmask-VinDr: .*VinDr-CXR.csv "
                       r"has no column\(s\) \['Width'\]"):
        convert(str(src), str(tmp_path / 'out'))


def test_corrupt_dicom_is_counted(tmp_path):
    src = _one_row(tmp_path, heart='1 4')
    (src / 'train' / 'i1.dicom').write_bytes(b'not a dicom at all')
    # The only image unreadable: the train split is empty, which fails.
    with pytest.raises(ConversionError, match=r'train split is empty \(0 '
                       r'images converted, 0 of the 1 listed missing from '
                       r'--src, 1 unreadable'):
        convert(str(src), str(tmp_path / 'out'))
    with open(tmp_path / 'out' / 'meta.json') as f:
        meta = json.load(f)
    assert meta['skipped'] == {'unreadable image': 1}
    assert 'train split is empty' in meta['failed']
    assert not (tmp_path / 'out' / 'splits').exists()
