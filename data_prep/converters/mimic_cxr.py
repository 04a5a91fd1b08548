"""MIMIC-CXR-JPG 2.0.0 (Johnson et al. 2019): the 14 CheXpert-labeler observations.

Official distribution (PhysioNet, ``mimic-cxr-jpg/2.0.0/``)::

    mimic-cxr-2.0.0-chexpert.csv.gz   subject_id, study_id, the 14 observations
    mimic-cxr-2.0.0-split.csv.gz      dicom_id, study_id, subject_id, split
    mimic-cxr-2.0.0-metadata.csv.gz   dicom_id, subject_id, study_id, ...,
                                      ViewPosition, Rows, Columns, ...
    files/p10/p10000032/s50414267/02aa804e-bde0afdd-112c0b34-7bc16630-4e384014.jpg

Images lie at ``files/pXX/pSUBJECT/sSTUDY/DICOM_ID.jpg`` where ``XX`` is the
first two digits of the subject id. Labels are per study (from the report) and
given to every image of the study; each observation is ``1.0``, ``0.0``,
``-1.0`` (uncertain) or blank (not mentioned), kept as 1, 0, -1 and missing,
exactly as for CheXpert (same labeler; :func:`chexpert.parse_label`). ``split``
is ``train``, ``validate`` or ``test``: the official, patient-wise split, used
as train / val / test. The CSVs may be plain or gzipped.

Views: frontal only, ``ViewPosition`` ``PA`` or ``AP``; other positions
(lateral, LL, AP AXIAL, blank ...) are counted under ``not a frontal view``.
The split CSV lists the images; those of a study without a row in the
CheXpert CSV are counted under ``study has no labels``, those without a row in
the metadata CSV under ``no metadata row``, and those absent from ``--src``
under ``image file missing``. Layout file names are ``DICOM_ID.jpg`` (unique).

``--src`` is the folder holding ``files/`` and the CSVs, or any folder above
it (a PhysioNet mirror's ``physionet.org/``). One walk of ``--src`` finds the
three CSVs; it never enters the image tree (``files/pXX/``): images are not
searched for but opened at their computed path.

Column names and codes were checked against public code reading these files;
the 2.1.0 JPG release was not checked.
"""
import os
import os.path as osp
import re
from typing import Dict, List, Optional

from ..layout import PreparedWriter
from ..progress import progress
from ..registry import register
from ..tables import read_table
from .chexpert import parse_label

NAME = 'MIMIC-CXR'
CLASSES = [
    'No Finding', 'Enlarged Cardiomediastinum', 'Cardiomegaly',
    'Lung Opacity', 'Lung Lesion', 'Edema', 'Consolidation', 'Pneumonia',
    'Atelectasis', 'Pneumothorax', 'Pleural Effusion', 'Pleural Other',
    'Fracture', 'Support Devices'
]
FRONTAL = ('PA', 'AP')
SPLITS = {'train': 'train', 'validate': 'val', 'test': 'test'}
LABELS_CSV = 'mimic-cxr-2.0.0-chexpert.csv'
SPLIT_CSV = 'mimic-cxr-2.0.0-split.csv'
META_CSV = 'mimic-cxr-2.0.0-metadata.csv'
# files/p10 ... files/p19: the image tree (377k files), never walked.
IMAGE_TREE = re.compile(r'^p\d+$')


def _find_tables(src: str, names=(LABELS_CSV, SPLIT_CSV, META_CSV)
                 ) -> Dict[str, str]:
    """Each of ``names`` (plain, .gz or .zip) under ``src``, by name.

    The choice is :func:`tables.find_file`'s, made for the tables together
    in one walk: per name the plain file before .gz before .zip, each
    directly in ``src`` if it is there, else the first by path at any depth
    (hidden folders skipped and links followed, as ``glob`` does). The walk
    never enters the image tree (``files/pXX/``), so it lists a handful of
    folders, not 377k files three times.

    Raises:
        FileNotFoundError: Naming the table(s) not found.
    """
    variants = {name: (name, name + '.gz', name + '.zip') for name in names}
    wanted = {v for vs in variants.values() for v in vs}
    found: Dict[str, List[str]] = {}
    for folder, dirs, files in os.walk(src, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith('.') and not (
            osp.basename(folder) == 'files' and IMAGE_TREE.match(d))]
        for f in files:
            if f in wanted:
                found.setdefault(f, []).append(osp.join(folder, f))
    tables, absent = {}, []
    for name, vs in variants.items():
        v = next((v for v in vs if v in found), None)
        if v is None:
            absent.append(name)
            continue
        direct = osp.join(src, v)
        tables[name] = direct if direct in found[v] else min(found[v])
    if absent:
        raise FileNotFoundError(
            f'{NAME}: none of {absent} (plain, .gz or .zip) under {src}.')
    return tables


def _image_path(root: str, subject: str, study: str, dicom: str) -> str:
    return osp.join(root, 'files', f'p{subject[:2]}', f'p{subject}',
                    f's{study}', f'{dicom}.jpg')


def _skip_named(writer: PreparedWriter, reason: str, detail: str) -> None:
    """Skip, naming only the first few items (a partial download of 377k
    images would otherwise flood the log)."""
    writer.skip(reason, detail if writer.skipped.get(reason, 0) < 20 else '')


@register('mimic_cxr',
          'mimic-cxr-2.0.0-chexpert.csv.gz (subject_id, study_id, 14 '
          'observations), mimic-cxr-2.0.0-split.csv.gz (dicom_id, study_id, '
          'subject_id, split), mimic-cxr-2.0.0-metadata.csv.gz (dicom_id, '
          'ViewPosition), files/pXX/pSUBJECT/sSTUDY/DICOM_ID.jpg')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None) -> dict:
    """Convert MIMIC-CXR-JPG's frontal images with the official split.

    Args:
        src (str): The download (the folder holding ``files/`` and the CSVs).
        out (str): Output folder.
        resize (int, optional): Longest side of decoded PNGs.
        seed (int): Unused: the split is official.
        limit (int, optional): Keep the first N frontal images (split CSV
            order).

    Returns:
        dict: The summary written to meta.json.
    """
    tables = _find_tables(src)
    labels_csv, split_csv, meta_csv = (
        tables[LABELS_CSV], tables[SPLIT_CSV], tables[META_CSV])

    study_labels: Dict[str, List[Optional[int]]] = {}
    for line_no, row in enumerate(read_table(
            labels_csv, ['subject_id', 'study_id'] + CLASSES, NAME), start=2):
        where = f'{NAME}: {labels_csv} line {line_no} (study {row["study_id"]})'
        study_labels[row['study_id']] = [
            parse_label(row[c], where, c) for c in CLASSES]
    view = {row['dicom_id']: row['ViewPosition'] for row in read_table(
        meta_csv, ['dicom_id', 'ViewPosition'], NAME)}
    rows = read_table(split_csv, ['dicom_id', 'study_id', 'subject_id',
                                  'split'], NAME)

    # Images lie below the folder holding files/: src, or the CSVs' folder.
    roots = [r for r in (src, osp.dirname(split_csv))
             if osp.isdir(osp.join(r, 'files'))] or [src]
    writer = PreparedWriter(out, NAME, dict(cls=CLASSES), resize)
    splits: Dict[str, List[str]] = {s: [] for s in SPLITS.values()}
    kept, seen = 0, set()
    for line_no, row in progress(enumerate(rows, start=2), len(rows),
                                 'images'):
        if limit and kept >= limit:
            break
        dicom, study, subject = row['dicom_id'], row['study_id'], \
            row['subject_id']
        if row['split'] not in SPLITS:
            raise ValueError(f'{NAME}: {split_csv} line {line_no} ({dicom}): '
                             f'split {row["split"]!r} is not one of '
                             f'{sorted(SPLITS)}.')
        if dicom in seen:
            raise ValueError(f'{NAME}: {split_csv} line {line_no}: dicom_id '
                             f'{dicom} is listed twice.')
        seen.add(dicom)
        if dicom not in view:
            _skip_named(writer, 'no metadata row', dicom)
            continue
        if view[dicom] not in FRONTAL:
            writer.skip('not a frontal view')
            continue
        if study not in study_labels:
            _skip_named(writer, 'study has no labels', f'{dicom} (s{study})')
            continue
        image = next((p for p in (_image_path(r, subject, study, dicom)
                                  for r in roots) if osp.isfile(p)), None)
        if image is None:
            writer.missing(_image_path('', subject, study, dicom))
            continue
        name = writer.add_image_or_skip(image, f'{dicom}.jpg')
        if name is None:
            continue
        writer.add_cls(name, study_labels[study])
        splits[SPLITS[row['split']]].append(name)
        kept += 1
    return writer.write(splits, source=src)
