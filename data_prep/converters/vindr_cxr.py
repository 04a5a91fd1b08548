"""VinDr-CXR (Nguyen et al. 2022): 6 global labels and 14 boxed lesions.

Classification uses the six labels of the config (``vindr_cxr_classes``):
``PE``, ``Lung tumor``, ``Pneumonia``, ``Tuberculosis``, ``Other diseases``,
``No finding``. VinDr-CXR's own six global labels are COPD, Lung tumor,
Pneumonia, Tuberculosis, Other diseases and No finding; the paper's set (as in
Ark, Ma et al. 2023, whose code lists exactly this order and names its label
files ``VinDrCXR_*_pe_global_*``) replaces COPD by ``PE``, which is VinDr's
*local* label ``Pleural effusion`` -- not pulmonary embolism, which VinDr does
not label. Localization uses the 14 lesions of the Kaggle competition
(``vindr_cxr_lesion_classes``).

Two distributions are read (the converter picks the one it finds):

**PhysioNet VinDr-CXR 1.0.0** (``physionet.org/content/vindr-cxr/1.0.0``)::

    train/<image_id>.dicom  test/<image_id>.dicom
    annotations/annotations_{train,test}.csv   image_id, rad_id, class_name,
                                               x_min, y_min, x_max, y_max
    annotations/image_labels_{train,test}.csv  image_id, [rad_id | rad_ID],
                                               one 0/1 column per label

``image_labels_*`` has one column for each of the 22 local labels (among them
``Pleural effusion``) and the 6 global ones; the train file has one row per
radiologist (3 per image), the test file one consensus row per image (5
radiologists). The test file writes ``Other disease`` where the train file
writes ``Other diseases``; both are read. ``annotations_*`` has one row per
box and reader; rows of ``No finding`` and of global labels have no
coordinates. Boxes of the 8 local labels that are not among the 14 lesions
(``Clavicle fracture``, ``Edema``, ``Emphysema``, ``Enlarged PA``, ``Lung
cavity``, ``Lung cyst``, ``Mediastinal shift``, ``Rib fracture``) are counted
as skipped.

**Kaggle VinBigData Chest X-ray Abnormalities Detection**::

    train.csv   image_id, class_name, class_id, rad_id, x_min, y_min, x_max,
                y_max  (class_id 0-13 = the 14 lesions, 14 = No finding; No
                finding rows have empty coordinates)
    train/<image_id>.dicom

It has only the 14 lesions and No finding (3 readers per image, ids R1-R17).
``PE`` is derived from the readers' ``Pleural effusion`` boxes and ``No
finding`` from their No finding rows; Lung tumor, Pneumonia, Tuberculosis and
Other diseases cannot be told from it and are written as missing (blank).
Its test images have no labels and are not read.

Several readers: a label is **1 when more than half of the image's readers
give it** (2 of 3), 0 when fewer do, and -1 (uncertain) on an exact tie (only
possible with an even number of readers, which neither release has). The
test set's single consensus row is taken as it is. Every image has
localization labels; an image without boxes is a negative.

Boxes, per split (recorded in meta.json under ``loc_boxes``):

* ``train``: every reader's box (``train_boxes='raw'``, the default), as both
  releases ship them: up to three near-duplicate boxes per lesion (readers
  do not always agree: the Kaggle CSV's 36,096 boxes are 23,902 after the
  fusion below), reader variation the model may learn from;
  ``train_boxes='wbf'`` fuses them as below.
* ``val`` and Kaggle's ``test`` (both carved from 3-reader images): the
  readers' boxes fused by weighted boxes fusion (``eval_boxes='wbf'``, the
  default; :mod:`data_prep.box_fusion`, per image and lesion, readers
  weighted equally, IoU above ``wbf_iou_thr`` = 0.5), so a lesion is one
  ground-truth box and a detector that finds it once is not charged two
  false negatives. ``eval_boxes='raw'`` keeps every reader's box instead.
* PhysioNet's ``test``: its boxes as released (``consensus``): the test set
  was labelled by the consensus of 5 radiologists, one box per lesion, so
  there is nothing to fuse (this holds for either ``eval_boxes``).

mAP40 on a split is therefore measured against the ``loc_boxes`` entry of
meta.json: fused (``wbf``) or consensus boxes by default.

Splits: PhysioNet's official train / test; val is 1/8 of the official train
(seeded, so train : val : test = 70 : 10 : 20 of the 15,000 + 3,000 images).
Kaggle: a seeded 70 / 10 / 20 split of its 15,000 images. Neither release
names patients, so images are split one by one.

Not verified against a real file: the PhysioNet CSVs (columns were taken from
published code that reads them and from a copy of ``image_labels_test.csv``);
whether ``annotations_*`` holds boxes of the 8 extra local labels (handled
either way); that ``annotations_test.csv`` holds one consensus box per lesion
(as the release describes its test labels; its boxes are kept as they are);
what a blank cell of ``image_labels_*`` means (read as 0, not
marked). The Kaggle CSV was checked on the real file.
"""
import os.path as osp
from typing import Dict, List, Optional

import numpy as np

from ..box_fusion import DEFAULT_IOU_THR, weighted_boxes_fusion
from ..layout import SPLITS, PreparedWriter
from ..progress import progress
from ..registry import register
from ..splits import grouped_split
from ..tables import find_file, index_files, read_table

NAME = 'VinDr-CXR'
CLS_CLASSES = [
    'PE', 'Lung tumor', 'Pneumonia', 'Tuberculosis', 'Other diseases',
    'No finding'
]
LESIONS = [
    'Aortic enlargement', 'Atelectasis', 'Calcification', 'Cardiomegaly',
    'Consolidation', 'ILD', 'Infiltration', 'Lung Opacity', 'Nodule/Mass',
    'Other lesion', 'Pleural effusion', 'Pleural thickening', 'Pneumothorax',
    'Pulmonary fibrosis'
]
CLASSES = dict(cls=CLS_CLASSES, loc=LESIONS)
# The image_labels column each classification class is read from; the test
# file spells one global label in the singular.
LABEL_COLUMNS = {
    'PE': ('Pleural effusion',), 'Lung tumor': ('Lung tumor',),
    'Pneumonia': ('Pneumonia',), 'Tuberculosis': ('Tuberculosis',),
    'Other diseases': ('Other diseases', 'Other disease'),
    'No finding': ('No finding',)
}
# VinDr-CXR's other local labels: boxed by the readers, not localized here.
OTHER_LOCAL = ('Clavicle fracture', 'Edema', 'Emphysema', 'Enlarged PA',
               'Lung cavity', 'Lung cyst', 'Mediastinal shift',
               'Rib fracture')
GLOBAL = ('COPD', 'Lung tumor', 'Pneumonia', 'Tuberculosis', 'Other diseases',
          'Other disease', 'No finding')
NO_FINDING_ID = 14
BOX_COLUMNS = ('x_min', 'y_min', 'x_max', 'y_max')
KAGGLE_COLUMNS = ('image_id', 'class_name', 'class_id', 'rad_id') + BOX_COLUMNS
DICOM_EXTENSIONS = ('.dicom', '.dcm')
# Box policies: every reader's box, or the readers' boxes fused (WBF).
BOX_POLICIES = ('raw', 'wbf')


@register('vindr_cxr',
          'PhysioNet: annotations/image_labels_{train,test}.csv (image_id, '
          'one 0/1 column per label), annotations/annotations_{train,test}'
          '.csv (image_id, rad_id, class_name, x_min..y_max), {train,test}/'
          '*.dicom; or Kaggle VinBigData: train.csv (image_id, class_name, '
          'class_id, rad_id, x_min..y_max), train/*.dicom')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None, eval_boxes: str = 'wbf',
            train_boxes: str = 'raw',
            wbf_iou_thr: float = DEFAULT_IOU_THR) -> dict:
    """Convert either release; images missing from ``src`` are skipped.

    Args:
        src (str): The PhysioNet or Kaggle download.
        out (str): The prepared layout's folder.
        resize (int, optional): Longest image side (decoded PNGs).
        seed (int): Split seed.
        limit (int, optional): Convert only the first N image ids (sorted).
        eval_boxes (str): Boxes of the evaluation splits drawn from
            several readers (val; Kaggle's test): ``'wbf'`` fuses the
            readers' boxes of one lesion into one, ``'raw'`` keeps every
            reader's. PhysioNet's test boxes (a consensus) are kept either
            way.
        train_boxes (str): The same choice for the train split (default
            ``'raw'``: every reader's box).
        wbf_iou_thr (float): IoU above which two readers' boxes of one
            lesion class are fused.

    Returns:
        dict: The summary written to meta.json (``loc_boxes``: the policy
        of each split; ``loc_box_counts``: boxes read and written per split).
    """
    for option, value in (('eval_boxes', eval_boxes),
                          ('train_boxes', train_boxes)):
        if value not in BOX_POLICIES:
            raise ValueError(f'{NAME}: {option}={value!r}; expected one of '
                             f'{BOX_POLICIES}.')
    if find_file(src, 'image_labels_train.csv', required=False):
        labels, boxes, other, test_ids = _read_physionet(src)
    elif find_file(src, 'train.csv', required=False):
        labels, boxes = _read_kaggle(src)
        other, test_ids = {}, set()
    else:
        raise FileNotFoundError(
            f'{NAME}: neither PhysioNet\'s annotations/image_labels_train.csv '
            f'nor Kaggle\'s train.csv (plain, .gz or .zip) under {src}.')
    files = index_files(src, DICOM_EXTENSIONS)
    ids = sorted(labels)
    if limit:
        ids = ids[:limit]
    writer = PreparedWriter(out, NAME, CLASSES, resize)
    names: Dict[str, str] = {}
    for image_id in progress(ids, len(ids), 'VinDr-CXR images'):
        path = files.get(image_id + '.dicom') or files.get(image_id + '.dcm')
        if path is None:
            # A partial download is normal (Kaggle subsets, trials): counted.
            writer.missing(image_id + '.dicom')
            continue
        name = writer.add_image_or_skip(path)
        if name is None:
            continue
        writer.add_cls(name, labels[image_id])
        writer.add_boxes_for(name)
        for _ in range(other.get(image_id, 0)):
            # Thousands of such boxes in the release: counted, not listed.
            writer.skip('box of a local label outside the 14 lesions')
        names[image_id] = name
    # The split is made over the images actually converted (so proportions
    # hold for a partial download) and before any box is added, because
    # whether an image's readers are fused depends on its split.
    trainval = {n: n for i, n in names.items() if i not in test_ids}
    if test_ids:
        inner = grouped_split(trainval, seed, fractions=(7 / 8, 1 / 8, 0.0))
        splits = dict(train=inner['train'], val=inner['val'],
                      test=[n for i, n in names.items() if i in test_ids])
    else:
        splits = grouped_split(trainval, seed)
    policy = dict(train=train_boxes, val=eval_boxes,
                  test='consensus' if test_ids else eval_boxes)
    split_of = {n: k for k, ns in splits.items() for n in ns}
    counts = {k: dict(read=0, written=0) for k in SPLITS}
    for image_id, name in names.items():
        split = split_of[name]
        rows = boxes.get(image_id, [])
        counts[split]['read'] += len(rows)
        if policy[split] == 'wbf':
            rows = _fuse(rows, wbf_iou_thr)
        for label, x1, y1, x2, y2, where in rows:
            counts[split]['written'] += writer.add_box(
                name, label, x1, y1, x2, y2, where=where)
    meaning = dict(
        raw="every reader's box, as released",
        wbf='weighted boxes fusion of the readers\' boxes per image and '
            f'lesion (equal weights, IoU > {wbf_iou_thr})',
        consensus='as released: the consensus of 5 radiologists')
    notes = dict(loc_boxes=policy,
                 loc_box_policies={p: meaning[p] for p in
                                   sorted(set(policy.values()))},
                 loc_box_counts=counts)
    if 'wbf' in policy.values():
        notes['wbf_iou_thr'] = wbf_iou_thr
    return writer.write(splits, source=src, notes=notes)


def _fuse(rows: List[tuple], iou_thr: float) -> List[tuple]:
    """One image's readers' boxes fused per lesion (WBF, equal weights).

    Args:
        rows (list[tuple]): ``(lesion, x1, y1, x2, y2, where)`` per reader
            box, in the delivered image's pixels.
        iou_thr (float): IoU above which boxes of one lesion are fused.

    Returns:
        list[tuple]: The same form, one row per fused box; ``where`` names
        the source rows it merges.
    """
    if not rows:
        return []
    fused = weighted_boxes_fusion(np.array([r[1:5] for r in rows]),
                                  [r[0] for r in rows], iou_thr=iou_thr)
    return [(str(label),) + tuple(float(v) for v in box) +
            ('fused from ' + '; '.join(rows[i][5] for i in members),)
            for box, label, members in zip(*fused)]


def vote(votes: int, readers: int) -> int:
    """A label from several readers: 1 on a majority, -1 on a tie, else 0."""
    if 2 * votes > readers:
        return 1
    return -1 if votes and 2 * votes == readers else 0


# ------------------------------------------------------------------ PhysioNet
def _read_physionet(src: str):
    """Labels, boxes, other-label box counts and test ids (PhysioNet)."""
    labels: Dict[str, List] = {}
    boxes: Dict[str, List[tuple]] = {}
    other: Dict[str, int] = {}
    test_ids = set()
    for split in ('train', 'test'):
        table = find_file(src, f'image_labels_{split}.csv', dataset=NAME)
        split_labels = _read_image_labels(table)
        clash = set(split_labels) & set(labels)
        if clash:
            raise ValueError(f'{NAME}: {table} repeats image ids of the train '
                             f'labels, e.g. {sorted(clash)[:3]}.')
        labels.update(split_labels)
        if split == 'test':
            test_ids = set(split_labels)
        table = find_file(src, f'annotations_{split}.csv', dataset=NAME)
        for image_id, box in _read_annotations(table):
            if box is None:
                other[image_id] = other.get(image_id, 0) + 1
            else:
                boxes.setdefault(image_id, []).append(box)
    return labels, boxes, other, test_ids


def _read_image_labels(path: str) -> Dict[str, List]:
    """Per image, the six labels voted over its readers' rows."""
    required = ['image_id'] + [c[0] for k, c in LABEL_COLUMNS.items()
                               if k != 'Other diseases']
    rows = read_table(path, required, NAME)
    columns = {}
    for cls, candidates in LABEL_COLUMNS.items():
        found = [c for c in candidates if rows and c in rows[0]]
        if rows and not found:
            raise ValueError(f'{NAME}: {path} has no column {candidates[0]!r}'
                             f' (nor {candidates[1:]}); columns: '
                             f'{list(rows[0])}.')
        columns[cls] = found[0] if found else candidates[0]
    votes: Dict[str, List[int]] = {}
    readers: Dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        image_id = row['image_id']
        counts = votes.setdefault(image_id, [0] * len(CLS_CLASSES))
        readers[image_id] = readers.get(image_id, 0) + 1
        for i, cls in enumerate(CLS_CLASSES):
            counts[i] += _mark(row[columns[cls]], path, line, columns[cls])
    return {i: [vote(v, readers[i]) for v in counts]
            for i, counts in votes.items()}


def _mark(value: str, path: str, line: int, column: str) -> int:
    """One reader's 0/1 cell (``1.0`` and blank -- not marked -- accepted)."""
    if value in ('', '0', '0.0'):
        return 0
    if value in ('1', '1.0'):
        return 1
    raise ValueError(f'{NAME}: {path} line {line}, column {column!r}: '
                     f'{value!r} is not 0 or 1.')


def _read_annotations(path: str):
    """Yield (image_id, (lesion, x1, y1, x2, y2, where)) of the 14 lesions
    (``where``: file and line), and (image_id, None) for a box of one of the
    8 other local labels."""
    rows = read_table(path, ('image_id', 'class_name') + BOX_COLUMNS, NAME)
    for line, row in enumerate(rows, start=2):
        cls = row['class_name']
        if cls in LESIONS:
            yield row['image_id'], (cls,) + _box(row, path, line) + (
                _where(path, line),)
        elif cls in OTHER_LOCAL:
            yield row['image_id'], None
        elif cls not in GLOBAL:
            raise ValueError(f'{NAME}: {path} line {line} ({row["image_id"]})'
                             f': unknown class {cls!r}; expected one of the '
                             f'22 local or 6 global VinDr-CXR labels.')


def _where(path: str, line: int) -> str:
    """The source row of a box, for meta.json's skip examples."""
    return f'{osp.basename(path)} line {line}'


def _box(row: dict, path: str, line: int) -> tuple:
    try:
        return tuple(float(row[c]) for c in BOX_COLUMNS)
    except ValueError:
        raise ValueError(
            f'{NAME}: {path} line {line} ({row["image_id"]}, '
            f'{row["class_name"]}): box {[row[c] for c in BOX_COLUMNS]} is '
            'not four numbers.')


# --------------------------------------------------------------------- Kaggle
def _read_kaggle(src: str):
    """(labels, boxes) of Kaggle's train.csv; boxes as in
    :func:`_read_annotations`."""
    path = find_file(src, 'train.csv', dataset=NAME)
    rows = read_table(path, KAGGLE_COLUMNS, NAME)
    readers: Dict[str, set] = {}
    effusion: Dict[str, set] = {}
    normal: Dict[str, set] = {}
    boxes: Dict[str, List[tuple]] = {}
    for line, row in enumerate(rows, start=2):
        image_id, cls, reader = row['image_id'], row['class_name'], \
            row['rad_id']
        if cls == 'No finding':
            expected = NO_FINDING_ID
        elif cls in LESIONS:
            expected = LESIONS.index(cls)
        else:
            raise ValueError(f'{NAME}: {path} line {line} ({image_id}): '
                             f'unknown class {cls!r}; expected one of the 14 '
                             'lesions or No finding.')
        if row['class_id'] != str(expected):
            raise ValueError(f'{NAME}: {path} line {line} ({image_id}): '
                             f'class_id {row["class_id"]!r} does not match '
                             f'class_name {cls!r} (expected {expected}).')
        readers.setdefault(image_id, set()).add(reader)
        if cls == 'No finding':
            normal.setdefault(image_id, set()).add(reader)
            continue
        boxes.setdefault(image_id, []).append(
            (cls,) + _box(row, path, line) + (_where(path, line),))
        if cls == 'Pleural effusion':
            effusion.setdefault(image_id, set()).add(reader)
    labels = {}
    for image_id, who in readers.items():
        n = len(who)
        labels[image_id] = [
            vote(len(effusion.get(image_id, ())), n), None, None, None, None,
            vote(len(normal.get(image_id, ())), n)]
    return labels, boxes
