"""NIH Shenzhen Hospital CXR set (Jaeger et al. 2014): tuberculosis vs normal.

Official distribution (NLM, ``ChinaSet_AllFiles.zip``)::

    ChinaSet_AllFiles/
        CXR_png/CHNCXR_0001_0.png ... CHNCXR_0662_1.png
        ClinicalReadings/CHNCXR_0001_0.txt ...   (sex, age, reading)
        NLM-ChinaCXRSet-ReadMe.docx

662 PNGs (326 normal, 336 tuberculosis). The label is the last digit of the
file name: ``_1`` tuberculosis (1), ``_0`` normal (0); every image is
labelled, there are no uncertain or missing labels. The clinical readings are
free text and not read. Each image is one patient, so the split is a seeded
70 / 10 / 20 split over images (no official split exists).

``--src`` may be the folder holding ``ChinaSet_AllFiles/``, that folder, or
``CXR_png/`` itself. A PNG in ``CXR_png/`` whose name is not
``CHNCXR_NNNN_0.png`` / ``CHNCXR_NNNN_1.png`` is counted under ``file name
not CHNCXR_NNNN_L.png`` (named in meta.json) and never given a label; an
unreadable PNG is counted under ``unreadable image``.
"""
import glob
import os.path as osp
import re
from typing import Dict, Optional

from ..layout import PreparedWriter
from ..progress import progress
from ..registry import register
from ..splits import grouped_split

NAME = 'NIH-Shenzhen'
CLASSES = ['Tuberculosis']
PATTERN = re.compile(r'^CHNCXR_(\d{4})_([01])\.png$')
BAD_NAME = 'file name not CHNCXR_NNNN_L.png'


def image_folder(src: str, folder: str, dataset: str) -> str:
    """The ``folder`` (e.g. ``CXR_png``) of an NLM tuberculosis set.

    ``src`` may be that folder, or any folder above it (one match).

    Raises:
        FileNotFoundError / ValueError: None, or more than one, found.
    """
    if osp.basename(osp.normpath(src)) == folder:
        return src
    found = sorted(glob.glob(osp.join(src, '**', folder), recursive=True))
    found = [f for f in found if osp.isdir(f)]
    if not found:
        raise FileNotFoundError(f'{dataset}: no {folder}/ folder under {src}.')
    if len(found) > 1:
        raise ValueError(f'{dataset}: several {folder}/ folders under {src} '
                         f'({found}); point --src at one copy.')
    return found[0]


@register('nih_shenzhen',
          'ChinaSet_AllFiles/CXR_png/CHNCXR_NNNN_L.png (L: 1 tuberculosis, '
          '0 normal)')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None) -> dict:
    """Convert the Shenzhen set; labels come from the file names.

    Args:
        src (str): The download.
        out (str): Output folder.
        resize (int, optional): Longest side of decoded PNGs.
        seed (int): Split seed.
        limit (int, optional): Keep the first N images (by name).

    Returns:
        dict: The summary written to meta.json.
    """
    folder = image_folder(src, 'CXR_png', NAME)
    paths = sorted(glob.glob(osp.join(folder, '*.png')) +
                   glob.glob(osp.join(folder, '*.PNG')))
    writer = PreparedWriter(out, NAME, dict(cls=CLASSES), resize)
    groups: Dict[str, str] = {}
    for path in progress(paths, len(paths), 'images'):
        if limit and len(groups) >= limit:
            break
        match = PATTERN.match(osp.basename(path))
        if match is None:
            writer.skip(BAD_NAME, path)
            continue
        name = writer.add_image_or_skip(path)
        if name is None:
            continue
        writer.add_cls(name, [int(match.group(2))])
        groups[name] = name  # one image per patient
    return writer.write(grouped_split(groups, seed), source=src)
