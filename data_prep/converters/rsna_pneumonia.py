"""RSNA Pneumonia Detection Challenge (Kaggle 2018): 3 classes, opacity boxes.

Official distribution (Kaggle, stage 2 training data):

* ``stage_2_train_labels.csv``: ``patientId, x, y, width, height, Target``.
  One row per box (``x, y`` the top-left corner, in the pixels of the
  1024 x 1024 image); a patient with ``Target`` 0 has one row with the four
  box cells empty. Verified on the real file: 30,227 rows, 26,684 patients,
  9,555 boxes; up to 4 rows per patient.
* ``stage_2_detailed_class_info.csv``: ``patientId, class`` with ``class`` one
  of ``Normal``, ``No Lung Opacity / Not Normal``, ``Lung Opacity``. It repeats
  a patient's row once per labels row (documented by Kaggle, not checked on a
  real file: the file was not available).
* ``stage_2_train_images/<patientId>.dcm`` (verified: the real DICOM header
  table names each file ``<patientId>.dcm`` with ``PatientID`` = patientId).

Both files may be plain or zipped (Kaggle serves them zipped), found at any
depth under ``--src``.

Consistency checks (a conflict is a ``ValueError`` naming the file, the
patientId and the field, never a guessed label): one patient's labels rows
all have the same ``Target``; ``Target`` 1 rows have a box and ``Target`` 0
rows have none; one patient's class rows agree; ``class`` is
``Lung Opacity`` iff ``Target`` is 1; every labelled patient has a class; a
box lies inside the image. An unknown class name names file, row and class.

Written: cls one-hot over ``['Normal', 'No Lung Opacity / Not Normal',
'Lung Opacity']``; loc ``Pneumonia`` boxes (every image has loc labels;
Target 0 images have none). Images absent from ``--src`` are counted under
``image file missing``, unreadable ones under ``unreadable image``.

Split: the stage-2 test labels were never published, so a seeded
70 / 10 / 20 split grouped by ``patientId`` (one image per patientId).
"""
from typing import Dict, List, Optional

from ..layout import PreparedWriter
from ..progress import progress
from ..registry import register
from ..splits import grouped_split
from ..tables import find_file, index_files, read_table

NAME = 'RSNA-Pneumonia'
CLASSES = dict(cls=['Normal', 'No Lung Opacity / Not Normal', 'Lung Opacity'],
               loc=['Pneumonia'])
BOX_COLUMNS = ('x', 'y', 'width', 'height')


def _read_labels(path: str) -> Dict[str, dict]:
    """patientId -> {target, boxes: [(x1, y1, x2, y2, line)]}."""
    rows = read_table(path, ['patientId', *BOX_COLUMNS, 'Target'], NAME)
    patients: Dict[str, dict] = {}
    for line, row in enumerate(rows, start=2):
        pid = row['patientId']
        where = f'{NAME}: {path} line {line}, patientId {pid}'
        if row['Target'] not in ('0', '1'):
            raise ValueError(f'{where}: Target {row["Target"]!r} is not 0 '
                             'or 1.')
        target = int(row['Target'])
        entry = patients.setdefault(pid, dict(target=target, boxes=[]))
        if entry['target'] != target:
            raise ValueError(f'{where}: Target {target} conflicts with '
                             f'Target {entry["target"]} on an earlier row.')
        cells = [row[c] for c in BOX_COLUMNS]
        if target == 0:
            if any(cells):
                raise ValueError(f'{where}: Target 0 row has a box '
                                 f'({", ".join(cells)}).')
            continue
        try:
            x, y, w, h = (float(c) for c in cells)
        except ValueError:
            raise ValueError(f'{where}: Target 1 row needs numeric x, y, '
                             f'width, height; found {cells}.')
        entry['boxes'].append((x, y, x + w, y + h, line))
    return patients


def _read_classes(path: str) -> Dict[str, str]:
    """patientId -> class, checking repeated rows agree."""
    rows = read_table(path, ['patientId', 'class'], NAME)
    classes: Dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        pid, cls = row['patientId'], row['class']
        if cls not in CLASSES['cls']:
            raise ValueError(f'{NAME}: {path} line {line}, patientId {pid}: '
                             f'class {cls!r} is not one of {CLASSES["cls"]}.')
        if classes.setdefault(pid, cls) != cls:
            raise ValueError(f'{NAME}: {path} line {line}, patientId {pid}: '
                             f'class {cls!r} conflicts with {classes[pid]!r} '
                             'on an earlier row.')
    return classes


@register('rsna_pneumonia',
          'stage_2_train_labels.csv[.zip] (patientId, x, y, width, height, '
          'Target), stage_2_detailed_class_info.csv[.zip] (patientId, class), '
          'stage_2_train_images/<patientId>.dcm')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None) -> dict:
    """Convert RSNA Pneumonia; see the module docstring for the checks.

    Args:
        src (str): The Kaggle download.
        out (str): Output folder.
        resize (int, optional): Longest side of written PNGs.
        seed (int): Split seed.
        limit (int, optional): Only the first N patients of the labels file.

    Returns:
        dict: The summary written to meta.json.
    """
    labels_path = find_file(src, 'stage_2_train_labels.csv',
                            'stage_1_train_labels.csv', dataset=NAME)
    classes_path = find_file(src, 'stage_2_detailed_class_info.csv',
                             'stage_1_detailed_class_info.csv', dataset=NAME)
    labels = _read_labels(labels_path)
    classes = _read_classes(classes_path)
    for pid, entry in labels.items():
        cls = classes.get(pid)
        if cls is None:
            raise ValueError(f'{NAME}: patientId {pid} of {labels_path} has '
                             f'no row in {classes_path}.')
        if (cls == 'Lung Opacity') != (entry['target'] == 1):
            raise ValueError(
                f'{NAME}: patientId {pid}: {classes_path} says class {cls!r} '
                f'but {labels_path} says Target {entry["target"]} (Lung '
                'Opacity iff Target 1).')
    images = index_files(src, ('.dcm',))
    pids: List[str] = list(labels)
    if limit:
        pids = pids[:limit]
    writer = PreparedWriter(out, NAME, CLASSES, resize)
    groups: Dict[str, str] = {}
    for pid in progress(pids, len(pids), 'images'):
        path = images.get(pid + '.dcm')
        if path is None:
            writer.missing(pid + '.dcm')
            continue
        name = writer.add_image_or_skip(path)
        if name is None:
            continue
        writer.add_cls(name, [int(classes[pid] == c) for c in CLASSES['cls']])
        writer.add_boxes_for(name)
        for x1, y1, x2, y2, line in labels[pid]['boxes']:
            try:
                writer.add_box(name, 'Pneumonia', x1, y1, x2, y2,
                               where=f'{labels_path} line {line}')
            except ValueError as e:
                raise ValueError(f'{labels_path} line {line}, patientId {pid}'
                                 f' (x, y, width, height): {e}') from e
        groups[name] = pid
    return writer.write(grouped_split(groups, seed), source=src)
