"""NIH Shenzhen converter on a fixture in the official NLM layout."""
import runpy

import cv2
import numpy as np
import pytest

from data_prep.converters.nih_shenzhen import BAD_NAME, CLASSES, convert
from tests.data_prep.prepared import read_cls, read_splits
from tests.conftest import repo_path, run_python


@pytest.fixture
def shenzhen_src(tmp_path):
    """20 good PNGs, one corrupt PNG, one badly named PNG, clinical readings."""
    root = tmp_path / 'download' / 'ChinaSet_AllFiles'
    images, readings = root / 'CXR_png', root / 'ClinicalReadings'
    images.mkdir(parents=True)
    readings.mkdir()
    labels = {}
    for i in range(1, 21):
        label = int(i % 3 == 0)
        name = f'CHNCXR_{i:04d}_{label}.png'
        cv2.imwrite(str(images / name), np.full((48, 40), 10 * i, np.uint8))
        (readings / name.replace('.png', '.txt')).write_text(
            'male 45yrs\n' + ('PTB in the right upper field\n' if label
                              else 'normal\n'))
        labels[name] = label
    (images / 'CHNCXR_0021_1.png').write_bytes(b'\x89PNG\r\n\x1a\n truncated')
    cv2.imwrite(str(images / 'CHNCXR_0022_2.png'), np.zeros((8, 8), np.uint8))
    (images / 'Thumbs.db').write_bytes(b'\0' * 16)
    return root, labels


def _read(out):
    return read_cls(out), read_splits(out)


def test_classes_match_the_config():
    cfg = runpy.run_path(repo_path('configs', '_base_', 'datasets',
                                   'nih_shenzhen.py'))
    assert cfg['nih_shenzhen_classes'] == CLASSES
    assert cfg['nih_shenzhen']['name'] == 'NIH-Shenzhen'


def test_labels_from_names_and_split(shenzhen_src, tmp_path):
    root, labels = shenzhen_src
    out = str(tmp_path / 'out')
    summary = convert(str(root.parent), out)
    assert summary['images'] == 20
    assert summary['skipped'] == {'unreadable image': 1, BAD_NAME: 1}
    assert summary['cls_positives'] == {'Tuberculosis': sum(labels.values())}
    table, splits = _read(out)
    assert {n: int(r['Tuberculosis']) for n, r in table.items()} == labels
    assert [len(splits[s]) for s in ('train', 'val', 'test')] == [14, 2, 4]
    assert sorted(sum(splits.values(), [])) == sorted(labels)


def test_cli_on_cxr_png_gives_the_same_output(shenzhen_src, tmp_path):
    root, _ = shenzhen_src
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    convert(str(root), a)
    run_python(['-m', 'data_prep', 'nih_shenzhen', '--src',
                str(root / 'CXR_png'), '--out', b])
    assert _read(a) == _read(b)
    convert(str(root), b, seed=1)
    assert _read(a)[0] == _read(b)[0] and _read(a)[1] != _read(b)[1]


def test_no_image_folder_is_an_error(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='NIH-Shenzhen: no CXR_png/'):
        convert(str(tmp_path / 'empty'), str(tmp_path / 'out'))
