"""SIIM-ACR Pneumothorax Segmentation (Kaggle 2019): label, boxes, masks.

Official distribution (Kaggle, stage 1 training data):

* ``train-rle.csv`` with the header ``ImageId, EncodedPixels`` (the second
  name has a leading space; :func:`data_prep.tables.read_table` strips it).
  ``ImageId`` is the DICOM's SOP Instance UID. ``EncodedPixels`` is ``-1``
  for an image without pneumothorax, otherwise a *relative, column-major*
  run-length string (:func:`data_prep.rle.decode_relative_rle`). An image
  with several pneumothorax regions has **several rows**, one per region;
  in the real file 624 of the 2,669 positive images have 2 to 10 rows and
  183 of those have rows that overlap, so the rows are merged as a union.
* ``dicom-images-train/<study UID>/<series UID>/<ImageId>.dcm`` (1024 x 1024;
  the size is read from each DICOM, not assumed).

Verified on the real label file (12,954 rows, 12,047 images): no image has
both a ``-1`` row and a mask row, and no image has two ``-1`` rows. Should a
download have an image with both (a contradiction), that image is skipped
and counted under ``conflicting rows`` rather than labelled either way. A
blank ``EncodedPixels`` cell (not seen in the real file) is neither the
negative nor a mask: it is ignored, and an image with only blank cells is
counted under ``blank EncodedPixels``.

Written: cls ``Pneumothorax`` 1 iff the merged mask is non-empty, else 0;
loc: one box per 8-connected component of the merged mask
(:func:`data_prep.boxes.boxes_from_mask`), every image has loc labels
(negatives have no box); seg: the merged mask for every image (an empty
mask for negatives: every training image was annotated).

Images absent from ``--src`` are counted under ``image file missing``;
unreadable DICOMs under ``unreadable image``. The Kaggle test images
(``dicom-images-test``) have no public labels and are not read. The
stage-2 re-release (``stage_2_train.csv``) is not read: its RLE flavour was
not verified.

Split: the competition's labelled data has no official validation or
labelled test split, so a seeded 70 / 10 / 20 split grouped by the DICOM
``PatientID`` (the ImageId where a file has none). In the Kaggle release the
PatientID is an anonymised UID; whether one patient ever has two images was
not verified, so grouping by it is the safe choice.
"""
from typing import Dict, List, Optional

import numpy as np

from ..boxes import boxes_from_mask
from ..layout import PreparedWriter
from ..progress import progress
from ..registry import register
from ..rle import RLEError, decode_relative_rle, is_empty_rle
from ..splits import grouped_split
from ..tables import find_file, index_files, read_table

NAME = 'SIIM-ACR'
CLASSES = dict(cls=['Pneumothorax'], loc=['Pneumothorax'],
               seg=['Pneumothorax'])


def dicom_header(path: str):
    """The DICOM header without pixel data (size, PatientID)."""
    import pydicom
    return pydicom.dcmread(path, stop_before_pixels=True)


def merged_mask(rles: List[str], height: int, width: int, where: str
                ) -> np.ndarray:
    """Union of one image's relative RLE rows, as an (H, W) bool mask.

    Args:
        rles (list[str]): The image's ``EncodedPixels`` values.
        height (int): Image height.
        width (int): Image width.
        where (str): File and image, for the error message.

    Raises:
        ValueError: On a run-length string that does not fit the image.
    """
    mask = np.zeros((height, width), bool)
    for rle in rles:
        try:
            mask |= decode_relative_rle(rle, height, width)
        except RLEError as e:
            raise ValueError(f'{where}: EncodedPixels: {e}') from e
    return mask


def convert_rle_dataset(src: str, out: str, *, name: str, table: str,
                        rows: List[Dict[str, str]], id_column: str,
                        images: Dict[str, str], resize: Optional[int],
                        seed: int, limit: Optional[int],
                        group_of_row=None) -> dict:
    """Shared body of SIIM-ACR and CANDID-PTX (same RLE, same tasks).

    Args:
        src (str): The download (for meta.json).
        out (str): Output folder.
        name (str): Dataset name.
        table (str): The label file's path (for messages).
        rows (list[dict]): Label rows with ``id_column`` and
            ``EncodedPixels``.
        id_column (str): Column naming the image.
        images (dict): Image id -> image file path (ids without a file are
            counted as missing).
        resize (int, optional): See :class:`PreparedWriter`.
        seed (int): Split seed.
        limit (int, optional): Convert only the first N image ids.
        group_of_row (callable, optional): Row -> patient id or None; when
            None the DICOM PatientID is used, then the image id.

    Returns:
        dict: The summary.
    """
    from fx_mm.datasets.image_io import ImageReadError, read_dicom
    per_image: Dict[str, List[str]] = {}
    group_hint: Dict[str, Optional[str]] = {}
    for line_no, row in enumerate(rows, start=2):
        image_id = row[id_column]
        if not image_id:
            raise ValueError(f'{name}: {table} line {line_no}: empty '
                             f'{id_column}.')
        rles = per_image.setdefault(image_id, [])
        # A blank cell is neither the documented negative ("-1") nor a mask.
        if row['EncodedPixels'].strip():
            rles.append(row['EncodedPixels'])
        if group_of_row is not None and group_hint.get(image_id) is None:
            group_hint[image_id] = group_of_row(row)
    ids = list(per_image)  # first-appearance order of the label file
    if limit:
        ids = ids[:limit]
    writer = PreparedWriter(out, name, CLASSES, resize)
    groups: Dict[str, str] = {}
    for image_id in progress(ids, len(ids), 'images'):
        rles = per_image[image_id]
        if not rles:
            writer.skip('blank EncodedPixels', f'{table}: {image_id} has only '
                        'blank EncodedPixels cells')
            continue
        empty = [is_empty_rle(r) for r in rles]
        if any(empty) and not all(empty):
            writer.skip('conflicting rows', f'{table}: {image_id} has both '
                        '"-1" (no pneumothorax) and mask rows')
            continue
        path = images.get(image_id)
        if path is None:
            writer.missing(image_id)
            continue
        try:
            header = dicom_header(path)
            height, width = int(header.Rows), int(header.Columns)
        except Exception as e:  # pydicom raises many types for bad files
            writer.skip('unreadable image', f'{path}: not a readable DICOM '
                        f'header ({e}).')
            continue
        if path.lower().endswith(('.dcm', '.dicom')):
            file_name = writer.add_image_or_skip(path)
        else:
            # A DICOM without the suffix: read_gray would not know it is a
            # DICOM, so decode it here and write it as PNG.
            try:
                pixels = read_dicom(path)
            except ImageReadError as e:
                writer.skip('unreadable image', str(e))
                continue
            file_name = writer.add_image(path, image_id + '.png', pixels)
        if file_name is None:
            continue
        mask = merged_mask(rles, height, width,
                           f'{name}: {table}, {id_column} {image_id}')
        writer.add_cls(file_name, [int(mask.any())])
        writer.add_boxes_for(file_name)
        for box in boxes_from_mask(mask):
            writer.add_box(file_name, 'Pneumothorax', *box)
        writer.add_masks(file_name, mask[None])
        patient = group_hint.get(image_id) or \
            str(getattr(header, 'PatientID', '') or '').strip()
        groups[file_name] = patient or image_id
    return writer.write(grouped_split(groups, seed), source=src)


def _uid(file_name: str) -> str:
    """``<uid>.dcm`` -> ``<uid>`` (a UID has dots, so only the suffix goes)."""
    return file_name[:-4] if file_name.lower().endswith('.dcm') else file_name


@register('siim_acr',
          'train-rle.csv[.gz] (ImageId, EncodedPixels: relative column-major '
          'RLE, -1 empty, several rows per image), '
          'dicom-images-train/**/<ImageId>.dcm')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None) -> dict:
    """Convert SIIM-ACR; see the module docstring for the decisions made.

    Args:
        src (str): The Kaggle download (``train-rle.csv``, DICOM folders).
        out (str): Output folder.
        resize (int, optional): Longest side of written PNGs.
        seed (int): Split seed.
        limit (int, optional): Only the first N images of the label file.

    Returns:
        dict: The summary written to meta.json.
    """
    table = find_file(src, 'train-rle.csv', dataset=NAME)
    rows = read_table(table, ['ImageId', 'EncodedPixels'], NAME)
    dicoms = index_files(src, ('.dcm',))
    images = {_uid(f): p for f, p in dicoms.items()}
    return convert_rle_dataset(src, out, name=NAME, table=table, rows=rows,
                               id_column='ImageId', images=images,
                               resize=resize, seed=seed, limit=limit)

