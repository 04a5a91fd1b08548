"""NIH ChestX-ray14 (Wang et al. 2017): 14 findings, multi-label classification.

Official distribution: ``Data_Entry_2017_v2020.csv`` (or ``Data_Entry_2017.csv``;
``Image Index``, ``Finding Labels`` joined by ``|`` with ``No Finding``,
``Patient ID``), ``train_val_list.txt`` / ``test_list.txt`` (the official
patient-wise split) and ``images*/`` folders of PNGs (``images/`` or the
``images_001/images`` ... ``images_012/images`` of the archive). The CSV may be
gzipped. Findings are definite: every class is 1 or 0 (no uncertain labels).

The label table and the split lists are looked for under ``--src`` (any
depth). Where they live elsewhere -- a folder of images (say
``../shared/data/nih1000_64px``, whose ``images/`` hold 1,000 of the 112,120
listed images) beside the CSV downloaded on its own -- name the table with
``--options labels=PATH/Data_Entry_2017_v2020.csv.gz``; the lists are then
also looked for in that file's folder. Images are read from ``--src``:
``images*/**/*.png`` and ``*.png`` directly in it. With most listed images
absent, pass ``--allow-partial``.

Split (meta.json ``split_policy``): with ``train_val_list.txt`` and
``test_list.txt``, the official test list is the test split and train_val is
split 7:1 by patient into train / val (``official_lists``); without them, a
seeded 70 / 10 / 20 split by ``Patient ID`` (``grouped_by_patient``). Either
way no patient is in two splits.
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
# The official patient-wise split.
LISTS = ('train_val_list.txt', 'test_list.txt')


@register('nih_chestxray14',
          'Data_Entry_2017_v2020.csv[.gz] (Image Index, Finding Labels, '
          'Patient ID; elsewhere: --options labels=PATH), train_val_list.txt, '
          'test_list.txt, images*/**/*.png')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None, labels: Optional[str] = None) -> dict:
    """Convert; images missing from ``src`` or unreadable are counted and
    skipped.

    Args:
        src (str): The download (images, and the tables unless ``labels``).
        out (str): Output folder.
        resize (int, optional): Longest side of decoded PNGs.
        seed (int): Split seed.
        limit (int, optional): Read only the first N label rows' images.
        labels (str, optional): The ``Data_Entry`` CSV when it is not under
            ``src``; the split lists are also looked for beside it.

    Returns:
        dict: The summary written to meta.json.
    """
    if labels:
        if not osp.isfile(labels):
            raise FileNotFoundError(f'NIH-ChestX-ray14: --options labels='
                                    f'{labels}: no such file.')
        entry = labels
    else:
        try:
            entry = find_file(src, 'Data_Entry_2017_v2020.csv',
                              'Data_Entry_2017.csv',
                              dataset='NIH-ChestX-ray14')
        except FileNotFoundError as e:
            raise FileNotFoundError(
                f'{e} If the label table is elsewhere, pass --options '
                'labels=PATH/Data_Entry_2017_v2020.csv.gz.') from e
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
    lists = _split_lists(src, labels)
    if lists:
        test = set(read_lines(lists[1]))
        trainval = {n: p for n, p in patient.items() if n not in test}
        inner = grouped_split(trainval, seed, fractions=(7 / 8, 1 / 8, 0.0))
        splits = dict(train=inner['train'], val=inner['val'],
                      test=sorted(n for n in patient if n in test))
        policy = 'official_lists'
    else:
        splits = grouped_split(patient, seed)
        policy = 'grouped_by_patient'
    patients = {s: len({patient[n] for n in names})
                for s, names in splits.items()}
    return writer.write(splits, source=src, notes=dict(
        labels_file=entry, split_policy=policy, patients=patients))


def _split_lists(src: str, labels: Optional[str]) -> Optional[list]:
    """The official split lists: under ``src`` (any depth), else directly
    beside the ``labels`` file (not below it: that folder may be large)."""
    found = [find_file(src, n, required=False) for n in LISTS]
    if all(found):
        return found
    if labels:
        folder = osp.dirname(osp.abspath(labels))
        found = [osp.join(folder, n) for n in LISTS]
        found = [next((p + ext for ext in ('', '.gz')
                       if osp.isfile(p + ext)), None) for p in found]
        if all(found):
            return found
    return None
