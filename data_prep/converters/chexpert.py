"""CheXpert (Irvin et al. 2019): 14 observations, multi-label classification.

Official distributions accepted (``--src`` = the archive folder or the folder
holding it / them):

* the downsampled ``CheXpert-v1.0-small`` (and the original single-folder
  ``CheXpert-v1.0``)::

      CheXpert-v1.0-small/
          train.csv, valid.csv
          train/patient00001/study1/view1_frontal.jpg
          valid/patient64541/study1/view1_frontal.jpg

* the full-resolution Stanford AIMI release, four folders whose names hold
  spaces and parentheses; the training patients lie directly in the batch
  folders (no ``train/`` level)::

      CheXpert-v1.0 batch 1 (validate & csv)/
          train.csv, valid.csv, valid/patient64541/study1/view1_frontal.jpg
      CheXpert-v1.0 batch 2 (train 1)/patient00001/study1/view1_frontal.jpg
      CheXpert-v1.0 batch 3 (train 2)/patient2xxxx/...
      CheXpert-v1.0 batch 4 (train 3)/patient4xxxx/...

* optionally, the official test set (500 studies, radiologist consensus,
  released with CheXlocalize): ``test_labels.csv`` (or ``test.csv``) whose
  ``Path`` is ``test/patient64741/study1/view1_frontal.jpg``, the images in a
  ``test/`` folder, anywhere under ``--src``.

train.csv / valid.csv have the columns ``Path``, ``Sex``, ``Age``,
``Frontal/Lateral`` (``Frontal`` / ``Lateral``), ``AP/PA`` and the 14
observations ``No Finding`` ... ``Support Devices``. An observation is ``1.0``
(positive), ``0.0`` (negative), ``-1.0`` (uncertain) or blank (not mentioned);
the converter keeps all four distinct (1, 0, -1, missing). ``valid.csv`` and
the test labels (radiologist labels) have only 1 / 0. The test CSV needs only
``Path`` and the 14 observations; without ``Frontal/Lateral`` the view is read
from the file name (``view1_frontal.jpg``).

``Path`` starts with the archive's folder name
(``CheXpert-v1.0/train/patient00001/study1/view1_frontal.jpg``), which in the
AIMI release matches no folder on disk. So ``--src`` is walked once, indexing
every image by its ``patientNNNNN/studyN/viewN_*.jpg`` tail, and each
``Path`` is looked up by that tail: no per-row file search, and every layout
above resolves the same way. Where ``--src`` holds folders named
``CheXpert*``, only those are walked (a parent folder may hold other
datasets). A tail found twice (say, the small and the full release side by
side) is settled by the copy at the ``Path`` itself, then by the copy in the
release ``Path`` names (``CheXpert-v1.0`` = the ``CheXpert-v1.0 batch N``
folders); otherwise it is an error naming both files.

Views: frontal only (``Frontal/Lateral == Frontal``), like the other
classification sets of the paper (NIH ChestX-ray14, MIMIC-CXR frontal);
lateral rows are counted under ``lateral view`` in meta.json's skips.
``frontal_only=False`` keeps every view.

Layout file names flatten patient / study / view
(``patient00001_study1_view1_frontal.jpg``): patient numbers are unique across
train, valid and test, so the names are unique (checked).

Split (recorded in meta.json as ``split_policy``, with the tables used under
``split_tables``):

* ``official_test`` when the test labels are present, as in the reference
  work: test labels = test, ``valid.csv`` = val, ``train.csv`` = train;
* ``valid_as_test`` otherwise: ``valid.csv`` (the official held-out set) =
  test, and ``train.csv`` split 7:1 into train / val by a seeded split grouped
  by patient (the ``patientNNNNN`` folder), so no patient is in two splits.

Format facts (column names, path prefix, value codes, the AIMI folder names,
the test CSV's ``test/patient64741/...`` paths) were checked against public
code and documentation reading these files, not against the archives.
"""
import os
import os.path as osp
import re
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from ..layout import PreparedWriter
from ..progress import progress
from ..registry import register
from ..splits import grouped_split
from ..tables import read_table

NAME = 'CheXpert'
CLASSES = [
    'No Finding', 'Enlarged Cardiomediastinum', 'Cardiomegaly',
    'Lung Opacity', 'Lung Lesion', 'Edema', 'Consolidation', 'Pneumonia',
    'Atelectasis', 'Pneumothorax', 'Pleural Effusion', 'Pleural Other',
    'Fracture', 'Support Devices'
]
REQUIRED = ['Path', 'Frontal/Lateral'] + CLASSES
# The test labels come without the demographic and view columns.
TEST_REQUIRED = ['Path'] + CLASSES
# The CheXpert labeler's codes, as the CSVs write them (MIMIC-CXR-JPG uses
# the same labeler and codes).
LABEL_CODES = {'1.0': 1, '1': 1, '0.0': 0, '0': 0, '-1.0': -1, '-1': -1,
               '': None}
PATIENT = re.compile(r'^patient\d+$')
STUDY = re.compile(r'^study\d+$')
# "CheXpert-v1.0 batch 2 (train 1)" -> release "CheXpert-v1.0".
AIMI_BATCH = re.compile(r'^(?P<release>.+?) batch \d+\b')
TABLES = ('train.csv', 'valid.csv')
TEST_TABLES = ('test_labels.csv', 'test.csv')
# A table may also come gzipped or zipped (read_table opens all three).
TABLE_FILES = {variant: name for name in TABLES + TEST_TABLES
               for variant in (name, name + '.gz', name + '.zip')}

Tail = Tuple[str, str, str]


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


class _Download:
    """One walk of ``--src``: the label tables and every image by its tail.

    Args:
        src (str): The download folder.
    """

    def __init__(self, src: str) -> None:
        self.src = src
        self.tables: Dict[str, List[str]] = {}
        self.images: Dict[Tail, List[str]] = {}
        # Our own walk, not os.walk: release folders linked in from another
        # disk are followed (the first two levels), deeper links are not (a
        # link cycle would never end); every folder is listed once.
        stack = [(src, 0)]
        while stack:
            folder, depth = stack.pop()
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
            # Hidden folders (.git, .cache) hold no part of the release.
            dirs = [e.name for e in entries if not e.name.startswith('.')
                    and e.is_dir(follow_symlinks=depth < 2)]
            if depth == 0:
                # Only the CheXpert folders of a parent that holds other
                # datasets.
                dirs = [d for d in dirs
                        if d.lower().startswith('chexpert')] or dirs
            stack.extend((osp.join(folder, d), depth + 1)
                         for d in reversed(dirs))
            parent, study = osp.split(folder)
            in_study = bool(STUDY.match(study)
                            and PATIENT.match(osp.basename(parent)))
            for e in entries:
                if e.is_dir(follow_symlinks=depth < 2):
                    continue
                if in_study:
                    self.images.setdefault(
                        (osp.basename(parent), study, e.name), []).append(
                            osp.join(folder, e.name))
                elif e.name in TABLE_FILES:
                    self.tables.setdefault(TABLE_FILES[e.name], []).append(
                        osp.join(folder, e.name))

    def table(self, name: str, near: Optional[str] = None) -> Optional[str]:
        """The ``name`` CSV found (plain before .gz / .zip): in ``near``'s
        folder if there is one there, else the shallowest, then first by
        path."""
        paths = self.tables.get(name, [])
        if near is not None:
            same = [p for p in paths
                    if osp.dirname(p) == osp.dirname(near)]
            paths = same or paths
        return min(paths, key=lambda p: (p.count(os.sep), p), default=None)

    def resolve(self, csv_path: str, parts: Sequence[str]) -> Optional[str]:
        """The image a CSV ``Path`` (split in ``parts``) names, or None.

        Raises:
            ValueError: If two images fit and neither is preferred.
        """
        found = self.images.get(tuple(parts[-3:]), [])
        if len(found) <= 1:
            return found[0] if found else None
        # The copy at the Path itself, read below the archive's parent or
        # with the archive folder dropped (--src = the archive folder).
        csv_dir = osp.dirname(csv_path)
        exact = [osp.normpath(p) for p in (
            osp.join(osp.dirname(csv_dir), *parts),
            osp.join(csv_dir, *parts[1:]), osp.join(self.src, *parts),
            osp.join(self.src, *parts[1:]))]
        preferred = [p for p in exact if p in map(osp.normpath, found)][:1]
        if not preferred:
            preferred = [p for p in found
                         if self._release(p) == parts[0]]
        if len(preferred) == 1:
            return preferred[0]
        raise ValueError(f'{NAME}: {csv_path}: image {"/".join(parts)} is in '
                         f'--src more than once ({", ".join(found)}); point '
                         '--src at one release.')

    def _release(self, path: str) -> str:
        """The release a file's top folder under ``src`` belongs to."""
        top = osp.relpath(path, self.src).split(os.sep)[0]
        batch = AIMI_BATCH.match(top)
        return batch['release'] if batch else top


def _layout_name(rel: str, where: str) -> Tuple[str, str, List[str]]:
    """(layout file name, patient id, path parts) of a CSV ``Path``.

    Raises:
        ValueError: If the path has no ``patientNNNNN`` folder.
    """
    parts = rel.replace('\\', '/').split('/')
    idx = next((i for i, p in enumerate(parts) if PATIENT.match(p)), None)
    if idx is None or idx >= len(parts) - 1:
        raise ValueError(f'{where}: Path {rel!r} has no patientNNNNN/ folder '
                         '(expected .../patient00001/study1/view1_frontal.jpg).')
    return '_'.join(parts[idx:]), parts[idx], parts


def _view(row: Dict[str, str], where: str) -> str:
    """``Frontal`` or ``Lateral``: the column, else the file name's view
    (the test labels have no view column)."""
    if 'Frontal/Lateral' in row:
        view = row['Frontal/Lateral']
        if view not in ('Frontal', 'Lateral'):
            raise ValueError(f'{where}, column \'Frontal/Lateral\': value '
                             f'{view!r} is not Frontal or Lateral.')
        return view
    stem = osp.splitext(row['Path'].replace('\\', '/').split('/')[-1])[0]
    kind = stem.rsplit('_', 1)[-1].lower()
    if kind not in ('frontal', 'lateral'):
        raise ValueError(f'{where}: no Frontal/Lateral column and the file '
                         f'name of {row["Path"]!r} does not end in _frontal '
                         'or _lateral.')
    return kind.capitalize()


@register('chexpert',
          'train.csv, valid.csv (Path, Frontal/Lateral, 14 observations: '
          '1.0 / 0.0 / -1.0 / blank), {train,valid}/patient*/study*/*.jpg or '
          'the AIMI "CheXpert-v1.0 batch N (...)" folders; optional '
          'test_labels.csv + test/patient*/study*/*.jpg (official test)')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None, frontal_only: bool = True) -> dict:
    """Convert CheXpert; images missing from ``src`` are counted and skipped.

    Args:
        src (str): The download: ``CheXpert-v1.0[-small]/``, the AIMI batch
            folders' parent, or the parent of the archive folder.
        out (str): Output folder.
        resize (int, optional): Longest side of decoded PNGs.
        seed (int): Seed of the train / val split (``valid_as_test`` only).
        limit (int, optional): At most this many images from each CSV.
        frontal_only (bool): Keep frontal views only (the default).

    Returns:
        dict: The summary written to meta.json.

    Raises:
        FileNotFoundError: If train.csv or valid.csv is not under ``src``.
    """
    print(f'[{NAME}] indexing {src}', file=sys.stderr)
    download = _Download(src)
    tables = {}
    tables['train'] = download.table('train.csv')
    tables['valid'] = download.table('valid.csv', near=tables['train'])
    for name, path in zip(TABLES, tables.values()):
        if path is None:
            raise FileNotFoundError(f'{NAME}: no {name} under {src} (expected '
                                    'CheXpert-v1.0[-small]/ or the AIMI '
                                    '"CheXpert-v1.0 batch 1 (validate & csv)"'
                                    ' folder there).')
    test_csv = next((p for p in (download.table(n) for n in TEST_TABLES)
                     if p), None)
    if test_csv:
        tables['test'] = test_csv
    writer = PreparedWriter(out, NAME, dict(cls=CLASSES), resize)
    patient: Dict[str, str] = {}
    members: Dict[str, List[str]] = {}
    for table, csv_path in tables.items():
        is_test = table == 'test'
        rows = read_table(csv_path, TEST_REQUIRED if is_test else REQUIRED,
                          dataset=NAME)
        kept = members.setdefault(table, [])
        csv_name = osp.basename(csv_path)
        for line_no, row in progress(enumerate(rows, start=2), len(rows),
                                     f'{csv_name} rows'):
            if limit and len(kept) >= limit:
                break
            where = f'{NAME}: {csv_path} line {line_no}'
            view = _view(row, where)
            # Labels are checked for every row, also those left out, so a
            # malformed file is reported whatever the view filter.
            labels = [parse_label(row[c], f'{where} ({row["Path"]})', c)
                      for c in CLASSES]
            name, pid, parts = _layout_name(row['Path'], where)
            if is_test and 'test' not in parts[:parts.index(pid)]:
                # A table named like the official one but listing other
                # images must not silently become the test split.
                raise ValueError(f'{where}: Path {row["Path"]!r} is not in a '
                                 'test/ folder (the official test labels '
                                 'read test/patient64741/study1/'
                                 'view1_frontal.jpg).')
            if frontal_only and view == 'Lateral':
                writer.skip('lateral view')
                continue
            if name in patient:
                raise ValueError(f'{where}: image {row["Path"]} appears twice '
                                 f'(layout name {name}).')
            image = download.resolve(csv_path, parts)
            if image is None:
                writer.missing(row['Path'])
                continue
            name = writer.add_image_or_skip(image, name)
            if name is None:
                continue
            writer.add_cls(name, labels)
            patient[name] = pid
            kept.append(name)
    used = {k: osp.relpath(v, src).replace(os.sep, '/')
            for k, v in tables.items()}
    if test_csv:
        policy = 'official_test'
        splits = dict(train=members['train'], val=members['valid'],
                      test=members['test'])
        split_tables = dict(train=used['train'], val=used['valid'],
                            test=used['test'])
    else:
        policy = 'valid_as_test'
        trainval = {n: patient[n] for n in members['train']}
        inner = grouped_split(trainval, seed, fractions=(7 / 8, 1 / 8, 0.0))
        splits = dict(train=inner['train'], val=inner['val'],
                      test=members['valid'])
        split_tables = dict(train=used['train'], val=used['train'],
                            test=used['valid'])
    return writer.write(splits, source=src, notes=dict(
        split_policy=policy, split_tables=split_tables))
