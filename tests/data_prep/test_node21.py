"""NODE21 converter on a fixture in the official layout (tiny .mha files as
SimpleITK writes them, metadata.csv with pandas' index column); bad input."""
import csv
import os.path as osp
import re
import zlib

import numpy as np
import pytest

from data_prep.converters.node21 import convert
from tests.data_prep.prepared import read_prepared
from tests.conftest import run_python

SPLITS = ('train', 'val', 'test')
H, W = 48, 64


def write_mha(path, pixels: np.ndarray, compressed: bool = False) -> None:
    """A 2-D MetaImage with inline data and SimpleITK's header fields."""
    data = pixels.astype('<i2').tobytes()
    if compressed:
        data = zlib.compress(data)
    header = [
        'ObjectType = Image', 'NDims = 2', 'BinaryData = True',
        'BinaryDataByteOrderMSB = False',
        f'CompressedData = {"True" if compressed else "False"}',
    ]
    if compressed:
        header.append(f'CompressedDataSize = {len(data)}')
    header += ['TransformMatrix = 1 0 0 1', 'Offset = 0 0',
               'CenterOfRotation = 0 0', 'AnatomicalOrientation = RA',
               'ElementSpacing = 0.2 0.2', f'DimSize = {pixels.shape[1]} '
               f'{pixels.shape[0]}', 'ElementType = MET_SHORT',
               'ElementDataFile = LOCAL']
    with open(path, 'wb') as f:
        f.write(('\n'.join(header) + '\n').encode() + data)


# img_name -> boxes (x, y, width, height); [] = a label 0 row.
BOXES = {f'n{k:04d}.mha': [(5 + k, 6, 10, 12)] for k in range(1, 7)}
BOXES['n0007.mha'] = [(1, 2, 8, 8), (40.5, 30.25, 20, 15)]
BOXES['n0008.mha'] = [(0, 0, 64, 48), (10, 10, 5, 5), (30, 20, 6, 7)]
BOXES.update({f'c{k:04d}.mha': [] for k in range(1, 13)})


def _fixture(tmp_path, boxes=BOXES, extra_rows=()):
    root = tmp_path / 'node21' / 'cxr_images' / 'proccessed_data'
    (root / 'images').mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k, name in enumerate(sorted(boxes)):
        write_mha(root / 'images' / name,
                  rng.integers(0, 4000, (H, W)), compressed=k % 2 == 0)
    with open(root / 'metadata.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['', 'img_name', 'x', 'y', 'width', 'height',
                         'label'])
        rows = []
        for name, bs in boxes.items():
            rows += [[name, *b, 1] for b in bs] or [[name, 0, 0, 0, 0, 0]]
        for i, row in enumerate(rows + list(extra_rows)):
            writer.writerow([i] + list(row))
    return tmp_path / 'node21'


def _read(out):
    return read_prepared(out, ['Nodule'], 'Nodule')


def test_labels_boxes_and_splits(tmp_path):
    src = _fixture(tmp_path)
    out = str(tmp_path / 'out')
    summary = convert(str(src), out)
    positives = [n for n, b in BOXES.items() if b]
    assert summary['images'] == len(BOXES) == 20
    assert summary['skipped'] == {}
    assert summary['cls_positives'] == {'Nodule': len(positives)}
    assert summary['boxes'] == {'Nodule': sum(map(len, BOXES.values()))}
    cls, boxes, splits = _read(out)
    for name, bs in BOXES.items():
        assert cls[name] == str(int(bool(bs)))
        assert sorted(boxes[name]) == sorted(tuple(map(float, b))
                                             for b in bs)
    assert sorted(sum(splits.values(), [])) == sorted(BOXES)
    assert [len(splits[s]) for s in SPLITS] == [14, 2, 4]
    # Copied as delivered, readable by fx_mm.
    from fx_mm.datasets.image_io import read_gray
    assert read_gray(osp.join(out, 'images', 'n0001.mha')).shape == (H, W)
    again = str(tmp_path / 'again')
    run_python(['-m', 'data_prep', 'node21', '--src', str(src), '--out',
                again])
    for sub, ext in (('cls', 'csv'), ('loc', 'json'), ('splits', 'txt')):
        for split in SPLITS:
            assert open(osp.join(out, sub, f'{split}.{ext}')).read() == open(
                osp.join(again, sub, f'{split}.{ext}')).read()


def test_missing_and_corrupt_images_are_counted(tmp_path):
    src = _fixture(tmp_path)
    images = src / 'cxr_images' / 'proccessed_data' / 'images'
    (images / 'c0001.mha').unlink()
    (images / 'n0002.mha').write_bytes(b'ObjectType = Image\nNDims = 2\n'
                                       b'DimSize = 64 48\nElementType = '
                                       b'MET_SHORT\nElementDataFile = LOCAL\n'
                                       b'\x00\x01')
    summary = convert(str(src), str(tmp_path / 'out'))
    assert summary['images'] == 18
    assert summary['skipped'] == {'image file missing': 1,
                                  'unreadable image': 1}


def test_bad_labels_name_file_row_and_image(tmp_path):
    src = _fixture(tmp_path / 'a', extra_rows=[['c0001.mha', 3, 3, 5, 5, 1]])
    with pytest.raises(ValueError, match=r"metadata.csv line 25, img_name "
                       r"c0001.mha: label 1 conflicts with label 0"):
        convert(str(src), str(tmp_path / 'o'))
    src = _fixture(tmp_path / 'b', extra_rows=[['c0001.mha', 0, 0, 0, 0, 2]])
    with pytest.raises(ValueError, match=r"line 25, img_name c0001.mha: "
                       r"label '2' is not 0 or 1"):
        convert(str(src), str(tmp_path / 'o'))


def test_box_outside_the_image_is_clipped_or_counted(tmp_path):
    # n0009: one box overlapping the border (clipped), one wholly outside
    # (left out); both counted with the row in meta.json, the run goes on.
    boxes = dict(BOXES, **{'n0009.mha': [(50, 40, 30, 30), (70, 50, 5, 5)]})
    src = _fixture(tmp_path, boxes=boxes)
    out = str(tmp_path / 'o')
    summary = convert(str(src), out)
    assert summary['skipped'] == {'box clipped to the image': 1,
                                  'box outside the image or empty': 1}
    for reason in summary['skipped']:
        example, = summary['skipped_examples'][reason]
        assert re.match(r'.*metadata.csv line \d+: n0009.mha: box', example)
    _, read, _ = _read(out)
    assert read['n0009.mha'] == [(50.0, 40.0, 14.0, 8.0)]


def test_missing_column_is_named(tmp_path):
    src = tmp_path / 'node21'
    src.mkdir()
    (src / 'metadata.csv').write_text('img_name,x,y,w,h,label\na.mha,0,0,0,0'
                                      ',0\n')
    with pytest.raises(ValueError, match=r"metadata.csv has no column\(s\) "
                       r"\['width', 'height'\]"):
        convert(str(src), str(tmp_path / 'out'))


# --------------------------------------------- the download root (both sets)
ORIGINAL_SCALE = 2  # original_data holds the radiographs before resampling


def _full_download(tmp_path, original=True, processed=True):
    """The release as unpacked: ``node21/cxr_images/original_data/`` and
    ``node21/cxr_images/proccessed_data/``, each with ``images/*.mha`` and its
    own ``metadata.csv`` (same ``img_name`` values; boxes in that set's
    pixels). original_data also holds the two name-mapping tables of the
    release (not read by the converter; their columns here are stand-ins).
    """
    root = tmp_path / 'node21'
    cxr = root / 'cxr_images'
    sets = []
    if processed:
        sets.append(('proccessed_data', 1))
    if original:
        sets.append(('original_data', ORIGINAL_SCALE))
    rng = np.random.default_rng(1)
    for folder, scale in sets:
        (cxr / folder / 'images').mkdir(parents=True)
        for name in sorted(BOXES):
            write_mha(cxr / folder / 'images' / name,
                      rng.integers(0, 4000, (H * scale, W * scale)))
        with open(cxr / folder / 'metadata.csv', 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['', 'img_name', 'x', 'y', 'width', 'height',
                             'label'])
            rows = []
            for name, bs in BOXES.items():
                rows += [[name, *(v * scale for v in b), 1] for b in bs] \
                    or [[name, 0, 0, 0, 0, 0]]
            for i, row in enumerate(rows):
                writer.writerow([i] + row)
    if original:
        for table in ('filenames_orig_and_new.csv',
                      'non_nodule_filenames_orig_and_new.csv'):
            (cxr / 'original_data' / table).write_text(
                'orig_name,new_name\nJPCLN001.IMG,n0001.mha\n')
    return root


def _labels(out):
    """cls, loc and split files as text, to compare two conversions."""
    return {(sub, split): open(osp.join(out, sub, f'{split}.{ext}')).read()
            for sub, ext in (('cls', 'csv'), ('loc', 'json'),
                             ('splits', 'txt')) for split in SPLITS}


def test_download_root_takes_the_processed_set(tmp_path):
    # Both sets list the same .mha names; from the root, the processed set
    # is read with its own metadata.csv (boxes in its pixels), also from
    # cxr_images/ and from the set's folder itself.
    root = _full_download(tmp_path)
    outs = []
    for k, src in enumerate((root, root / 'cxr_images',
                             root / 'cxr_images' / 'proccessed_data')):
        out = str(tmp_path / f'out{k}')
        summary = convert(str(src), out)
        assert summary['images'] == len(BOXES)
        assert summary['skipped'] == {}
        _, boxes, _ = _read(out)
        for name, bs in BOXES.items():
            assert sorted(boxes[name]) == sorted(tuple(map(float, b))
                                                 for b in bs)
        from fx_mm.datasets.image_io import read_gray
        assert read_gray(osp.join(out, 'images', 'n0007.mha')).shape == \
            (H, W)
        outs.append(_labels(out))
    assert outs[0] == outs[1] == outs[2]


def test_original_set_on_request_with_its_own_boxes(tmp_path):
    root = _full_download(tmp_path)
    out = str(tmp_path / 'out')
    summary = convert(str(root), out, subset='original')
    assert summary['images'] == len(BOXES)
    assert summary['skipped'] == {}  # no box fell outside the larger images
    _, boxes, _ = _read(out)
    for name, bs in BOXES.items():
        assert sorted(boxes[name]) == sorted(
            tuple(float(v * ORIGINAL_SCALE) for v in b) for b in bs)
    from fx_mm.datasets.image_io import read_gray
    assert read_gray(osp.join(out, 'images', 'n0007.mha')).shape == \
        (H * ORIGINAL_SCALE, W * ORIGINAL_SCALE)
    # --src at the set's folder reads that set, and so does the command
    # line's --options subset=original.
    again = str(tmp_path / 'again')
    convert(str(root / 'cxr_images' / 'original_data'), again)
    assert _labels(again) == _labels(out)
    cli = str(tmp_path / 'cli')
    run_python(['-m', 'data_prep', 'node21', '--src', str(root), '--out',
                cli, '--options', 'subset=original'])
    assert _labels(cli) == _labels(out)
    # ... and a contradicting subset is refused, not silently overridden.
    with pytest.raises(ValueError, match=r"original_data.*subset "
                       r"'processed'"):
        convert(str(root / 'cxr_images' / 'original_data'),
                str(tmp_path / 'o'), subset='processed')
    with pytest.raises(ValueError, match=r"subset 'both' is not one of"):
        convert(str(root), str(tmp_path / 'o'), subset='both')


def test_missing_set_names_the_folders_looked_for(tmp_path):
    root = _full_download(tmp_path, processed=False)
    with pytest.raises(FileNotFoundError, match=r"proccessed_data.*"
                       r"subset='original'"):
        convert(str(root), str(tmp_path / 'out'))
