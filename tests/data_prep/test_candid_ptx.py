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


def test_stray_system_files_are_not_images_and_rle_is_relative(tmp_path):
    """A download that passed through macOS and Windows: ``.DS_Store`` in
    two folders, an ``__MACOSX/`` tree of AppleDouble ``._`` files, and
    ``Thumbs.db`` / ``desktop.ini`` in two folders each (the last two, not
    being dot files, stopped the run as "two image files"), none of them
    images. And one hand-written RLE row, whose pixels are worked out here
    as relative, column-major starts."""
    apex_uid = '1.2.826.15'
    after = H + 2  # the end of the second run below
    rle = f'0 3 {H - 3} 2 {H * (W - 1) - after} {H}'
    src = _fixture(tmp_path, extra_rows=[
        [apex_uid, rle, 'Small right apical pneumothorax.', 'x', 'y',
         'P10_15.dcm']])
    pixels = np.tile(np.arange(W, dtype=np.uint8) * 3, (H, 1))
    write_dicom(src / 'dataset' / f'{apex_uid}.dcm', pixels)
    for folder in (src, src / 'dataset'):
        (folder / '.DS_Store').write_bytes(b'\x00\x00\x00\x01Bud1' * 8)
    (src / '__MACOSX' / 'dataset').mkdir(parents=True)
    for name in ('._1.2.826.1.dcm', '._1.2.826.3'):
        (src / '__MACOSX' / 'dataset' / name).write_bytes(
            b'\x00\x05\x16\x07' * 16)
    for folder in (src, src / 'dataset'):
        (folder / 'Thumbs.db').write_bytes(b'\xd0\xcf\x11\xe0' * 8)
        (folder / 'desktop.ini').write_text(
            '[.ShellClassInfo]\r\nIconResource=C:\\x.dll,0\r\n')
    out = str(tmp_path / 'out')
    summary = convert(str(src), out)
    assert summary['images'] == len(REGIONS) + 1
    assert summary['skipped'] == {'blank EncodedPixels': 1,
                                  'image file missing': 1}
    mask = cv2.imread(osp.join(out, 'seg', 'masks', 'Pneumothorax',
                               apex_uid + '.png'), cv2.IMREAD_GRAYSCALE)
    # Relative, column-major: "0 3" is rows 0-2 of column 0; "H-3 2" starts
    # H-3 pixels after that run, at the top of column 1; the last run starts
    # at the top of the last column and fills it. So the mask lies at the
    # top of the image's left edge (the right lung's apex) and along the
    # right edge -- not along the top row, as a row-major decode would put
    # it.
    expected = np.zeros((H, W), np.uint8)
    expected[0:3, 0] = expected[0:2, 1] = expected[:, W - 1] = 255
    np.testing.assert_array_equal(mask, expected)


def test_image_listed_under_two_patients_joins_their_groups(tmp_path):
    """Rows may list one image under two patients (``filename`` P<n>_...);
    every patient it names is one group with all their images, chained
    (P1 - P2 through one image, P2 - P3 through another)."""
    src = _fixture(tmp_path, extra_rows=[
        ['1.2.826.2', encode(REGIONS['1.2.826.2'][0]), '', '', '',
         'P2_2.dcm'],
        ['1.2.826.4', '-1', '', '', '', 'P3_4.dcm']])
    out = str(tmp_path / 'out')
    convert(str(src), out)
    _, _, splits = _read(out)
    split_of = {name[:-4]: s for s, names in splits.items() for name in names}
    linked = [uid for uid in REGIONS if PATIENT[uid] in ('P1', 'P2', 'P3')]
    assert len(linked) == 6
    assert len({split_of[uid] for uid in linked}) == 1, split_of
    for patient in set(PATIENT.values()):
        uids = [u for u in REGIONS if PATIENT[u] == patient]
        assert len({split_of[u] for u in uids}) == 1, patient
