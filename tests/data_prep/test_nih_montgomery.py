"""NIH Montgomery converter on a fixture in the official NLM layout."""
import os.path as osp
import runpy

import cv2
import numpy as np
import pytest

from data_prep.converters.nih_montgomery import CLASSES, convert
from tests.conftest import repo_path, run_python

H, W = 60, 50  # portrait, like the 4892 x 4020 originals


def _masks(i):
    """Left and right lung masks of image i (they overlap by a column)."""
    left = np.zeros((H, W), np.uint8)
    right = np.zeros((H, W), np.uint8)
    left[10:40 + i, 26:45] = 255
    right[12:44, 5:27 + (i % 2)] = 255
    return left, right


@pytest.fixture
def montgomery_src(tmp_path):
    """10 12-bit PNGs with both masks, one with its right mask missing."""
    root = tmp_path / 'NLM-MontgomeryCXRSet' / 'MontgomerySet'
    for d in ('CXR_png', 'ManualMask/leftMask', 'ManualMask/rightMask',
              'ClinicalReadings'):
        (root / d).mkdir(parents=True)
    areas = {}
    for i in range(1, 12):
        name = f'MCUCXR_{i:04d}_{i % 2}.png'
        image = (np.arange(H * W, dtype=np.uint16).reshape(H, W) * 7) % 4096
        cv2.imwrite(str(root / 'CXR_png' / name), image)
        left, right = _masks(i)
        cv2.imwrite(str(root / 'ManualMask' / 'leftMask' / name), left)
        if i == 11:
            continue  # right mask missing
        cv2.imwrite(str(root / 'ManualMask' / 'rightMask' / name), right)
        areas[name] = int(((left > 0) | (right > 0)).sum())
    return root, areas


def _splits(out):
    return {s: open(osp.join(out, 'splits', f'{s}.txt')).read().split()
            for s in ('train', 'val', 'test')}


def test_classes_match_the_config():
    cfg = runpy.run_path(repo_path('configs', '_base_', 'datasets',
                                   'nih_montgomery.py'))
    assert cfg['nih_montgomery']['seg']['classes'] == CLASSES
    assert cfg['nih_montgomery']['name'] == 'NIH-Montgomery'


def test_lungs_are_the_union_of_both_masks(montgomery_src, tmp_path):
    root, areas = montgomery_src
    out = str(tmp_path / 'out')
    summary = convert(str(root.parent), out)
    assert summary['images'] == summary['masked_images'] == 10
    assert summary['skipped'] == {'mask missing': 1}
    for name, area in areas.items():
        mask = cv2.imread(osp.join(out, 'seg', 'masks', 'Lungs', name),
                          cv2.IMREAD_GRAYSCALE)
        assert mask.shape == (H, W)
        assert set(np.unique(mask)) == {0, 255}
        assert int((mask == 255).sum()) == area
    splits = _splits(out)
    assert [len(splits[s]) for s in ('train', 'val', 'test')] == [7, 1, 2]
    assert sorted(sum(splits.values(), [])) == sorted(areas)
    seg = sum((open(osp.join(out, 'seg', f'{s}.txt')).read().split()
               for s in ('train', 'val', 'test')), [])
    assert sorted(seg) == sorted(areas)


def test_cli_with_resize_scales_masks(montgomery_src, tmp_path):
    root, _ = montgomery_src
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    convert(str(root), a)
    run_python(['-m', 'data_prep', 'nih_montgomery', '--src', str(root),
                '--out', b, '--resize', '30'])
    assert _splits(a) == _splits(b)
    name = _splits(b)['train'][0]
    image = cv2.imread(osp.join(b, 'images', name), cv2.IMREAD_UNCHANGED)
    mask = cv2.imread(osp.join(b, 'seg', 'masks', 'Lungs', name), 0)
    assert image.shape == mask.shape == (30, 25)


def test_mask_of_another_size_is_an_error(montgomery_src, tmp_path):
    root, _ = montgomery_src
    bad = root / 'ManualMask' / 'rightMask' / 'MCUCXR_0003_1.png'
    cv2.imwrite(str(bad), np.zeros((W, H), np.uint8))
    with pytest.raises(ValueError, match=r'mask .*rightMask/MCUCXR_0003_1\.png '
                       r'is 60x50 but its image .*MCUCXR_0003_1\.png is 50x60'):
        convert(str(root), str(tmp_path / 'out'))


def test_unreadable_mask_is_skipped(montgomery_src, tmp_path):
    root, areas = montgomery_src
    (root / 'ManualMask' / 'leftMask' / 'MCUCXR_0002_0.png').write_bytes(
        b'garbage')
    summary = convert(str(root), str(tmp_path / 'out'))
    assert summary['skipped'] == {'mask missing': 1, 'unreadable mask': 1}
    assert summary['images'] == len(areas) - 1
