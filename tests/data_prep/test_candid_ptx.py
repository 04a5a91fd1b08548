"""CANDID-PTX converter on a fixture in the official layout (reports CSV with
SIIM-style RLE, DICOMs named by SOPInstanceUID, the two ignored CSVs)."""
import csv
import os.path as osp

import cv2
import numpy as np
import pytest

from data_prep.converters.candid_ptx import convert
from tests.data_prep.prepared import read_prepared
from tests.conftest import run_python
from tests.data_prep.dicom_fixtures import write_dicom

SPLITS = ('train', 'val', 'test')
H, W = 48, 64  # not square, so a row-major decode would be caught


def rect(y0, y1, x0, x1):
    """Pixels (y, x) of rows y0..y1-1, columns x0..x1-1."""
    return {(y, x) for y in range(y0, y1) for x in range(x0, x1)}


def encode(pixels):
    """Relative column-major RLE written here, without data_prep.rle: the
    flat index of (y, x) is x * H + y, each start counts from the previous
    run's end."""
    flat = sorted(x * H + y for y, x in pixels)
    runs = []
    for i in flat:
        if runs and runs[-1][0] + runs[-1][1] == i:
            runs[-1][1] += 1
        else:
            runs.append([i, 1])
    out, end = [], 0
    for start, length in runs:
        out += [start - end, length]
        end = start + length
    return ' '.join(map(str, out))


# uid -> list of regions (one CSV row each); [] = a "-1" row.
REGIONS = {
    '1.2.826.1': [rect(5, 10, 10, 13)],
    '1.2.826.2': [rect(0, 10, 0, 5), rect(5, 15, 3, 9), rect(30, 36, 40, 51)],
    '1.2.826.3': [rect(20, 22, 60, 64)],
}
REGIONS.update({f'1.2.826.{k}': [] for k in range(4, 13)})
PATIENT = {uid: f'P{(k // 2) + 1}' for k, uid in enumerate(REGIONS)}


def _fixture(tmp_path, extra_rows=()):
    src = tmp_path / 'candid'
    (src / 'dataset').mkdir(parents=True)
    rows = []
    for uid, regions in REGIONS.items():
        for r in regions or [None]:
            rows.append([uid if uid != '1.2.826.3' else uid + '.dcm',
                         encode(r) if r else '-1',
                         f'CHEST:\nFindings, uid {uid}.', 'x', 'y',
                         f'{PATIENT[uid]}_{uid}.dcm'])
    rows.append(['1.2.826.13', '', 'No image annotation.', 'x', 'y',
                 'P9_13.dcm'])
    rows.append(['1.2.826.14', '-1', 'Image not in --src.', 'x', 'y',
                 'P9_14.dcm'])
    with open(src / 'Pneumothorax_reports.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['SOPInstanceUID', 'EncodedPixels', 'Report',
                         'StudyInstanceUID', 'SeriesInstanceUID', 'filename'])
        writer.writerows(rows + list(extra_rows))
    for name in ('chest_tube.csv', 'acute_rib_fracture.csv'):
        (src / name).write_text('anon_SOPUID,annotation_ref,mask_rle\n'
                                '1.2.826.4,1,0 40\n1.2.826.5,2,3 10\n')
    pixels = np.tile(np.arange(W, dtype=np.uint8) * 3, (H, 1))
    for uid in REGIONS:
        # One file without the .dcm suffix, as the UID alone.
        name = uid if uid == '1.2.826.3' else uid + '.dcm'
        write_dicom(src / 'dataset' / name, pixels)
    write_dicom(src / 'dataset' / '1.2.826.13.dcm', pixels)
    return src


def _read(out):
    return read_prepared(out, ['Pneumothorax'], 'Pneumothorax')


def test_labels_masks_boxes_and_patient_split(tmp_path):
    src = _fixture(tmp_path)
    out = str(tmp_path / 'out')
    summary = convert(str(src), out)
    assert summary['images'] == len(REGIONS) == 12
    assert summary['skipped'] == {'blank EncodedPixels': 1,
                                  'image file missing': 1}
    assert summary['cls_positives'] == {'Pneumothorax': 3}
    # 1: one box; 2: the overlapping rows merge into one component, plus a
    # separate one; 3: one box.
    assert summary['boxes'] == {'Pneumothorax': 4}
    cls, boxes, splits = _read(out)
    name_of = {uid: uid + ('.png' if uid == '1.2.826.3' else '.dcm')
               for uid in REGIONS}
    for uid, regions in REGIONS.items():
        name = name_of[uid]
        assert cls[name] == str(int(bool(regions)))
        mask = cv2.imread(osp.join(out, 'seg', 'masks', 'Pneumothorax',
                                   uid + '.png'), cv2.IMREAD_GRAYSCALE)
        expected = np.zeros((H, W), np.uint8)
        for y, x in set().union(*regions) if regions else ():
            expected[y, x] = 255
        np.testing.assert_array_equal(mask, expected)
    assert sorted(boxes[name_of['1.2.826.2']]) == [(0.0, 0.0, 9.0, 15.0),
                                                  (40.0, 30.0, 11.0, 6.0)]
    assert boxes[name_of['1.2.826.3']] == [(60.0, 20.0, 4.0, 2.0)]
    assert boxes[name_of['1.2.826.4']] == []  # chest_tube.csv is not read
    # The suffix-less DICOM was decoded to PNG; the others copied.
    assert osp.isfile(osp.join(out, 'images', '1.2.826.3.png'))
    seen = {}
    for split, names in splits.items():
        for name in names:
            uid = name[:-4]
            assert seen.setdefault(PATIENT[uid], split) == split
    again = str(tmp_path / 'again')
    run_python(['-m', 'data_prep', 'candid_ptx', '--src', str(src), '--out',
                again])
    for sub, ext in (('cls', 'csv'), ('loc', 'json'), ('splits', 'txt'),
                     ('seg', 'txt')):
        for split in SPLITS:
            assert open(osp.join(out, sub, f'{split}.{ext}')).read() == open(
                osp.join(again, sub, f'{split}.{ext}')).read()


def test_rle_longer_than_the_image_is_an_error(tmp_path):
    src = _fixture(tmp_path, extra_rows=[
        ['1.2.826.1', f'{H * W - 2} 5', '', '', '', 'P1_1.dcm']])
    with pytest.raises(ValueError, match=r"CANDID-PTX: .*Pneumothorax_reports"
                       r".csv, SOPInstanceUID 1.2.826.1: EncodedPixels: .*"
                       r"48x64"):
        convert(str(src), str(tmp_path / 'out'))


def test_corrupt_dicom_is_counted_as_skipped(tmp_path):
    src = _fixture(tmp_path)
    (src / 'dataset' / '1.2.826.6.dcm').write_bytes(b'not a DICOM file ' * 20)
    summary = convert(str(src), str(tmp_path / 'out'))
    assert summary['images'] == 11
    assert summary['skipped']['unreadable image'] == 1


def test_missing_column_is_named(tmp_path):
    src = tmp_path / 'candid'
    src.mkdir()
    (src / 'Pneumothorax_reports.csv').write_text('SOPInstanceUID,Report\n'
                                                  'a,x\n')
    with pytest.raises(ValueError, match=r"Pneumothorax_reports.csv has no "
                       r"column\(s\) \['EncodedPixels'\]"):
        convert(str(src), str(tmp_path / 'out'))
