"""TBX11K converter: a copy of the real excerpt (JSON and 512 px PNGs), a
fixture with the official val JSON, and bad input."""
import json
import os.path as osp
import re
import shutil
from xml.etree import ElementTree

import cv2
import numpy as np
import pytest

from data_prep.__main__ import main as data_prep_main
from data_prep.converters.tbx11k import convert
from tests.data_prep.prepared import (build_from_table, read_boxes,
                                     read_prepared, read_splits)
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


def test_tb_only_download_writes_loc_only(tmp_path):
    """No TB-negative image: no cls task (a head would have no negatives);
    a TB image without boxes then has no labels at all."""
    tb_train = [e for e in TRAIN if e[0].startswith('tb/')]
    tb_val = [e for e in VAL if e[0].startswith('tb/')]
    src = _fixture(tmp_path, tb_train, tb_val)
    out = str(tmp_path / 'out')
    summary = convert(str(src), out)
    assert summary['classes'] == {'loc': ['TB']}
    assert 'no TB-negative image' in summary['cls_omitted']
    assert 'cls_positives' not in summary
    assert not osp.exists(osp.join(out, 'cls', 'train.csv'))
    assert summary['skipped'] == {'TB image without boxes (no labels)': 1}
    assert summary['images'] == 3 and summary['boxes'] == {'TB': 4}
    splits = read_splits(out)
    assert 'tb1199.png' not in sum(splits.values(), [])
    assert splits['test'] == ['tb0900.png']
    assert summary['split_policy'].startswith('official val = test')
    # Negatives listed but absent from --src (a partial download) leave the
    # images TB-only just the same.
    src = _fixture(tmp_path / 'b', TRAIN, VAL)
    for folder in ('health', 'sick'):
        shutil.rmtree(src / 'imgs' / folder)
    summary = convert(str(src), str(tmp_path / 'out2'), allow_partial=True)
    assert summary['classes'] == {'loc': ['TB']}
    assert summary['skipped']['image file missing'] == 22


def test_boxes_follow_the_files_pixel_grid(tmp_path):
    """A JSON listing 512 px images beside 256 px files: boxes are scaled to
    the files, and the images counted."""
    src = _fixture(tmp_path, TRAIN, VAL)
    for path in (src / 'imgs' / 'tb').iterdir():
        cv2.imwrite(str(path), np.full((256, 256), 90, np.uint8))
    summary = convert(str(src), str(tmp_path / 'out'))
    assert summary['boxes_rescaled']['images'] == 3  # tb0001, tb0002, tb0900
    assert 'tb/tb0001.png listed at (512, 512), file (256, 256)' in summary[
        'boxes_rescaled']['examples'][0]
    _, boxes, _ = _read(str(tmp_path / 'out'))
    assert np.allclose(boxes['tb0001.png'], [(5.25, 10.125, 15, 20)],
                       atol=0.01)
    assert boxes['tb0900.png'] == [(200, 200, 50, 50)]
    # Where JSON and files agree nothing is scaled.
    summary = convert(str(_fixture(tmp_path / 'b', TRAIN, VAL)),
                      str(tmp_path / 'out2'))
    assert summary['boxes_rescaled'] == dict(images=0, examples=[])


def _xml_boxes(path):
    """(width, height), [(x1, y1, x2, y2)] of a Pascal VOC file."""
    root = ElementTree.parse(path).getroot()
    size = (int(root.find('size/width').text),
            int(root.find('size/height').text))
    boxes = [tuple(float(o.find(f'bndbox/{k}').text)
                   for k in ('xmin', 'ymin', 'xmax', 'ymax'))
             for o in root.iter('object')]
    return size, boxes


def test_real_tb_subset_for_localization(tmp_path, capsys):
    """../shared/data/tbx11k_tb_subset: 800 TB images at 256 px (official
    train 600 / 902 boxes, val 200 / 309); loc only; every box in the
    256 px grid, where the XML's box at the scan's size lands."""
    src = shared_data('tbx11k_tb_subset')
    out = str(tmp_path / 'tbx11k_tb')
    assert data_prep_main(['tbx11k', '--src', src, '--out', out]) == 0
    assert '"cls_omitted"' in capsys.readouterr().out
    summary = json.load(open(osp.join(out, 'meta.json')))
    assert summary['classes'] == {'loc': ['TB']}
    # One official-train image has no box: no labels, counted.
    assert summary['skipped'] == {'TB image without boxes (no labels)': 1}
    assert summary['images'] == 799
    assert summary['boxes'] == {'TB': 902 + 309}
    assert summary['splits']['test'] == 200
    assert summary['splits']['train'] + summary['splits']['val'] == 599
    assert 60 <= summary['splits']['val'] <= 90  # 1/8 of official train
    assert summary['boxes_rescaled']['images'] == 0
    boxes, splits = read_boxes(out, ['TB']), read_splits(out)
    for name, image_boxes in boxes.items():
        image = cv2.imread(osp.join(out, 'images', name), cv2.IMREAD_UNCHANGED)
        assert image.shape[:2] == (256, 256)
        (w, h), xml = _xml_boxes(osp.join(src, 'annotations', 'xml',
                                          name.replace('.png', '.xml')))
        want = sorted((x1 * 256 / w, y1 * 256 / h, (x2 - x1) * 256 / w,
                       (y2 - y1) * 256 / h) for x1, y1, x2, y2 in xml)
        got = sorted(image_boxes)
        assert len(got) == len(want), name
        for g, e in zip(got, want):
            assert np.allclose(g, e, atol=0.6), (name, g, e)
            assert g[0] >= 0 and g[1] >= 0 and g[0] + g[2] <= 256 \
                and g[1] + g[3] <= 256
    official_val = {osp.basename(line.strip()) for line in open(osp.join(
        src, 'lists', 'TBX11K_val.txt'))}
    assert set(splits['test']) == official_val
    # The loc-only table entry reads it with fx_mm's detection dataset.
    ds = build_from_table('tbx11k_tb_subset.py', 'tbx11k_tb_subset', out,
                          'loc', 'train')
    assert len(ds) == summary['splits']['train']
    sample = ds[0]
    assert tuple(sample['inputs'].shape[-2:]) == (128, 128)
    assert len(sample['data_samples'].gt_instances.bboxes) >= 1
