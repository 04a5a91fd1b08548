"""CheXpert (Irvin et al. 2019): 14 observations, multi-label classification.

Official distribution (``CheXpert-v1.0`` or the downsampled
``CheXpert-v1.0-small``)::

    CheXpert-v1.0-small/
        train.csv
        valid.csv
        train/patient00001/study1/view1_frontal.jpg
        valid/patient64541/study1/view1_frontal.jpg

Both CSVs have the columns ``Path``, ``Sex``, ``Age``, ``Frontal/Lateral``
(``Frontal`` / ``Lateral``), ``AP/PA`` (``AP``, ``PA``, ``LL``, ``RL`` or
blank for laterals) and the 14 observations ``No Finding`` ...
``Support Devices``. An observation is ``1.0`` (positive), ``0.0``
(negative), ``-1.0`` (uncertain) or blank (not mentioned); the converter keeps
all four distinct (1, 0, -1, missing). ``valid.csv`` (radiologist consensus
labels) has only 1.0 / 0.0. ``Path`` starts with the archive's folder name
(``CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg``); it is
resolved relative to the folder holding the archive folder, so ``--src`` may be
that parent folder or the archive folder itself.

Views: frontal only (``Frontal/Lateral == Frontal``), like the other
classification sets of the paper (NIH ChestX-ray14, MIMIC-CXR frontal);
lateral rows are counted under ``lateral view`` in meta.json's skips.
``frontal_only=False`` keeps every view.

Layout file names flatten patient / study / view
(``patient00001_study1_view1_frontal.jpg``): patient numbers are unique across
``train`` and ``valid``, so the names are unique (checked).

Split: ``valid.csv`` is the official held-out set and becomes ``test``;
``train.csv`` is split 7:1 into train / val by a seeded split grouped by
patient (the ``patientNNNNN`` folder), so no patient is in two splits.

Format facts were checked against public code reading the archive (column
names, path prefix, value codes); CheXpert's own test set (``test_labels.csv``,
released later with CheXlocalize) is not read.
"""
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Tuple

from ..layout import PreparedWriter
from ..progress import progress
from ..registry import register
from ..splits import grouped_split
from ..tables import find_file, read_table

NAME = 'CheXpert'
CLASSES = [
    'No Finding', 'Enlarged Cardiomediastinum', 'Cardiomegaly',
    'Lung Opacity', 'Lung Lesion', 'Edema', 'Consolidation', 'Pneumonia',
    'Atelectasis', 'Pneumothorax', 'Pleural Effusion', 'Pleural Other',
    'Fracture', 'Support Devices'
]
REQUIRED = ['Path', 'Frontal/Lateral'] + CLASSES
# The CheXpert labeler's codes, as the CSVs write them (MIMIC-CXR-JPG uses
# the same labeler and codes).
LABEL_CODES = {'1.0': 1, '1': 1, '0.0': 0, '0': 0, '-1.0': -1, '-1': -1,
               '': None}
PATIENT = re.compile(r'^patient\d+$')


def parse_label(value: str, where: str, column: str) -> Optional[int]:
    """A CheXpert-labeler cell as 1, 0, -1 or None (blank: not mentioned).

    Args:
        value (str): The cell, stripped.
        where (str): File, line and image, for the error message.
        column (str): The observation.

    Raises:
        ValueError: On any other value (never guessed into a label).
    """
    if value not in LABEL_CODES:
        raise ValueError(f'{where}, column {column!r}: value {value!r} is not '
                         '1.0, 0.0, -1.0 or blank.')
    return LABEL_CODES[value]


def _find_csv(src: str, name: str) -> str:
    """``name`` in ``src`` or in an archive folder directly below it.

    Looked for there first so that a full download (224k images) is not
    walked; other depths through :func:`find_file`.
    """
    candidates = [osp.join(src, name)] + sorted(
        osp.join(src, d, name) for d in os.listdir(src)
        if d.lower().startswith('chexpert'))
    for path in candidates:
        if osp.isfile(path):
            return path
    return find_file(src, name, dataset=NAME)


def _resolve(src: str, csv_path: str, rel: str) -> Optional[str]:
    """The image a CSV ``Path`` names, or None if it is not in the download.

    ``Path`` includes the archive folder; the folder that holds the CSV is
    that archive folder, so the path is tried below its parent, then with the
    archive folder dropped below the CSV's folder and below ``src``.
    """
    parts = rel.replace('\\', '/').split('/')
    csv_dir = osp.dirname(csv_path)
    for candidate in (osp.join(osp.dirname(csv_dir), *parts),
                      osp.join(csv_dir, *parts[1:]),
                      osp.join(src, *parts),
                      osp.join(src, *parts[1:])):
        if osp.isfile(candidate):
            return candidate
    return None


def _layout_name(rel: str, where: str) -> Tuple[str, str]:
    """(layout file name, patient id) of a CSV ``Path``.

    Raises:
        ValueError: If the path has no ``patientNNNNN`` folder.
    """
    parts = rel.replace('\\', '/').split('/')
    idx = next((i for i, p in enumerate(parts) if PATIENT.match(p)), None)
    if idx is None or idx >= len(parts) - 1:
        raise ValueError(f'{where}: Path {rel!r} has no patientNNNNN/ folder '
                         '(expected .../patient00001/study1/view1_frontal.jpg).')
    return '_'.join(parts[idx:]), parts[idx]


@register('chexpert',
          'train.csv, valid.csv (Path, Frontal/Lateral, 14 observations: '
          '1.0 / 0.0 / -1.0 / blank), {train,valid}/patient*/study*/*.jpg')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None, frontal_only: bool = True) -> dict:
    """Convert CheXpert; images missing from ``src`` are counted and skipped.

    Args:
        src (str): The download: ``CheXpert-v1.0[-small]/`` or its parent.
        out (str): Output folder.
        resize (int, optional): Longest side of decoded PNGs.
        seed (int): Seed of the train / val split.
        limit (int, optional): At most this many images from each CSV.
        frontal_only (bool): Keep frontal views only (the default).

    Returns:
        dict: The summary written to meta.json.
    """
    writer = PreparedWriter(out, NAME, dict(cls=CLASSES), resize)
    patient: Dict[str, str] = {}
    members: Dict[str, List[str]] = {}
    for csv_name in ('train.csv', 'valid.csv'):
        csv_path = _find_csv(src, csv_name)
        rows = read_table(csv_path, REQUIRED, dataset=NAME)
        kept = members.setdefault(csv_name, [])
        for line_no, row in progress(enumerate(rows, start=2), len(rows),
                                     f'{csv_name} rows'):
            if limit and len(kept) >= limit:
                break
            where = f'{NAME}: {csv_path} line {line_no}'
            view = row['Frontal/Lateral']
            if view not in ('Frontal', 'Lateral'):
                raise ValueError(f'{where}, column \'Frontal/Lateral\': value '
                                 f'{view!r} is not Frontal or Lateral.')
            # Labels are checked for every row, also those left out, so a
            # malformed file is reported whatever the view filter.
            labels = [parse_label(row[c], f'{where} ({row["Path"]})', c)
                      for c in CLASSES]
            if frontal_only and view == 'Lateral':
                writer.skip('lateral view')
                continue
            name, pid = _layout_name(row['Path'], where)
            if name in patient:
                raise ValueError(f'{where}: image {row["Path"]} appears twice '
                                 f'(layout name {name}).')
            image = _resolve(src, csv_path, row['Path'])
            if image is None:
                writer.missing(row['Path'])
                continue
            name = writer.add_image_or_skip(image, name)
            if name is None:
                continue
            writer.add_cls(name, labels)
            patient[name] = pid
            kept.append(name)
    trainval = {n: patient[n] for n in members['train.csv']}
    inner = grouped_split(trainval, seed, fractions=(7 / 8, 1 / 8, 0.0))
    splits = dict(train=inner['train'], val=inner['val'],
                  test=sorted(members['valid.csv']))
    return writer.write(splits, source=src)
