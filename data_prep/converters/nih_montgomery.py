"""NIH Montgomery County CXR set (Jaeger et al. 2014): lung masks.

Official distribution (NLM, ``NLM-MontgomeryCXRSet.zip``)::

    MontgomerySet/
        CXR_png/MCUCXR_0001_0.png ...           138 PNGs, 12-bit gray levels,
                                                4020 x 4892 or 4892 x 4020
        ManualMask/leftMask/MCUCXR_0001_0.png   one binary mask per lung,
        ManualMask/rightMask/MCUCXR_0001_0.png  same name and size as the image
        ClinicalReadings/MCUCXR_0001_0.txt      (not read)

The last digit of a name is the tuberculosis label (``_1`` / ``_0``); the
paper's config uses this set for segmentation only: one class ``Lungs``, the
union of the left and right masks (a pixel is lung where either mask is
non-zero). Masks named ``<stem>_mask.png`` (as some re-distributions do) are
accepted too.

A mask whose size differs from its image's raises a ``ValueError`` naming both
files: a mismatched mask would silently mislabel every pixel. An image with a
mask missing is counted under ``mask missing``, an unreadable image or mask
under ``unreadable image`` / ``unreadable mask``.

Split: each image is one patient; a seeded 70 / 10 / 20 split over images (no
official split exists).
"""
import glob
import os.path as osp
from typing import Dict, Optional

import cv2
import numpy as np
from PIL import Image

from fx_mm.datasets.image_io import ImageReadError
from ..layout import PreparedWriter
from ..progress import progress
from ..registry import register
from ..splits import grouped_split
from .nih_shenzhen import image_folder

NAME = 'NIH-Montgomery'
CLASSES = ['Lungs']
SIDES = ('leftMask', 'rightMask')


def _mask_path(mask_root: str, side: str, stem: str) -> Optional[str]:
    for name in (f'{stem}.png', f'{stem}_mask.png'):
        path = osp.join(mask_root, side, name)
        if osp.isfile(path):
            return path
    return None


def _image_size(path: str) -> tuple:
    """(height, width) from the PNG header, without decoding 20M pixels."""
    try:
        with Image.open(path) as im:
            return im.size[1], im.size[0]
    except Exception as e:  # PIL raises several types for bad files
        raise ImageReadError(f'{path}: not a readable image ({e}).')


@register('nih_montgomery',
          'MontgomerySet/CXR_png/MCUCXR_NNNN_L.png, '
          'ManualMask/{leftMask,rightMask}/MCUCXR_NNNN_L.png')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None) -> dict:
    """Convert the Montgomery set's images and lung masks.

    Args:
        src (str): The download (``MontgomerySet/`` or a folder above it).
        out (str): Output folder.
        resize (int, optional): Longest side of decoded PNGs.
        seed (int): Split seed.
        limit (int, optional): Keep the first N images (by name).

    Returns:
        dict: The summary written to meta.json.

    Raises:
        ValueError: If a mask's size differs from its image's.
    """
    images = image_folder(src, 'CXR_png', NAME)
    mask_root = osp.join(osp.dirname(osp.normpath(images)), 'ManualMask')
    if not osp.isdir(mask_root):
        raise FileNotFoundError(f'{NAME}: no ManualMask/ folder next to '
                                f'{images}.')
    paths = sorted(glob.glob(osp.join(images, '*.png')))
    writer = PreparedWriter(out, NAME, dict(seg=CLASSES), resize)
    groups: Dict[str, str] = {}
    for path in progress(paths, len(paths), 'images'):
        if limit and len(groups) >= limit:
            break
        stem = osp.splitext(osp.basename(path))[0]
        masks = [_mask_path(mask_root, side, stem) for side in SIDES]
        if None in masks:
            writer.skip('mask missing', f'{stem}: no ' + ', '.join(
                f'{side}/{stem}.png' for side, m in zip(SIDES, masks)
                if m is None))
            continue
        try:
            size = _image_size(path)
        except ImageReadError as e:
            writer.skip('unreadable image', str(e))
            continue
        lungs = np.zeros(size, bool)
        unreadable = None
        for mask_path in masks:
            mask = cv2.imread(mask_path, cv2.IMREAD_GRAYSCALE)
            if mask is None:
                unreadable = mask_path
                break
            if mask.shape != size:
                raise ValueError(
                    f'{NAME}: mask {mask_path} is {mask.shape[1]}x'
                    f'{mask.shape[0]} but its image {path} is {size[1]}x'
                    f'{size[0]}.')
            lungs |= mask > 0
        if unreadable:
            writer.skip('unreadable mask', f'{unreadable}: not a readable '
                        'PNG')
            continue
        name = writer.add_image_or_skip(path)
        if name is None:
            continue
        writer.add_masks(name, lungs[None])
        groups[name] = name  # one image per patient
    return writer.write(grouped_split(groups, seed), source=src)
