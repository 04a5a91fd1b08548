"""TBX11K converter: a copy of the real excerpt (JSON and 512 px PNGs), a
fixture with the official val JSON, and bad input."""
import json
import os.path as osp
import re
import shutil

import cv2
import numpy as np
import pytest

from data_prep.converters.tbx11k import convert
from tests.data_prep.prepared import read_prepared
from tests.conftest import run_python, shared_data

SPLITS = ('train', 'val', 'test')
CATEGORIES = [
    dict(id=1, name='ActiveTuberculosis', supercategory='Tuberculosis'),
    dict(id=2, name='ObsoletePulmonaryTuberculosis',
         supercategory='Tuberculosis'),
    dict(id=3, name='PulmonaryTuberculosis', supercategory='Tuberculosis')]


def _read(out):
    return read_prepared(out, ['TB'], 'Tuberculosis')


@pytest.fixture
def real_copy(tmp_path):
    """The real excerpt, copied: a converter never runs inside it."""
    real = shared_data('official_formats', 'tbx11k')
    src = tmp_path / 'TBX11K'
    shutil.copytree(real, src)
    with open(osp.join(real, 'annotations', 'json', 'TBX11K_train.json')) as f:
        coco = json.load(f)
    return src, coco


def test_real_excerpt_boxes_and_folder_labels(real_copy, tmp_path):
    src, coco = real_copy
    out = str(tmp_path / 'out')
    summary = convert(str(src), out)
    files = {im['id']: im['file_name'] for im in coco['images']}
    assert summary['images'] == len(files) == 3
    assert summary['skipped'] == {}
    assert summary['cls_positives'] == {'Tuberculosis': sum(
        f.startswith('tb/') for f in files.values())} == {'Tuberculosis': 2}
    assert summary['boxes'] == {'TB': len(coco['annotations'])} == {'TB': 3}
    cls, boxes, splits = _read(out)
    for image_id, rel in files.items():
        name = osp.basename(rel)
        assert cls[name] == ('1' if rel.startswith('tb/') else '0')
        want = sorted(tuple(round(v, 2) for v in a['bbox'])
                      for a in coco['annotations']
                      if a['image_id'] == image_id)
        assert sorted(boxes[name]) == want
        # Copied as delivered (512 px PNG).
        assert open(osp.join(out, 'images', name), 'rb').read() == open(
            osp.join(src, 'imgs', rel), 'rb').read()
    assert boxes['h0001.png'] == []
    # Only the official train JSON: everything lands in train / val.
    assert splits['test'] == []
    assert sorted(splits['train'] + splits['val']) == sorted(
        osp.basename(f) for f in files.values())
    # The source is left as it was.
    assert sorted(p.name for p in (src / 'imgs' / 'tb').iterdir()) == [
        'tb0005.png', 'tb0007.png']


def _coco(entries):
    """entries: [(file_name, [(category_id, [x, y, w, h])])]."""
    images, annotations = [], []
    for k, (file_name, anns) in enumerate(entries, start=1):
        images.append(dict(id=k, file_name=file_name, width=512, height=512))
        for cat, bbox in anns:
            annotations.append(dict(id=len(annotations) + 1, image_id=k,
                                    category_id=cat, bbox=bbox, iscrowd=0,
                                    area=bbox[2] * bbox[3]))
    return dict(images=images, annotations=annotations, categories=CATEGORIES)


def _fixture(tmp_path, train, val):
    src = tmp_path / 'TBX11K'
    (src / 'annotations' / 'json').mkdir(parents=True)
    (src / 'lists').mkdir()
    # 3-channel, as shipped.
    pixels = np.dstack([np.full((512, 512), 90, np.uint8)] * 3)
    for part, entries in (('train', train), ('val', val)):
        with open(src / 'annotations' / 'json' / f'TBX11K_{part}.json',
                  'w') as f:
            json.dump(_coco(entries), f)
        (src / 'lists' / f'TBX11K_{part}.txt').write_text(
            ''.join(e[0] + '\n' for e in entries))
        for file_name, _ in entries:
            (src / 'imgs' / osp.dirname(file_name)).mkdir(parents=True,
                                                         exist_ok=True)
            cv2.imwrite(str(src / 'imgs' / file_name), pixels)
    (src / 'imgs' / 'test').mkdir()
    cv2.imwrite(str(src / 'imgs' / 'test' / 'test0001.png'), pixels)
    return src


TRAIN = ([(f'health/h{k:04d}.png', []) for k in range(1, 13)]
         + [(f'sick/s{k:04d}.png', []) for k in range(1, 9)]
         + [('tb/tb0001.png', [(1, [10.5, 20.25, 30, 40])]),
            ('tb/tb0002.png', [(2, [100, 100, 50, 60]),
                               (3, [300, 200, 40, 40])]),
            ('tb/tb1199.png', [])])
VAL = [('health/h0900.png', []), ('sick/s0900.png', []),
       ('tb/tb0900.png', [(1, [400, 400, 100, 100])])]


def test_official_val_is_the_test_split(tmp_path):
    src = _fixture(tmp_path, TRAIN, VAL)
    out = str(tmp_path / 'out')
    summary = convert(str(src), out)
    assert summary['images'] == len(TRAIN) + len(VAL) == 26
    assert summary['cls_positives'] == {'Tuberculosis': 4}
    assert summary['boxes'] == {'TB': 4}
    # tb1199 (TB folder, no box) keeps its cls label but gets no loc labels.
    assert summary['skipped'] == {'TB image without boxes (no loc labels)': 1}
    cls, boxes, splits = _read(out)
    assert cls['tb1199.png'] == '1' and 'tb1199.png' not in boxes
    assert boxes['tb0001.png'] == [(10.5, 20.25, 30, 40)]
    assert splits['test'] == ['h0900.png', 's0900.png', 'tb0900.png']
    train_names = {osp.basename(e[0]) for e in TRAIN}
    assert set(splits['train'] + splits['val']) == train_names
    assert len(splits['val']) == 2  # 23 - the first >= 7/8 * 23 (21)
    assert 'test0001.png' not in cls  # no public labels
    again = str(tmp_path / 'again')
    run_python(['-m', 'data_prep', 'tbx11k', '--src', str(src), '--out',
                again])
    for sub, ext in (('cls', 'csv'), ('loc', 'json'), ('splits', 'txt')):
        for split in SPLITS:
            assert open(osp.join(out, sub, f'{split}.{ext}')).read() == open(
                osp.join(again, sub, f'{split}.{ext}')).read()


def test_unknown_category_and_box_on_healthy_image(tmp_path):
    src = _fixture(tmp_path, TRAIN, VAL)
    path = src / 'annotations' / 'json' / 'TBX11K_val.json'
    coco = json.load(open(path))
    coco['categories'][0]['name'] = 'Pneumonia'
    json.dump(coco, open(path, 'w'))
    with pytest.raises(ValueError, match=r"TBX11K_val.json: category "
                       r"'Pneumonia' is not one of"):
        convert(str(src), str(tmp_path / 'out'))
    src = _fixture(tmp_path / 'b', TRAIN + [
        ('health/h0100.png', [(1, [1, 1, 5, 5])])], VAL)
    with pytest.raises(ValueError, match=r"TBX11K_train.json: "
                       r"health/h0100.png is in health/ \(no TB\) but has 1"):
        convert(str(src), str(tmp_path / 'out2'))


def test_box_outside_image_and_corrupt_png(tmp_path):
    src = _fixture(tmp_path, TRAIN, VAL)
    (src / 'imgs' / 'sick' / 's0001.png').write_bytes(b'\x89PNG\r\n\x1a\nxx')
    summary = convert(str(src), str(tmp_path / 'out'))
    assert summary['skipped']['unreadable image'] == 1
    assert summary['images'] == 25
    src = _fixture(tmp_path / 'b', TRAIN[:-1] + [
        ('tb/tb0003.png', [(1, [480, 10, 60, 20])])], VAL)
    summary = convert(str(src), str(tmp_path / 'out2'))
    assert summary['skipped'] == {'box clipped to the image': 1}
    assert re.match(r'.*TBX11K_train.json, annotation 4: tb0003.png: box '
                    r'\(480.0, 10.0, 540.0, 30.0\)', summary[
                        'skipped_examples']['box clipped to the image'][0])
