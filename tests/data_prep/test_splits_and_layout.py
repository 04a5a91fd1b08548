"""Grouped splits, the prepared layout and the covid_lungs converter."""
import csv
import json
import os.path as osp

import numpy as np
import pytest

from data_prep.layout import PreparedWriter, check_out_dir
from data_prep.splits import grouped_split
from tests.conftest import BUNDLED_COVID


def test_grouped_split_is_deterministic_proportional_and_keeps_patients():
    rng = np.random.default_rng(1)
    groups = {f'img{i}': f'patient{rng.integers(0, 300)}' for i in range(1000)}
    a = grouped_split(groups, seed=3)
    b = grouped_split(dict(reversed(list(groups.items()))), seed=3)
    assert a == b, 'the split depends on input order'
    assert grouped_split(groups, seed=4) != a
    sizes = {k: len(v) for k, v in a.items()}
    assert sum(sizes.values()) == 1000
    assert abs(sizes['train'] - 700) < 25 and abs(sizes['val'] - 100) < 25
    patients = {k: {groups[i] for i in v} for k, v in a.items()}
    assert not patients['train'] & patients['val']
    assert not patients['train'] & patients['test']
    assert not patients['val'] & patients['test']


def test_converter_never_writes_into_its_source(tmp_path):
    with pytest.raises(ValueError, match='never writes into its source'):
        check_out_dir(str(tmp_path), str(tmp_path / 'out'))


def test_writer_refuses_a_foreign_folder(tmp_path):
    (tmp_path / 'mine.txt').write_text('keep me')
    with pytest.raises(ValueError, match='not written by data_prep'):
        PreparedWriter(str(tmp_path), 'X', dict(cls=['a']))
    assert (tmp_path / 'mine.txt').read_text() == 'keep me'


def test_writer_refuses_bad_labels(tmp_path):
    img = tmp_path / 'src.png'
    import cv2
    cv2.imwrite(str(img), np.zeros((10, 20), np.uint8))
    w = PreparedWriter(str(tmp_path / 'out'), 'X',
                       dict(cls=['a'], loc=['lesion']))
    name = w.add_image(str(img))
    with pytest.raises(ValueError, match="class 'tumour' is not one of"):
        w.add_box(name, 'tumour', 1, 1, 5, 5)
    assert w.add_box(name, 'lesion', 1, 1, 25, 5, where='row 7')
    assert w.boxes[name] == [(0, 1.0, 1.0, 20.0, 5.0)]
    assert not w.add_box(name, 'lesion', 21, 1, 25, 5)
    assert not w.add_box(name, 'lesion', 3, 3, 3, 5)
    assert w.skipped == {'box clipped to the image': 1,
                         'box outside the image or empty': 2}
    assert w.skipped_examples['box clipped to the image'] == [
        "row 7: src.png: box (1.0, 1.0, 25.0, 5.0) of class 'lesion', "
        'image 20x10']
    with pytest.raises(ValueError, match="label 2 is not 1, 0, -1"):
        w.add_cls(name, [2])


def test_covid_lungs_conversion_matches_its_source(covid_lungs):
    with open(osp.join(BUNDLED_COVID, 'labels.csv')) as f:
        rows = list(csv.DictReader(f))
    with open(osp.join(BUNDLED_COVID, 'lung_boxes_coco.json')) as f:
        coco = json.load(f)
    meta = json.load(open(osp.join(covid_lungs, 'meta.json')))
    assert meta['images'] == len(rows)
    assert meta['cls_positives']['COVID-19'] == sum(
        r['covid'] == '1' for r in rows)
    names = {c['id']: c['name'] for c in coco['categories']}
    for cls in ('Right Lung', 'Left Lung'):
        assert meta['boxes'][cls] == sum(
            names[a['category_id']] == cls for a in coco['annotations'])
    assert meta['masked_images'] == sum(r['has_lung_mask'] == '1'
                                        for r in rows)
    split_sizes = meta['splits']
    assert sum(split_sizes.values()) == len(rows)
    # One source URL (a case report) never straddles two splits.
    url = {r['file_name']: r['source_url'] for r in rows}
    seen = {}
    for split in ('train', 'val', 'test'):
        for name in open(osp.join(covid_lungs, 'splits', f'{split}.txt')):
            u = url[name.strip()]
            assert seen.setdefault(u, split) == split, u


def test_progress_bar_only_for_long_runs(capfd):
    from data_prep.progress import MIN_ITEMS_FOR_BAR, progress
    assert list(progress(iter(range(5)), 5)) == list(range(5))
    assert capfd.readouterr().out == ''
    n = MIN_ITEMS_FOR_BAR + 50
    assert list(progress(iter(range(n)), n, 'images')) == list(range(n))
    out = capfd.readouterr().out
    assert f'converting {n} images' in out and f'{n}/{n}' in out


def test_unreadable_image_leaves_no_copy(tmp_path):
    """Without --resize the writer copies delivered files: a corrupt one is
    skipped and never lands in out/images/ (a truncated JPEG included)."""
    import cv2
    import numpy as np

    from data_prep.layout import PreparedWriter
    src = tmp_path / 'src'
    src.mkdir()
    good = src / 'good.jpg'
    cv2.imwrite(str(good), np.full((8, 8), 128, np.uint8))
    (src / 'cut.jpg').write_bytes(good.read_bytes()[:-40])
    (src / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\nbroken')
    out = tmp_path / 'out'
    writer = PreparedWriter(str(out), name='test', classes={})
    names = [writer.add_image_or_skip(str(src / n))
             for n in ('good.jpg', 'cut.jpg', 'broken.png')]
    assert names == ['good.jpg', None, None]
    writer.flush()  # images are written by the writer's threads
    assert sorted(p.name for p in (out / 'images').iterdir()) == ['good.jpg']
    assert writer.skipped == {'unreadable image': 2}


def test_images_are_written_by_threads_and_all_on_disk_after_write(
        tmp_path, monkeypatch):
    """Encoding runs beside the next decode; write() waits for every image
    and a failed write is an error, not a silent hole in out/images/."""
    import cv2
    import threading

    import data_prep.layout as layout
    src = tmp_path / 'src'
    src.mkdir()
    for i in range(10):
        cv2.imwrite(str(src / f'{i}.png'), np.full((30, 40), i, np.uint8))
    writers = set()
    real = layout._write_png

    def recording(path, gray):
        writers.add(threading.current_thread().name)
        real(path, gray)

    monkeypatch.setattr(layout, '_write_png', recording)
    w = PreparedWriter(str(tmp_path / 'out'), 'X', dict(cls=['a']), resize=20)
    for i in range(10):
        w.add_cls(w.add_image(str(src / f'{i}.png')), [i % 2])
    w.write(dict(train=[f'{i}.png' for i in range(8)], val=['8.png'],
                 test=['9.png']))
    assert all(n.startswith('data_prep_write') for n in writers)
    for i in range(10):
        image = cv2.imread(str(tmp_path / 'out' / 'images' / f'{i}.png'),
                           cv2.IMREAD_GRAYSCALE)
        assert image.shape == (15, 20) and (image == i).all()

    def failing(path, gray):
        raise OSError(f'could not write {path}')

    monkeypatch.setattr(layout, '_write_png', failing)
    w = PreparedWriter(str(tmp_path / 'out2'), 'X', dict(cls=['a']),
                       resize=20)
    w.add_cls(w.add_image(str(src / '0.png')), [1])
    with pytest.raises(OSError, match='could not write'):
        w.write(dict(train=['0.png']))


def test_each_image_is_decoded_once_and_write_is_linear(tmp_path,
                                                        monkeypatch):
    """Real downloads are 100k+ images: one decode per image with or
    without --resize, and write() walks the masked names once, not once per
    image (a set rebuilt per name made it quadratic)."""
    import cv2

    import data_prep.layout as layout
    src = tmp_path / 'src'
    src.mkdir()
    for i in range(6):
        cv2.imwrite(str(src / f'{i}.png'), np.full((12, 16), 9, np.uint8))
    decodes = []
    real = layout.read_gray
    monkeypatch.setattr(layout, 'read_gray',
                        lambda p: decodes.append(p) or real(p))

    class CountingList(list):
        iterations = 0

        def __iter__(self):
            CountingList.iterations += 1
            return super().__iter__()

    for resize in (None, 8):
        decodes.clear()
        CountingList.iterations = 0
        w = PreparedWriter(str(tmp_path / f'out{resize}'), 'X',
                           dict(seg=['a']), resize=resize)
        w.masked = CountingList()
        for i in range(6):
            name = w.add_image(str(src / f'{i}.png'))
            w.add_masks(name, np.ones((1, 12, 16), bool))
        assert len(decodes) == 6, resize
        w.write(dict(train=[f'{i}.png' for i in range(4)], val=['4.png'],
                     test=['5.png']))
        assert CountingList.iterations <= 1
