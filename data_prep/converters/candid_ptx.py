"""CANDID-PTX (Feng et al. 2021): pneumothorax label, boxes, masks.

Official distribution (University of Auckland figshare, DOI
10.17608/k6.auckland.14173982, after a data use agreement):

* ``Pneumothorax_reports.csv``: ``SOPInstanceUID``, ``EncodedPixels`` and the
  free-text ``Report`` (other columns, e.g. ``StudyInstanceUID`` and
  ``filename``, are used by public loaders and are optional here).
  ``EncodedPixels`` is ``-1`` for an image without pneumothorax, otherwise a
  run-length string read as **SIIM-style relative, column-major**
  (:func:`data_prep.rle.decode_relative_rle`): each start counts pixels
  from the end of the previous run (the first from pixel 0), over the image
  flattened column by column -- so ``"0 3"`` is the top three pixels of the
  image's left-most column, not of its top row; it is **not** read as an
  absolute (CheXmask-style) code. A ``SOPInstanceUID`` may have several
  rows (public loaders drop duplicates); rows are merged as a union, as
  for SIIM-ACR. A blank ``EncodedPixels`` is neither the documented
  negative nor a mask: such rows are left out of the merge, and an image
  with only blank rows is counted under ``blank EncodedPixels``.
* The DICOM images, in one folder (``dataset/`` in the archive), each named
  by its ``SOPInstanceUID`` -- with or without a ``.dcm`` suffix; both are
  found. A DICOM without the suffix is written as a decoded PNG. Only image
  files are indexed: names ending ``.dcm``, or consisting of a DICOM UID
  alone (digits and dots, as DICOM PS3.5 9.1 allows a UID); hidden files
  and folders (``.DS_Store``, AppleDouble ``._*``), ``__MACOSX/`` and
  Windows' ``Thumbs.db`` / ``desktop.ini`` never are, so a system file left
  in two folders cannot pass for two images of one UID.
* ``acute_rib_fracture.csv`` and ``chest_tube.csv`` (``anon_SOPUID``,
  ``annotation_ref``, ``mask_rle``): rib fracture and chest tube masks,
  outside the config's classes -- not read.

Verified from public loaders of the real files: the three CSV names, the
``SOPInstanceUID`` / ``EncodedPixels`` / ``Report`` columns, ``-1`` as the
negative, images named by ``SOPInstanceUID`` in ``dataset/``, and the
relative, column-major decode of ``EncodedPixels`` (as the paper states:
the SIIM-ACR format). **Not verified** against a real file: the RLE
flavour itself, and whether the UID values carry the ``.dcm`` suffix.

Written: cls ``Pneumothorax`` 1 iff the merged mask is non-empty; one box
per connected component of the mask (:func:`data_prep.boxes.boxes_from_mask`);
the mask for every image (empty for negatives). Images absent from ``--src``
are counted under ``image file missing``, unreadable ones under
``unreadable image``.

Split: CANDID-PTX has no official split, so a seeded 70 / 10 / 20 split
grouped by patient: the patient index that prefixes the ``filename`` column
(``P<n>_...``, as public loaders read it) where the CSV has that column,
else the DICOM ``PatientID``, else the image itself. The dataset keeps
several images per patient (its paper preserves their temporal order), so
grouping matters. Some images are listed under two patients (a public
loader drops them as flawed); here such an image joins its patients into
one group -- with every patient linked to them through other shared
images (:func:`.siim_acr.joined_patients`) -- so none of their images can
fall into another split.
"""
import os
import os.path as osp
import re
from typing import Dict, Optional

from ..registry import register
from ..tables import find_file, read_table
from .siim_acr import convert_rle_dataset

NAME = 'CANDID-PTX'
CLASSES = dict(cls=['Pneumothorax'], loc=['Pneumothorax'],
               seg=['Pneumothorax'])
#: A DICOM UID alone (digits and dots), or any name with the .dcm suffix.
IMAGE_NAME = re.compile(r'^[0-9]+(\.[0-9]+)*$|\.dcm$', re.IGNORECASE)
#: Files operating systems leave in folders, never images.
SYSTEM_FILES = ('thumbs.db', 'desktop.ini', 'ehthumbs.db')


def _patient(row: Dict[str, str]) -> Optional[str]:
    """``P123_...`` in the ``filename`` column -> ``P123`` (None if absent)."""
    value = (row.get('filename') or '').strip()
    return value.split('_', 1)[0] if '_' in value else None


def is_image_file(name: str) -> bool:
    """Whether a file name is one of the download's DICOMs.

    Args:
        name (str): The base name.

    Returns:
        bool: True for ``<UID>`` or ``*.dcm``; False for hidden files
        (``.DS_Store``, AppleDouble ``._*``), system files and anything
        else (CSVs, PDFs, READMEs).
    """
    if name.startswith('.') or name.lower() in SYSTEM_FILES:
        return False
    return bool(IMAGE_NAME.search(name))


def _index_images(src: str) -> Dict[str, str]:
    """SOPInstanceUID (file name without ``.dcm``) -> path, image files only.

    Hidden folders and ``__MACOSX/`` (an archive's macOS metadata) are not
    entered; linked folders are (an image folder may be a link to another
    disk).

    Raises:
        ValueError: If two image files have one UID (ambiguous).
    """
    index: Dict[str, str] = {}
    for folder, dirs, files in os.walk(src, followlinks=True):
        dirs[:] = sorted(d for d in dirs
                         if not d.startswith('.') and d != '__MACOSX')
        for base in sorted(files):
            if not is_image_file(base):
                continue
            path = osp.join(folder, base)
            uid = base[:-4] if base.lower().endswith('.dcm') else base
            if uid in index:
                raise ValueError(f'{NAME}: two image files for {uid} '
                                 f'({index[uid]}, {path}) under {src}.')
            index[uid] = path
    return index


@register('candid_ptx',
          'Pneumothorax_reports.csv (SOPInstanceUID, EncodedPixels: '
          'SIIM-style relative column-major RLE, -1 empty; filename P<n>_... '
          '= patient), DICOMs named by SOPInstanceUID[.dcm]')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None) -> dict:
    """Convert CANDID-PTX; see the module docstring for the decisions made.

    Args:
        src (str): The download (``Pneumothorax_reports.csv``, images).
        out (str): Output folder.
        resize (int, optional): Longest side of written PNGs.
        seed (int): Split seed.
        limit (int, optional): Only the first N images of the label file.

    Returns:
        dict: The summary written to meta.json.
    """
    table = find_file(src, 'Pneumothorax_reports.csv', dataset=NAME)
    rows = read_table(table, ['SOPInstanceUID', 'EncodedPixels'], NAME)
    images = _index_images(src)
    # SOPInstanceUID values may carry the file suffix; the id is the UID.
    for row in rows:
        uid = row['SOPInstanceUID']
        if uid.lower().endswith('.dcm'):
            row['SOPInstanceUID'] = uid[:-4]
    return convert_rle_dataset(
        src, out, name=NAME, table=table, rows=rows,
        id_column='SOPInstanceUID', images=images, resize=resize, seed=seed,
        limit=limit, group_of_row=_patient)
