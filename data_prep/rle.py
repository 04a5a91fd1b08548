"""Run-length mask codes of the chest X-ray datasets.

Two codes are in use:

* **Relative, column-major** (SIIM-ACR Kaggle, CANDID-PTX): a string of
  ``start length`` pairs where each start counts pixels *from the end of the
  previous run* (the first from pixel 0), over the image flattened column by
  column (``x`` outer, ``y`` inner). ``"-1"`` (or an empty string) is an empty
  mask.
* **Absolute, row-major, 1-based** (CheXmask): ``start length`` pairs, starts
  counted from 1 over the image flattened row by row.

Decoders raise :class:`RLEError` (a ``ValueError``) on odd pair counts,
negative values or a run that ends beyond the image, so a malformed string
can never become a silently wrong mask.
"""
from typing import Tuple

import numpy as np


class RLEError(ValueError):
    """A run-length string that does not describe a mask of the given size."""


def _pairs(rle: str) -> Tuple[np.ndarray, np.ndarray]:
    try:
        values = np.array([int(v) for v in rle.split()], dtype=np.int64)
    except ValueError as e:
        raise RLEError(f'run-length string has a non-integer value ({e}).')
    if len(values) % 2:
        raise RLEError(f'run-length string has {len(values)} numbers; '
                       'expected start / length pairs.')
    if (values < 0).any():
        raise RLEError('run-length string has a negative value.')
    return values[0::2], values[1::2]


def is_empty_rle(rle: str) -> bool:
    """True for the empty-mask markers ``"-1"`` and ``""``."""
    return rle.strip() in ('', '-1')


def decode_relative_rle(rle: str, height: int, width: int) -> np.ndarray:
    """Decode a relative, column-major RLE (SIIM-ACR / CANDID-PTX).

    Args:
        rle (str): ``start length`` pairs, or ``"-1"`` for an empty mask.
        height (int): Image height H.
        width (int): Image width W.

    Returns:
        np.ndarray: (H, W) bool mask.

    Raises:
        RLEError: If the runs do not fit in H * W pixels.
    """
    flat = np.zeros(height * width, dtype=bool)
    if is_empty_rle(rle):
        return flat.reshape(width, height).T
    starts, lengths = _pairs(rle)
    ends = np.cumsum(starts + lengths)
    begins = ends - lengths
    if len(ends) and ends[-1] > flat.size:
        raise RLEError(f'run-length string covers {int(ends[-1])} pixels, '
                       f'more than the {height}x{width} image has.')
    for b, e in zip(begins, ends):
        flat[b:e] = True
    # Column-major: the flat index runs down each column first.
    return flat.reshape(width, height).T


def encode_relative_rle(mask: np.ndarray) -> str:
    """Encode an (H, W) mask as a relative, column-major RLE (``"-1"`` if empty).

    Args:
        mask (np.ndarray): (H, W) mask; nonzero is foreground.

    Returns:
        str: The inverse of :func:`decode_relative_rle`.
    """
    flat = np.asarray(mask).astype(bool).T.reshape(-1)
    begins, ends = _runs(flat)
    if not len(begins):
        return '-1'
    previous_end = np.concatenate([[0], ends[:-1]])
    pairs = np.stack([begins - previous_end, ends - begins], 1).reshape(-1)
    return ' '.join(str(int(v)) for v in pairs)


def decode_absolute_rle(rle: str, height: int, width: int) -> np.ndarray:
    """Decode an absolute, 1-based, row-major RLE (CheXmask).

    Args:
        rle (str): ``start length`` pairs, starts counted from 1.
        height (int): Image height H.
        width (int): Image width W.

    Returns:
        np.ndarray: (H, W) bool mask.

    Raises:
        RLEError: On a start of 0 or a run beyond the image.
    """
    flat = np.zeros(height * width, dtype=bool)
    if is_empty_rle(rle):
        return flat.reshape(height, width)
    starts, lengths = _pairs(rle)
    if (starts < 1).any():
        raise RLEError('absolute run-length starts are counted from 1; '
                       'found a 0.')
    ends = starts - 1 + lengths
    if ends.max() > flat.size:
        raise RLEError(f'run-length string reaches pixel {int(ends.max())}, '
                       f'beyond the {height}x{width} image.')
    for s, e in zip(starts - 1, ends):
        flat[s:e] = True
    return flat.reshape(height, width)


def encode_absolute_rle(mask: np.ndarray) -> str:
    """Encode an (H, W) mask as an absolute, 1-based, row-major RLE."""
    begins, ends = _runs(np.asarray(mask).astype(bool).reshape(-1))
    pairs = np.stack([begins + 1, ends - begins], 1).reshape(-1)
    return ' '.join(str(int(v)) for v in pairs)


def _runs(flat: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Begin (inclusive) and end (exclusive) indices of the True runs."""
    padded = np.concatenate([[False], flat, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return edges[0::2], edges[1::2]
