"""NIH ChestX-ray14 (Wang et al. 2017): 14 findings, multi-label classification.

Official distribution: ``Data_Entry_2017_v2020.csv`` (or ``Data_Entry_2017.csv``;
``Image Index``, ``Finding Labels`` joined by ``|`` with ``No Finding``,
``Patient ID``), ``train_val_list.txt`` / ``test_list.txt`` (the official
patient-wise split) and ``images*/`` folders of PNGs (``images/`` or the
``images_001/images`` ... ``images_012/images`` of the archive). The CSV may be
gzipped. Findings are definite: every class is 1 or 0 (no uncertain labels).
"""
import csv
import glob
import gzip
import os.path as osp
from typing import Optional

from ..layout import PreparedWriter
from ..registry import register
from ..splits import grouped_split

CLASSES = [
    'Atelectasis', 'Cardiomegaly', 'Effusion', 'Infiltration', 'Mass',
    'Nodule', 'Pneumonia', 'Pneumothorax', 'Consolidation', 'Edema',
    'Emphysema', 'Fibrosis', 'Pleural Thickening', 'Hernia'
]
# The CSV writes one finding without its space.
ALIASES = {'Pleural_Thickening': 'Pleural Thickening'}


def _open(path):
    return gzip.open(path, 'rt', newline='') if path.endswith('.gz') else \
        open(path, newline='')


def _find(src, *names):
    for name in names:
        for candidate in (osp.join(src, name), osp.join(src, name + '.gz')):
            if osp.isfile(candidate):
                return candidate
    return None


@register('nih_chestxray14',
          'Data_Entry_2017_v2020.csv[.gz] (Image Index, Finding Labels, '
          'Patient ID), train_val_list.txt, test_list.txt, images*/**/*.png')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None) -> dict:
    """Convert; images missing from ``src`` are counted and skipped.

    The official test list is the test split; train_val_list is split 7:1
    into train / val by patient (seeded). Without the lists, a seeded
    70 / 10 / 20 split by patient.
    """
    entry = _find(src, 'Data_Entry_2017_v2020.csv', 'Data_Entry_2017.csv')
    if entry is None:
        raise FileNotFoundError(f'{src}: no Data_Entry_2017[_v2020].csv[.gz].')
    images = {osp.basename(p): p for p in glob.glob(
        osp.join(src, 'images*', '**', '*.png'), recursive=True)}
    images.update({osp.basename(p): p for p in glob.glob(
        osp.join(src, '*.png'))})
    writer = PreparedWriter(out, 'NIH-ChestX-ray14', dict(cls=CLASSES),
                            resize)
    patient = {}
    with _open(entry) as f:
        reader = csv.DictReader(f)
        for column in ('Image Index', 'Finding Labels', 'Patient ID'):
            if column not in (reader.fieldnames or []):
                raise ValueError(f'{entry}: missing column {column!r} '
                                 f'(has {reader.fieldnames}).')
        for line_no, row in enumerate(reader, start=2):
            if limit and len(patient) >= limit:
                break
            name = row['Image Index']
            findings = {ALIASES.get(f, f) for f in
                        row['Finding Labels'].split('|')} - {'No Finding'}
            unknown = findings - set(CLASSES)
            if unknown:
                raise ValueError(f'{entry} line {line_no} ({name}): unknown '
                                 f'finding(s) {sorted(unknown)}.')
            if name not in images:
                writer.skip('image file missing')
                continue
            writer.add_image(images[name], name)
            writer.add_cls(name, [int(c in findings) for c in CLASSES])
            patient[name] = row['Patient ID']
    lists = [_find(src, n) for n in ('train_val_list.txt', 'test_list.txt')]
    if all(lists):
        with _open(lists[1]) as f:
            test = {line.strip() for line in f if line.strip()}
        trainval = {n: p for n, p in patient.items() if n not in test}
        inner = grouped_split(trainval, seed, fractions=(7 / 8, 1 / 8, 0.0))
        splits = dict(train=inner['train'], val=inner['val'],
                      test=sorted(n for n in patient if n in test))
    else:
        splits = grouped_split(patient, seed)
    return writer.write(splits, source=src)
