"""CheXmask, VinDr-CXR part (Gaggion et al. 2023): heart and lung masks.

CheXmask (``physionet.org/content/chexmask-cxr-segmentation-data``) ships one
table per source dataset, as ``.csv`` or ``.csv.gz``, in two versions:
``OriginalResolution/VinDr-CXR.csv`` (masks at each DICOM's own size -- the
one read here) and ``Preprocessed/VinDr-CXR.csv`` (masks of the 1024 x 1024
padded images HybridGNet saw, refused here because they do not fit the
DICOMs). Columns of the VinDr-CXR table::

    image_id          the VinDr-CXR image id (DICOM file name without .dicom)
    Dice RCA (Mean)   estimated segmentation quality (Reverse Classification
    Dice RCA (Max)    Accuracy); optional filter ``min_dice_rca``
    Landmarks         the HybridGNet contour points (not used)
    Left Lung, Right Lung, Heart
                      run-length masks: ``start length`` pairs, starts
                      counted from 1, over the image flattened row by row
    Height, Width     the image size the masks are at

Left and right are the patient's (the lung on the image's right side is the
left lung), as the table names them. The images are VinDr-CXR's DICOMs,
searched under ``src`` (``{train,test}/<image_id>.dicom`` of PhysioNet
VinDr-CXR, or Kaggle VinBigData's ``train/``), or under ``images`` when they
live elsewhere. Images absent there are counted and skipped.

Tasks: segmentation (Heart, Left Lung, Right Lung, in the config's order) and
localization with one box per connected component of each mask
(``data_prep.boxes.boxes_from_mask``), as the paper derives CheXmask's boxes.

Split: the table does not say which VinDr-CXR split an image belongs to, but
the image's folder does: when every image found lies in a ``train`` or
``test`` folder, VinDr-CXR's official split is followed (test = ``test/``;
val = a seeded 1/8 of ``train/``), so an image is in the same official part
as in the ``vindr_cxr`` layout. Otherwise a seeded 70 / 10 / 20 split by
image (no patient ids are published).

Verified against the CheXmask code repository (a sample of the
OriginalResolution table and the script that wrote it); the PhysioNet file
name may differ in compression (.csv / .csv.gz, both read).
"""
import os.path as osp
from glob import glob
from typing import Dict, Optional

import numpy as np

from ..boxes import boxes_from_mask
from ..layout import PreparedWriter
from ..progress import progress
from ..registry import register
from ..rle import RLEError, decode_absolute_rle
from ..splits import grouped_split
from ..tables import index_files, read_table

NAME = 'CheXmask-VinDr'
CLASSES = ['Heart', 'Left Lung', 'Right Lung']
TABLE = 'VinDr-CXR.csv'
COLUMNS = ('image_id', 'Heart', 'Left Lung', 'Right Lung', 'Height', 'Width')
DICE = 'Dice RCA (Mean)'


@register('chexmask_vindr',
          'OriginalResolution/VinDr-CXR.csv[.gz] (image_id, Dice RCA (Mean), '
          'Left Lung, Right Lung, Heart as 1-based row-major RLE, Height, '
          'Width); VinDr-CXR {train,test}/*.dicom')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None, images: Optional[str] = None,
            min_dice_rca: Optional[float] = None) -> dict:
    """Convert the VinDr-CXR table of CheXmask.

    Args:
        src (str): The CheXmask download (and the DICOMs, unless ``images``).
        out (str): The prepared layout's folder.
        resize (int, optional): Longest image side (decoded PNGs).
        seed (int): Split seed.
        limit (int, optional): Convert only the first N rows (by image id).
        images (str, optional): Folder holding the VinDr-CXR DICOMs.
        min_dice_rca (float, optional): Skip rows whose ``Dice RCA (Mean)``
            is below this (the CheXmask authors' quality estimate).

    Returns:
        dict: The summary written to meta.json.
    """
    table = _find_table(src)
    rows = read_table(table, COLUMNS + ((DICE,) if min_dice_rca else ()),
                      NAME)
    numbered = sorted(((r['image_id'], line, r) for line, r in
                       enumerate(rows, start=2)), key=lambda t: t[0])
    for (a, line_a, _), (b, line_b, _) in zip(numbered, numbered[1:]):
        if a == b:
            raise ValueError(f'{NAME}: {table} lines {line_a} and {line_b} '
                             f'both give image {a!r}.')
    if limit:
        numbered = numbered[:limit]
    files = index_files(images or src, ('.dicom', '.dcm'))
    writer = PreparedWriter(out, NAME, dict(loc=CLASSES, seg=CLASSES), resize)
    folder: Dict[str, str] = {}
    for image_id, line, row in progress(numbered, len(numbered),
                                        'CheXmask VinDr-CXR rows'):
        where = f'{table} line {line} ({image_id})'
        if min_dice_rca and _number(row, DICE, where, float) < min_dice_rca:
            writer.skip(f'{DICE} below {min_dice_rca}')
            continue
        path = files.get(image_id + '.dicom') or files.get(image_id + '.dcm')
        if path is None:
            writer.missing(image_id + '.dicom')
            continue
        height = _number(row, 'Height', where, int)
        width = _number(row, 'Width', where, int)
        masks = np.stack([_decode(row, c, height, width, where)
                          for c in CLASSES])
        name = writer.add_image_or_skip(path)
        if name is None:
            continue
        info = writer.images[name]
        s = info['scale']
        if (round(height * s), round(width * s)) != (info['height'],
                                                     info['width']):
            raise ValueError(
                f'{NAME}: {where}: masks are {height}x{width} (Height x '
                f'Width) but the image {path} is not; use the '
                'OriginalResolution table, not the Preprocessed one.')
        writer.add_masks(name, masks)
        writer.add_boxes_for(name)
        for cls, mask in zip(CLASSES, masks):
            for box in boxes_from_mask(mask):
                writer.add_box(name, cls, *box)
        folder[name] = osp.basename(osp.dirname(path))
    return writer.write(_split(folder, seed), source=src)


def _find_table(src: str) -> str:
    """The OriginalResolution table: a Preprocessed one has the wrong size."""
    found = []
    for name in (TABLE, TABLE + '.gz', TABLE + '.zip'):
        found += glob(osp.join(src, '**', name), recursive=True)
    original = sorted(p for p in found
                      if 'preprocessed' not in p.lower().split(osp.sep)[-2])
    if not original:
        raise FileNotFoundError(
            f'{NAME}: no {TABLE}[.gz] under {src} outside a Preprocessed '
            'folder (CheXmask\'s OriginalResolution/VinDr-CXR.csv is needed;'
            ' the Preprocessed masks do not fit the DICOMs).')
    return original[0]


def _number(row: dict, column: str, where: str, kind):
    try:
        return kind(float(row[column])) if kind is int else kind(row[column])
    except ValueError:
        raise ValueError(f'{NAME}: {where}, column {column!r}: '
                         f'{row[column]!r} is not a number.')


def _decode(row: dict, column: str, height: int, width: int,
            where: str) -> np.ndarray:
    try:
        return decode_absolute_rle(row[column], height, width)
    except RLEError as e:
        raise ValueError(f'{NAME}: {where}, column {column!r}: {e}')


def _split(folder: Dict[str, str], seed: int) -> dict:
    """VinDr-CXR's official split when the folders show it, else 70/10/20."""
    if folder and set(folder.values()) <= {'train', 'test'}:
        trainval = {n: n for n, f in folder.items() if f == 'train'}
        inner = grouped_split(trainval, seed, fractions=(7 / 8, 1 / 8, 0.0))
        return dict(train=inner['train'], val=inner['val'],
                    test=[n for n, f in folder.items() if f == 'test'])
    return grouped_split({n: n for n in folder}, seed)
