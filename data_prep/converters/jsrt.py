"""JSRT with the SCR masks (van Ginneken et al. 2006): heart, lungs, clavicles.

Official distributions:

* JSRT (Japanese Society of Radiological Technology), ``All247images/``:
  247 PA radiographs ``JPCLN001.IMG`` ... ``JPCLN154.IMG`` (with a nodule)
  and ``JPCNN001.IMG`` ... ``JPCNN093.IMG`` (without). Each ``.IMG`` is raw
  pixel data with no header: 2048 x 2048 pixels, 12-bit values stored as
  big-endian unsigned 16-bit (exactly 8,388,608 bytes). The stored values are
  inverted with respect to the usual display (high = dark): public readers of
  the set display ``1 - value / 4096``, and so does this converter
  (``4095 - value``, then min-max to 8 bits as
  :func:`fx_mm.datasets.image_io.to_uint8` does for deep data), so bone is
  bright. Written as PNG (``JPCLN001.png``).
* SCR (Segmentation in Chest Radiographs), ``scratch/``:
  ``fold1/masks/<object>/JPCLN001.gif`` and ``fold2/masks/<object>/...``
  with the objects ``heart``, ``left lung``, ``right lung``, ``left clavicle``
  and ``right clavicle``: binary GIFs at half the JSRT resolution
  (1024 x 1024). Any folder layout is accepted: every ``.gif`` below
  ``--src`` whose parent folder is one of the five objects counts.

Classes: ``Heart``; ``Lungs`` = left lung | right lung; ``Clavicles`` = left
clavicle | right clavicle. Masks are read with PIL (cv2 reads no GIF),
converted to gray (GIF pixels are palette indices) and are positive where
non-zero; they are scaled to the image size by nearest neighbour (a mask that
is not square like the image is an error naming the file).

An ``.IMG`` of the wrong byte size, or with values beyond 12 bits (a wrong
byte order or another format), is counted under ``unreadable image`` (named in
meta.json); an image without all five masks under ``masks missing``.

Split: SCR defines two folds for cross-validation (odd / even numbered
images), not a train / test split; each image is one patient, so the
converter uses a seeded 70 / 10 / 20 split over images like the other sets
without an official split.

Not verified from the publishers' own documentation (it was not found in the
sources searched): the inversion (taken from several independent public
readers, which all display ``1 - value / 4096``) and the 1024 x 1024 mask size
(the converter accepts any square size and scales it to the image).
"""
import glob
import os.path as osp
from typing import Dict, Optional

import cv2
import numpy as np
from PIL import Image

from fx_mm.datasets.image_io import to_uint8
from ..layout import PreparedWriter
from ..progress import progress
from ..registry import register
from ..splits import grouped_split

NAME = 'JSRT'
CLASSES = ['Heart', 'Lungs', 'Clavicles']
SIDE = 2048
IMG_BYTES = SIDE * SIDE * 2
MAX_VALUE = 4095  # 12-bit
# Class -> the SCR object folders whose union it is.
OBJECTS = {'Heart': ('heart',), 'Lungs': ('left lung', 'right lung'),
           'Clavicles': ('left clavicle', 'right clavicle')}
ALL_OBJECTS = tuple(o for objs in OBJECTS.values() for o in objs)


class IMGError(ValueError):
    """A JSRT .IMG file that is not 2048 x 2048 12-bit big-endian data."""


def read_img(path: str) -> np.ndarray:
    """A JSRT ``.IMG`` as displayed (bone bright), (2048, 2048) uint8.

    Raises:
        IMGError: On a wrong byte size or values beyond 12 bits.
    """
    size = osp.getsize(path)
    if size != IMG_BYTES:
        raise IMGError(f'{path}: {size} bytes; a JSRT .IMG is {SIDE}x{SIDE} '
                       f'16-bit big-endian, {IMG_BYTES} bytes.')
    raw = np.fromfile(path, dtype='>u2').reshape(SIDE, SIDE)
    if raw.max() > MAX_VALUE:
        raise IMGError(f'{path}: values up to {raw.max()}, beyond 12 bits '
                       '(not big-endian JSRT data?).')
    return to_uint8(MAX_VALUE - raw.astype(np.int32), path)


def read_gif_mask(path: str) -> np.ndarray:
    """A binary SCR mask (H, W) bool: gray value (not palette index) > 0."""
    with Image.open(path) as im:
        return np.asarray(im.convert('L')) > 0


def _index_masks(src: str) -> Dict[str, Dict[str, str]]:
    """Image stem -> SCR object -> GIF path.

    Raises:
        ValueError: If one image has two masks of an object.
    """
    index: Dict[str, Dict[str, str]] = {}
    for path in sorted(set(
            glob.glob(osp.join(src, '**', '*.gif'), recursive=True) +
            glob.glob(osp.join(src, '**', '*.GIF'), recursive=True))):
        obj = osp.basename(osp.dirname(path)).lower()
        if obj not in ALL_OBJECTS:
            continue
        stem = osp.splitext(osp.basename(path))[0].upper()
        masks = index.setdefault(stem, {})
        if obj in masks:
            raise ValueError(f'{NAME}: two {obj} masks for {stem} '
                             f'({masks[obj]}, {path}); point --src at one '
                             'copy of SCR.')
        masks[obj] = path
    return index


@register('jsrt',
          'All247images/*.IMG (2048x2048 12-bit big-endian raw), SCR '
          'scratch/fold{1,2}/masks/{heart,left lung,right lung,left clavicle,'
          'right clavicle}/*.gif')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None) -> dict:
    """Convert JSRT images (decoded to PNG) and the SCR masks.

    Args:
        src (str): A folder holding ``All247images/`` and SCR's masks.
        out (str): Output folder.
        resize (int, optional): Longest side of the PNGs.
        seed (int): Split seed.
        limit (int, optional): Keep the first N images (by name).

    Returns:
        dict: The summary written to meta.json.
    """
    images = sorted(set(
        glob.glob(osp.join(src, '**', '*.IMG'), recursive=True) +
        glob.glob(osp.join(src, '**', '*.img'), recursive=True)))
    if not images:
        raise FileNotFoundError(f'{NAME}: no .IMG files under {src}.')
    stems: Dict[str, str] = {}
    for path in images:
        stem = osp.splitext(osp.basename(path))[0].upper()
        if stem in stems:
            raise ValueError(f'{NAME}: two images named {stem} ({stems[stem]}'
                             f', {path}); point --src at one copy.')
        stems[stem] = path
    masks = _index_masks(src)
    writer = PreparedWriter(out, NAME, dict(seg=CLASSES), resize)
    groups: Dict[str, str] = {}
    for path in progress(images, len(images), 'images'):
        if limit and len(groups) >= limit:
            break
        stem = osp.splitext(osp.basename(path))[0].upper()
        found = masks.get(stem, {})
        missing = [o for o in ALL_OBJECTS if o not in found]
        if missing:
            writer.skip('masks missing', f'{path}: no {missing} mask')
            continue
        try:
            pixels = read_img(path)
        except IMGError as e:
            writer.skip('unreadable image', str(e))
            continue
        stack = []
        for cls in CLASSES:
            union = np.zeros(pixels.shape, bool)
            for obj in OBJECTS[cls]:
                mask = read_gif_mask(found[obj])
                if mask.shape[0] != mask.shape[1]:
                    raise ValueError(f'{NAME}: mask {found[obj]} is '
                                     f'{mask.shape[1]}x{mask.shape[0]}, not '
                                     f'square like its {SIDE}x{SIDE} image.')
                if mask.shape != pixels.shape:
                    mask = cv2.resize(mask.astype(np.uint8), pixels.shape[::-1],
                                      interpolation=cv2.INTER_NEAREST) > 0
                union |= mask
            stack.append(union)
        name = writer.add_image(path, f'{stem}.png', pixels=pixels)
        writer.add_masks(name, np.stack(stack))
        groups[name] = name  # one image per patient
    return writer.write(grouped_split(groups, seed), source=src)
