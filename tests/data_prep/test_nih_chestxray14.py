"""NIH ChestX-ray14 converter on the real Data_Entry label file."""
import csv
import gzip
import json
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest

from data_prep.__main__ import main as data_prep_main
from data_prep.converters.nih_chestxray14 import CLASSES, convert
from tests.data_prep.prepared import build_from_table, read_cls, read_splits
from tests.conftest import shared_data


@pytest.fixture
def nih_src(tmp_path):
    """The real label file, the two real images and 60 stand-in images."""
    real = shared_data('official_formats', 'nih_chestxray14')
    src = tmp_path / 'nih'
    (src / 'images_001' / 'images').mkdir(parents=True)
    shutil.copy(osp.join(real, 'Data_Entry_2017_v2020.csv.gz'), src)
    with gzip.open(osp.join(real, 'Data_Entry_2017_v2020.csv.gz'), 'rt') as f:
        rows = list(csv.DictReader(f))
    for name in ('00000001_000.png', '00027426_000.png'):
        shutil.copy(osp.join(real, name), src / 'images_001' / 'images')
    stand_in = np.full((64, 64), 128, np.uint8)
    for row in rows[:60]:
        path = src / 'images_001' / 'images' / row['Image Index']
        if not path.exists():
            cv2.imwrite(str(path), stand_in)
    return src, rows


def test_labels_match_the_csv(nih_src, tmp_path):
    src, rows = nih_src
    out = str(tmp_path / 'out')
    summary = convert(str(src), out, allow_partial=True)
    present = {p for p in (r['Image Index'] for r in rows)
               if (src / 'images_001' / 'images' / p).exists()}
    assert summary['images'] == len(present) == 61  # 60 + 00027426_000
    assert summary['skipped'] == {'image file missing': len(rows) - 61}
    expected = {c: 0 for c in CLASSES}
    for r in rows:
        if r['Image Index'] in present:
            for finding in r['Finding Labels'].split('|'):
                finding = finding.replace('_', ' ')
                if finding in expected:
                    expected[finding] += 1
    assert summary['cls_positives'] == expected
    assert expected['Cardiomegaly'] > 0 and expected['Emphysema'] > 0
    # The real Cardiomegaly image is labelled so, and copied as delivered.
    table = read_cls(out)
    assert table['00000001_000.png']['Cardiomegaly'] == '1'
    assert table['00027426_000.png']['Cardiomegaly'] == '0'
    # No patient in two splits.
    patient = {r['Image Index']: r['Patient ID'] for r in rows}
    seen = {}
    for split in ('train', 'val', 'test'):
        for name in open(osp.join(out, 'splits', f'{split}.txt')).read().split():
            assert seen.setdefault(patient[name], split) == split


def test_official_test_list_is_the_test_split(nih_src, tmp_path):
    src, rows = nih_src
    names = [r['Image Index'] for r in rows[:60]]
    (src / 'test_list.txt').write_text('\n'.join(names[:10]) + '\n')
    (src / 'train_val_list.txt').write_text('\n'.join(names[10:]) + '\n')
    out = str(tmp_path / 'out')
    convert(str(src), out, allow_partial=True)
    test = open(osp.join(out, 'splits', 'test.txt')).read().split()
    assert test == sorted(names[:10])
    again = str(tmp_path / 'again')
    convert(str(src), again, allow_partial=True)
    for split in ('train', 'val', 'test'):
        assert open(osp.join(out, 'cls', f'{split}.csv')).read() == open(
            osp.join(again, 'cls', f'{split}.csv')).read()


def test_missing_column_is_named(tmp_path):
    src = tmp_path / 'bad'
    src.mkdir()
    (src / 'Data_Entry_2017.csv').write_text('Image Index,Labels\nx.png,A\n')
    with pytest.raises(ValueError, match=r"NIH-ChestX-ray14: .*Data_Entry_2017"
                       r".csv has no column\(s\) \['Finding Labels'"):
        convert(str(src), str(tmp_path / 'out'))


def test_corrupt_image_is_a_counted_skip(nih_src, tmp_path):
    src, rows = nih_src
    bad = src / 'images_001' / 'images' / rows[0]['Image Index']
    bad.write_bytes(b'\x89PNG\r\n\x1a\n truncated')
    summary = convert(str(src), str(tmp_path / 'out'), allow_partial=True)
    assert summary['skipped']['unreadable image'] == 1
    assert summary['images'] == 60
    assert rows[0]['Image Index'] not in read_cls(str(tmp_path / 'out'))


def test_label_table_outside_src_via_options(nih_src, tmp_path, capsys):
    """A folder of images and the CSV downloaded elsewhere: --options
    labels=PATH; without it the error says so."""
    src, rows = nih_src
    images_only = tmp_path / 'images_only'
    shutil.copytree(src / 'images_001' / 'images', images_only / 'images')
    table = str(src / 'Data_Entry_2017_v2020.csv.gz')
    out = str(tmp_path / 'out')
    # The command line, in-process.
    assert data_prep_main(['nih_chestxray14', '--src', str(images_only),
                           '--out', out, '--allow-partial', '--options',
                           f'labels={table}']) == 0
    meta = json.load(open(osp.join(out, 'meta.json')))
    assert meta['images'] == 61 and meta['labels_file'] == table
    assert meta['split_policy'] == 'grouped_by_patient'
    # Lists beside the table are the official split.
    names = [r['Image Index'] for r in rows[:60]]
    (src / 'test_list.txt').write_text('\n'.join(names[:10]) + '\n')
    (src / 'train_val_list.txt').write_text('\n'.join(names[10:]) + '\n')
    summary = convert(str(images_only), str(tmp_path / 'out2'),
                      allow_partial=True, labels=table)
    assert summary['split_policy'] == 'official_lists'
    assert open(osp.join(tmp_path, 'out2', 'splits', 'test.txt')).read(
    ).split() == sorted(names[:10])
    capsys.readouterr()
    assert data_prep_main(['nih_chestxray14', '--src', str(images_only),
                           '--out', str(tmp_path / 'out3')]) == 1
    assert '--options labels=PATH/Data_Entry_2017_v2020.csv.gz' in \
        capsys.readouterr().err


def test_real_nih1000_with_the_official_table(tmp_path):
    """../shared/data/nih1000_64px (1,000 of the 112,120 listed images) with
    the official Data_Entry table: every present image converted with its
    official labels, no patient in two splits."""
    src = shared_data('nih1000_64px')
    table = shared_data('official_formats', 'nih_chestxray14',
                        'Data_Entry_2017_v2020.csv.gz')
    out = str(tmp_path / 'nih1000')
    summary = convert(src, out, allow_partial=True, labels=table)
    with gzip.open(table, 'rt') as f:
        rows = {r['Image Index']: r for r in csv.DictReader(f)}
    assert len(rows) == 112120
    assert summary['images'] == 1000
    assert summary['skipped'] == {'image file missing': 112120 - 1000}
    assert sum(summary['splits'].values()) == 1000
    cls = read_cls(out)
    no_finding = 0
    for name, row in cls.items():
        findings = set(rows[name]['Finding Labels'].replace(
            'Pleural_Thickening', 'Pleural Thickening').split('|'))
        assert {c for c in CLASSES if row[c] == '1'} == findings - {
            'No Finding'}, name
        no_finding += findings == {'No Finding'}
    assert no_finding == 499  # as ../shared/data/README.md says
    seen = {}
    for split, names in read_splits(out).items():
        for name in names:
            assert seen.setdefault(rows[name]['Patient ID'], split) == split
    assert len(seen) == 264
    assert sum(summary['patients'].values()) == 264
    # The dataset table entry reads it with fx_mm's classification dataset.
    ds = build_from_table('nih_chestxray14.py', 'nih_chestxray14', out,
                          'cls', 'test')
    assert len(ds) == summary['splits']['test']
    name = osp.basename(ds.get_data_info(0)['img_path'])
    assert ds.get_raw_labels()[0].tolist() == [
        float(cls[name][c]) for c in CLASSES]
