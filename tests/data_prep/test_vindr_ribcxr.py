"""VinDr-RibCXR converter: 20 rib polygons per image, official split."""
import json
import os.path as osp
import re

import cv2
import numpy as np
import pytest

from data_prep.converters.vindr_ribcxr import CLASSES, convert
from tests.conftest import run_python

SPLITS = ('train', 'val', 'test')
SIZE = (40, 60)  # H, W


def _rib(i):
    """Rib i (0-19) as a rectangle, rows 2i..2i+1 (inclusive), x 3..(10+i)."""
    return [{'x': 3.0, 'y': 2.0 * i}, {'x': 10.0 + i, 'y': 2.0 * i},
            {'x': 10.0 + i, 'y': 2.0 * i + 1}, {'x': 3.0, 'y': 2.0 * i + 1}]


def _area(i):
    return (10 + i - 3 + 1) * 2


def _table(split, count, missing=()):
    """A pandas DataFrame.to_json() table (orient 'columns')."""
    data = {'img': {str(r): f'data/{split}/img/VinDr_RibCXR_{split}_{r:03d}'
                    '.png' for r in range(count)}}
    for i, rib in enumerate(CLASSES):
        data[rib] = {str(r): ('None' if (r, rib) in missing else _rib(i))
                     for r in range(count)}
    return data


@pytest.fixture
def ribcxr(tmp_path):
    """The release: Data/{train,val}/img/*.png and one JSON per split."""
    src = tmp_path / 'VinDr_RibCXR'
    for split, count in (('train', 9), ('val', 3)):
        (src / 'Data' / split / 'img').mkdir(parents=True)
        for r in range(count):
            cv2.imwrite(str(src / 'Data' / split / 'img' /
                            f'VinDr_RibCXR_{split}_{r:03d}.png'),
                        np.full(SIZE, 100, np.uint8))
        table = _table(split, count, missing={(1, 'L10'), (2, 'R1')})
        (src / 'Data' / split / f'Vindr_RibCXR_{split}_mask.json').write_text(
            json.dumps(table))
    return src


def _mask(out, rib, name):
    return cv2.imread(osp.join(out, 'seg', 'masks', rib, name), 0) > 127


def test_masks_and_the_release_split(ribcxr, tmp_path):
    out = str(tmp_path / 'out')
    summary = convert(str(ribcxr), out)
    assert summary['images'] == 12 and summary['masked_images'] == 12
    assert summary['skipped'] == {}
    name = 'VinDr_RibCXR_train_000.png'
    for i, rib in enumerate(CLASSES):
        mask = _mask(out, rib, name)
        assert mask.shape == SIZE
        assert mask.sum() == _area(i), rib
        assert mask[2 * i, 3] and not mask[(2 * i + 2) % SIZE[0], 3]
    assert _mask(out, 'L10', 'VinDr_RibCXR_train_001.png').sum() == 0
    assert _mask(out, 'R1', 'VinDr_RibCXR_val_002.png').sum() == 0
    assert _mask(out, 'R2', 'VinDr_RibCXR_val_002.png').sum() == _area(1)
    splits = {s: open(osp.join(out, 'splits', f'{s}.txt')).read().split()
              for s in SPLITS}
    # The release's 49 validation images are the paper's test set.
    assert splits['test'] == [f'VinDr_RibCXR_val_{r:03d}.png'
                              for r in range(3)]
    assert sorted(splits['train'] + splits['val']) == [
        f'VinDr_RibCXR_train_{r:03d}.png' for r in range(9)]
    assert len(splits['val']) == 1
    assert open(osp.join(out, 'seg', 'test.txt')).read().split() == \
        splits['test']


def test_cli_rerun_and_resize(ribcxr, tmp_path):
    out = str(tmp_path / 'out')
    convert(str(ribcxr), out)
    cli = str(tmp_path / 'cli')
    run_python(['-m', 'data_prep', 'vindr_ribcxr', '--src', str(ribcxr),
                '--out', cli])
    for split in SPLITS:
        assert open(osp.join(out, 'seg', f'{split}.txt')).read() == open(
            osp.join(cli, 'seg', f'{split}.txt')).read()
    name = 'VinDr_RibCXR_train_004.png'
    for rib in CLASSES:
        np.testing.assert_array_equal(_mask(out, rib, name),
                                      _mask(cli, rib, name))
    small = str(tmp_path / 'small')
    convert(str(ribcxr), small, resize=30)
    mask = _mask(small, 'L10', name)
    assert mask.shape == (20, 30) and mask[19, 2] and mask.sum() > 0


def test_three_split_files_and_records_layout(ribcxr, tmp_path):
    """A copy with a test split, named data_{split}.json, as records."""
    test = ribcxr / 'Data' / 'test'
    (test / 'img').mkdir(parents=True)
    cv2.imwrite(str(test / 'img' / 'VinDr_RibCXR_test_000.png'),
                np.full(SIZE, 100, np.uint8))
    record = dict({'img': 'data/test/img/VinDr_RibCXR_test_000.png'},
                  **{rib: _rib(i) for i, rib in enumerate(CLASSES)})
    (test / 'data_test.json').write_text(json.dumps([record]))
    summary = convert(str(ribcxr), str(tmp_path / 'out'))
    assert summary['splits'] == {'train': 9, 'val': 3, 'test': 1}


def test_polygon_outside_the_image(ribcxr, tmp_path):
    path = ribcxr / 'Data' / 'val' / 'Vindr_RibCXR_val_mask.json'
    table = json.loads(path.read_text())
    table['L3']['1'][1]['x'] = 75.0  # one point past the right border
    table['L4']['1'] = [dict(x=x, y=y) for x, y in ((70, 5), (80, 5),
                                                      (75, 9))]
    path.write_text(json.dumps(table))
    out = tmp_path / 'out'
    summary = convert(str(ribcxr), str(out))
    assert summary['skipped'] == {'polygon clipped to the image': 1,
                                  'polygon outside the image': 1}
    example, = summary['skipped_examples']['polygon clipped to the image']
    assert re.match(r".*Vindr_RibCXR_val_mask.json image 1 \(VinDr_RibCXR_"
                    r"val_001.png\), rib L3: polygon reaches outside the 60x40"
                    r" image", example)
    # The clipped polygon is filled up to the border; the other fills nothing.
    l3 = cv2.imread(str(out / 'seg' / 'masks' / 'L3' /
                        'VinDr_RibCXR_val_001.png'), cv2.IMREAD_GRAYSCALE)
    l4 = cv2.imread(str(out / 'seg' / 'masks' / 'L4' /
                        'VinDr_RibCXR_val_001.png'), cv2.IMREAD_GRAYSCALE)
    assert l3[:, -1].any() and not l4.any()


def test_missing_rib_column_and_corrupt_image(ribcxr, tmp_path):
    path = ribcxr / 'Data' / 'val' / 'Vindr_RibCXR_val_mask.json'
    good = path.read_text()
    table = json.loads(good)
    del table['R7']
    path.write_text(json.dumps(table))
    with pytest.raises(ValueError, match=r"VinDr-RibCXR: .*val_mask.json has "
                       r"no column\(s\) \['R7'\]"):
        convert(str(ribcxr), str(tmp_path / 'out'))
    path.write_text(good)
    (ribcxr / 'Data' / 'train' / 'img' / 'VinDr_RibCXR_train_003.png'
     ).write_bytes(b'')
    summary = convert(str(ribcxr), str(tmp_path / 'out2'))
    assert summary['skipped'] == {'unreadable image': 1}
    assert summary['images'] == 11
