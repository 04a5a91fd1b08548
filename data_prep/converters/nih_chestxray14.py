"""NIH ChestX-ray14 (Wang et al. 2017): 14 findings, multi-label classification.

Official distribution: ``Data_Entry_2017_v2020.csv`` (or ``Data_Entry_2017.csv``;
``Image Index``, ``Finding Labels`` joined by ``|`` with ``No Finding``,
``Patient ID``), ``train_val_list.txt`` / ``test_list.txt`` (the official
patient-wise split) and ``images*/`` folders of PNGs (``images/`` or the
``images_001/images`` ... ``images_012/images`` of the archive). The CSV may be
gzipped. Findings are definite: every class is 1 or 0 (no uncertain labels).
"""
import glob
import os.path as osp
from typing import Optional

from ..layout import PreparedWriter
from ..progress import progress
from ..registry import register
from ..splits import grouped_split
from ..tables import find_file, read_lines, read_table

CLASSES = [
    'Atelectasis', 'Cardiomegaly', 'Effusion', 'Infiltration', 'Mass',
    'Nodule', 'Pneumonia', 'Pneumothorax', 'Consolidation', 'Edema',
    'Emphysema', 'Fibrosis', 'Pleural Thickening', 'Hernia'
]
# The CSV writes one finding without its space.
ALIASES = {'Pleural_Thickening': 'Pleural Thickening'}


@register('nih_chestxray14',
          'Data_Entry_2017_v2020.csv[.gz] (Image Index, Finding Labels, '
          'Patient ID), train_val_list.txt, test_list.txt, images*/**/*.png')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None) -> dict:
    """Convert; images missing from ``src`` or unreadable are counted and
    skipped.

    The official test list is the test split; train_val_list is split 7:1
    into train / val by patient (seeded). Without the lists, a seeded
    70 / 10 / 20 split by patient.
    """
    entry = find_file(src, 'Data_Entry_2017_v2020.csv', 'Data_Entry_2017.csv',
                      dataset='NIH-ChestX-ray14')
    images = {osp.basename(p): p for p in glob.glob(
        osp.join(src, 'images*', '**', '*.png'), recursive=True)}
    images.update({osp.basename(p): p for p in glob.glob(
        osp.join(src, '*.png'))})
    writer = PreparedWriter(out, 'NIH-ChestX-ray14', dict(cls=CLASSES),
                            resize)
    patient = {}
    rows = read_table(entry, ('Image Index', 'Finding Labels', 'Patient ID'),
                      dataset='NIH-ChestX-ray14')
    for line_no, row in progress(enumerate(rows, start=2), len(rows),
                                 'label rows'):
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
            writer.missing(name)
            continue
        if writer.add_image_or_skip(images[name], name) is None:
            continue
        writer.add_cls(name, [int(c in findings) for c in CLASSES])
        patient[name] = row['Patient ID']
    lists = [find_file(src, n, required=False)
             for n in ('train_val_list.txt', 'test_list.txt')]
    if all(lists):
        test = set(read_lines(lists[1]))
        trainval = {n: p for n, p in patient.items() if n not in test}
        inner = grouped_split(trainval, seed, fractions=(7 / 8, 1 / 8, 0.0))
        splits = dict(train=inner['train'], val=inner['val'],
                      test=sorted(n for n in patient if n in test))
    else:
        splits = grouped_split(patient, seed)
    return writer.write(splits, source=src)
