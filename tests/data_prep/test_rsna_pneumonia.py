"""RSNA Pneumonia converter: the real stage-2 labels (zipped) with a class file
consistent with them and stand-in DICOMs; and bad input."""
import csv
import gzip
import hashlib
import io
import os.path as osp
import re
import shutil
import zipfile
from collections import Counter, OrderedDict, defaultdict

import pytest

from data_prep.converters.rsna_pneumonia import CLASSES, convert
from tests.data_prep.prepared import read_prepared
from tests.conftest import run_python, shared_data
from tests.data_prep.dicom_fixtures import write_flat_dicom

SPLITS = ('train', 'val', 'test')


def _class_of(pid, target):
    """The stand-in detailed class: fixed by Target 1, else by a hash."""
    if target == '1':
        return 'Lung Opacity'
    return ('Normal', 'No Lung Opacity / Not Normal')[
        int(hashlib.md5(pid.encode()).hexdigest(), 16) % 2]


def _write_classes(path, rows, override=None):
    """One class row per labels row, as Kaggle's file repeats them."""
    override = override or {}
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['patientId', 'class'])
        for r in rows:
            pid = r['patientId']
            writer.writerow([pid, override.get(pid, _class_of(pid,
                                                              r['Target']))])


def _read(out):
    return read_prepared(out, ['Pneumonia'])


@pytest.fixture(scope='module')
def rsna(tmp_path_factory):
    """The real labels zip as delivered, a consistent class file and
    1024 x 1024 stand-ins for 40 patients with 0 to 4 boxes."""
    real = shared_data('official_formats', 'rsna_pneumonia')
    labels_zip = osp.join(real, 'kaggle_stage_2_train_labels.csv.zip')
    with zipfile.ZipFile(labels_zip) as z:
        text = z.read('stage_2_train_labels.csv').decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    per = OrderedDict()
    for r in rows:
        per.setdefault(r['patientId'], []).append(r)
    by_count = defaultdict(list)
    for pid, rs in per.items():
        by_count[(rs[0]['Target'], len(rs))].append(pid)
    chosen = (by_count[('1', 4)][:5] + by_count[('1', 3)][:5]
              + by_count[('1', 2)][:8] + by_count[('1', 1)][:7]
              + by_count[('0', 1)][:15])
    src = tmp_path_factory.mktemp('rsna') / 'rsna'
    (src / 'stage_2_train_images').mkdir(parents=True)
    shutil.copy(labels_zip, src / 'stage_2_train_labels.csv.zip')
    _write_classes(src / 'stage_2_detailed_class_info.csv', rows)
    for pid in chosen:
        write_flat_dicom(src / 'stage_2_train_images' / f'{pid}.dcm', 1024,
                         1024)
    out = str(tmp_path_factory.mktemp('out') / 'rsna')
    summary = convert(str(src), out, allow_partial=True)
    headers = osp.join(real,
                       'kaggle_stage_2_train_images_dicom_headers.csv.gz')
    return dict(src=src, out=out, summary=summary, rows=rows, per=per,
                chosen=chosen, headers=headers)


def test_real_file_facts_and_image_naming(rsna):
    per = rsna['per']
    assert len(rsna['rows']) == 30227 and len(per) == 26684
    # Every labelled patient has an image file <patientId>.dcm (the real
    # DICOM header table), the naming the converter relies on.
    with gzip.open(rsna['headers'], 'rt', newline='') as f:
        headers = list(csv.DictReader(f))
    assert {h['Filename'] for h in headers} == {p + '.dcm' for p in per}
    assert all(h['PatientID'] + '.dcm' == h['Filename'] for h in headers)


def test_classes_and_boxes_match_independent_counts(rsna):
    per, chosen, summary = rsna['per'], rsna['chosen'], rsna['summary']
    assert summary['images'] == len(chosen) == 40
    assert summary['skipped'] == {'image file missing': len(per) - 40}
    expected = Counter(_class_of(p, per[p][0]['Target']) for p in chosen)
    assert summary['cls_positives'] == {c: expected[c]
                                        for c in CLASSES['cls']}
    assert expected['Normal'] and expected['No Lung Opacity / Not Normal']
    n_boxes = sum(len(per[p]) for p in chosen if per[p][0]['Target'] == '1')
    assert summary['boxes'] == {'Pneumonia': n_boxes} and n_boxes == 58
    cls, boxes, splits = _read(rsna['out'])
    for pid in chosen:
        name = pid + '.dcm'
        row = cls[name]
        assert [row[c] for c in CLASSES['cls']] == [
            str(int(_class_of(pid, per[pid][0]['Target']) == c))
            for c in CLASSES['cls']]
        want = sorted(
            (float(r['x']), float(r['y']), float(r['width']),
             float(r['height'])) for r in per[pid] if r['Target'] == '1')
        got = sorted(tuple(round(v, 2) for v in b) for b in boxes[name])
        assert got == [tuple(round(v, 2) for v in b) for b in want], pid
    assert sorted(sum(splits.values(), [])) == sorted(p + '.dcm'
                                                      for p in chosen)
    assert len(splits['train']) == 28 and len(splits['test']) == 8


def test_cli_rerun_is_identical(rsna, tmp_path):
    again = str(tmp_path / 'again')
    run_python(['-m', 'data_prep', 'rsna_pneumonia', '--allow-partial',
                '--src',
                str(rsna['src']), '--out', again])
    for sub, ext in (('cls', 'csv'), ('loc', 'json'), ('splits', 'txt')):
        for split in SPLITS:
            assert open(osp.join(rsna['out'], sub, f'{split}.{ext}')).read() \
                == open(osp.join(again, sub, f'{split}.{ext}')).read()


# ------------------------------------------------------------------ bad input
LABELS = ('patientId,x,y,width,height,Target\n'
          'p1,,,,,0\n'
          'p2,100,200,50,60,1\n'
          'p2,500,500,100,100,1\n')


def _small(tmp_path, labels=LABELS, classes=None):
    src = tmp_path / 'src'
    (src / 'stage_2_train_images').mkdir(parents=True)
    (src / 'stage_2_train_labels.csv').write_text(labels)
    rows = list(csv.DictReader(io.StringIO(labels)))
    if classes is None:
        _write_classes(src / 'stage_2_detailed_class_info.csv', rows)
    else:
        (src / 'stage_2_detailed_class_info.csv').write_text(classes)
    for pid in {r['patientId'] for r in rows}:
        write_flat_dicom(src / 'stage_2_train_images' / f'{pid}.dcm', 1024,
                         1024)
    return src


def test_small_fixture_converts(tmp_path):
    summary = convert(str(_small(tmp_path)), str(tmp_path / 'out'))
    assert summary['boxes'] == {'Pneumonia': 2}
    assert summary['cls_positives']['Lung Opacity'] == 1


def test_conflicting_files_name_the_patient(tmp_path):
    classes = ('patientId,class\np1,Normal\np2,Normal\np2,Normal\n')
    with pytest.raises(ValueError, match=r"patientId p2: .*class 'Normal' but"
                       r" .*Target 1"):
        convert(str(_small(tmp_path, classes=classes)), str(tmp_path / 'o'))


def test_disagreeing_duplicate_rows_name_the_patient(tmp_path):
    classes = ('patientId,class\np1,Normal\np2,Lung Opacity\n'
               'p2,Normal\n')
    with pytest.raises(ValueError, match=r"line 4, patientId p2: class "
                       r"'Normal' conflicts with 'Lung Opacity'"):
        convert(str(_small(tmp_path, classes=classes)), str(tmp_path / 'o'))
    labels = LABELS + 'p1,10,10,10,10,1\n'
    with pytest.raises(ValueError, match=r"line 5, patientId p1: Target 1 "
                       r"conflicts with Target 0"):
        convert(str(_small(tmp_path / 'b', labels=labels)),
                str(tmp_path / 'o2'))


def test_unknown_class_names_file_row_and_class(tmp_path):
    classes = 'patientId,class\np1,Pneumonia\np2,Lung Opacity\n'
    with pytest.raises(ValueError, match=r"detailed_class_info.csv line 2, "
                       r"patientId p1: class 'Pneumonia' is not one of"):
        convert(str(_small(tmp_path, classes=classes)), str(tmp_path / 'o'))


def test_box_past_the_border_is_clipped_and_named(tmp_path):
    labels = LABELS.replace('500,500,100,100', '1000,500,100,100')
    summary = convert(str(_small(tmp_path, labels=labels)),
                      str(tmp_path / 'o'))
    assert summary['skipped'] == {'box clipped to the image': 1}
    example, = summary['skipped_examples']['box clipped to the image']
    assert re.match(r'.*stage_2_train_labels.csv line 4: p2.dcm: box '
                    r'\(1000.0, 500.0, 1100.0, 600.0\).*1024x1024', example)


def test_missing_column_is_named(tmp_path):
    labels = 'patientId,x,y,width,height\np1,,,,\n'
    with pytest.raises(ValueError, match=r"stage_2_train_labels.csv has no "
                       r"column\(s\) \['Target'\]"):
        convert(str(_small(tmp_path, labels=labels, classes='patientId,class'
                           '\np1,Normal\n')), str(tmp_path / 'o'))


def test_corrupt_dicom_is_counted_as_skipped(tmp_path):
    src = _small(tmp_path)
    (src / 'stage_2_train_images' / 'p1.dcm').write_bytes(b'\x00' * 300)
    summary = convert(str(src), str(tmp_path / 'out'))
    assert summary['images'] == 1
    assert summary['skipped'] == {'unreadable image': 1}
