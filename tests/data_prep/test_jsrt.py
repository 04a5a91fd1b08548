"""JSRT + SCR converter on a fixture in the official layouts."""
import os.path as osp
import runpy

import cv2
import numpy as np
import pytest
from PIL import Image

from data_prep.converters.jsrt import CLASSES, convert, read_img
from tests.conftest import repo_path, run_python

SIDE, MASK = 2048, 1024
OBJECTS = ('heart', 'left lung', 'right lung', 'left clavicle',
           'right clavicle')


def _raw(i):
    """Stored 12-bit values: left half 0, right half 4095, one mid pixel."""
    raw = np.zeros((SIDE, SIDE), np.uint16)
    raw[:, SIDE // 2:] = 4095
    raw[0, 0] = 1000 + i
    return raw


def _object_masks(i):
    """The five SCR masks (1024 x 1024) of image i; lungs and clavicles
    overlap a little, so their unions are checked."""
    boxes = {'heart': (500, 300, 800, 700), 'left lung': (100, 520, 900, 900),
             'right lung': (100 + i, 120, 900, 530),
             'left clavicle': (60, 560, 120, 900),
             'right clavicle': (60, 100, 110, 470 + i)}
    masks = {}
    for obj, (y1, x1, y2, x2) in boxes.items():
        m = np.zeros((MASK, MASK), bool)
        m[y1:y2, x1:x2] = True
        masks[obj] = m
    return masks


def _save_gif(path, mask):
    # A palette GIF with white = 255, as SCR's masks are.
    Image.fromarray(mask.astype(np.uint8) * 255).save(path)


@pytest.fixture
def jsrt_src(tmp_path):
    """4 images with SCR masks in fold1 / fold2, one without masks, one
    truncated .IMG and one little-endian .IMG."""
    root = tmp_path / 'jsrt'
    images = root / 'All247images'
    images.mkdir(parents=True)
    expected = {}
    stems = ['JPCLN001', 'JPCLN002', 'JPCNN001', 'JPCNN002', 'JPCLN003',
             'JPCLN004']
    for i, stem in enumerate(stems):
        raw = _raw(i)
        if stem == 'JPCLN004':
            raw.astype('<u2').tofile(str(images / f'{stem}.IMG'))
        else:
            raw.astype('>u2').tofile(str(images / f'{stem}.IMG'))
        masks = _object_masks(i)
        fold = root / 'scratch' / f'fold{1 + i % 2}' / 'masks'
        for obj in OBJECTS:
            (fold / obj).mkdir(parents=True, exist_ok=True)
            _save_gif(str(fold / obj / f'{stem}.gif'), masks[obj])
        expected[stem] = {
            'Heart': masks['heart'],
            'Lungs': masks['left lung'] | masks['right lung'],
            'Clavicles': masks['left clavicle'] | masks['right clavicle']}
    # Truncated download.
    with open(images / 'JPCLN003.IMG', 'r+b') as f:
        f.truncate(SIDE * SIDE)
    # An image SCR has no masks for.
    _raw(9).astype('>u2').tofile(str(images / 'JPCNN093.IMG'))
    return root, {k: v for k, v in expected.items()
                  if k not in ('JPCLN003', 'JPCLN004')}


def test_classes_match_the_config():
    cfg = runpy.run_path(repo_path('configs', '_base_', 'datasets',
                                   'jsrt.py'))
    assert cfg['jsrt_classes'] == CLASSES
    assert cfg['jsrt']['name'] == 'JSRT'


def test_images_and_mask_unions(jsrt_src, tmp_path):
    root, expected = jsrt_src
    out = str(tmp_path / 'out')
    summary = convert(str(root), out)
    assert summary['images'] == summary['masked_images'] == 4
    assert summary['skipped'] == {'unreadable image': 2, 'masks missing': 1}
    image = cv2.imread(osp.join(out, 'images', 'JPCLN001.png'),
                       cv2.IMREAD_UNCHANGED)
    assert image.dtype == np.uint8 and image.shape == (SIDE, SIDE)
    # Inverted: stored 0 -> white, 4095 -> black, 1000 in between.
    assert image[5, 5] == 255 and image[5, -5] == 0
    assert image[0, 0] == round((4095 - 1000) / 4095 * 255)
    for stem, masks in expected.items():
        for cls in CLASSES:
            out_mask = cv2.imread(osp.join(out, 'seg', 'masks', cls,
                                           f'{stem}.png'), 0)
            assert out_mask.shape == (SIDE, SIDE)
            # Nearest-neighbour upscaling by 2: four pixels per mask pixel.
            assert int((out_mask == 255).sum()) == 4 * int(masks[cls].sum())
            np.testing.assert_array_equal(out_mask[::2, ::2] == 255,
                                          masks[cls])
    splits = {s: open(osp.join(out, 'splits', f'{s}.txt')).read().split()
              for s in ('train', 'val', 'test')}
    assert sorted(sum(splits.values(), [])) == sorted(
        f'{s}.png' for s in expected)


def test_cli_resized_is_deterministic(jsrt_src, tmp_path):
    root, expected = jsrt_src
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    run_python(['-m', 'data_prep', 'jsrt', '--src', str(root), '--out', a,
                '--resize', '256'])
    convert(str(root), b, resize=256)
    for stem in expected:
        for sub in (f'images/{stem}.png', f'seg/masks/Lungs/{stem}.png'):
            x = cv2.imread(osp.join(a, sub), 0)
            assert x.shape == (256, 256)
            np.testing.assert_array_equal(x, cv2.imread(osp.join(b, sub), 0))
    for s in ('train', 'val', 'test'):
        assert open(osp.join(a, 'splits', f'{s}.txt')).read() == \
            open(osp.join(b, 'splits', f'{s}.txt')).read()


def test_wrong_size_and_byte_order_are_named(jsrt_src, tmp_path):
    root, _ = jsrt_src
    summary = convert(str(root), str(tmp_path / 'out'))
    examples = ' '.join(summary['skipped_examples']['unreadable image'])
    assert 'JPCLN003.IMG: 4194304 bytes' in examples
    assert 'JPCLN004.IMG: values up to' in examples
    with pytest.raises(ValueError, match='8388608 bytes'):
        read_img(str(root / 'All247images' / 'JPCLN003.IMG'))


def test_non_square_mask_is_an_error(jsrt_src, tmp_path):
    root, _ = jsrt_src
    _save_gif(str(root / 'scratch' / 'fold1' / 'masks' / 'heart' /
                  'JPCLN001.gif'), np.zeros((1024, 800), bool))
    with pytest.raises(ValueError, match=r'heart/JPCLN001\.gif is 800x1024'):
        convert(str(root), str(tmp_path / 'out'))
