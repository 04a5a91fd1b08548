"""SIIM-ACR Pneumothorax Segmentation (Kaggle 2019): label, boxes, masks.

Official distribution (Kaggle), in either of the competition's two stages:

* Labels: ``stage_2_train.csv`` (what the competition page serves today;
  header ``ImageId,EncodedPixels``) or the stage-1 ``train-rle.csv`` (header
  ``ImageId, EncodedPixels`` -- the second name has a leading space;
  :func:`data_prep.tables.read_table` strips it). Both are looked for
  (plain, .gz or .zip, at any depth) and the stage-2 table is read when both
  are there: public loaders describe it as labelling the stage-1 train *and*
  test images, a superset of ``train-rle.csv``. Without either, the error
  names both. ``ImageId`` is the DICOM's SOP Instance UID. ``EncodedPixels``
  is ``-1`` for an image without pneumothorax, otherwise a *relative,
  column-major* run-length string
  (:func:`data_prep.rle.decode_relative_rle`). An image with several
  pneumothorax regions has **several rows**, one per region; in the real
  file 624 of the 2,669 positive images have 2 to 10 rows and 183 of those
  have rows that overlap, so the rows are merged as a union.
* Images: ``<ImageId>.dcm`` found at any depth under ``--src`` --
  ``dicom-images-train/<study UID>/<series UID>/`` and, for the stage-1
  test images the stage-2 table labels, ``dicom-images-test/...``; a flat
  folder (``stage_2_images/``) is found the same way. The stage-2 test
  images of ``stage_2_images/`` have no public labels: the table does not
  list them, so they are not read. 1024 x 1024; the size is read from each
  DICOM's header, not assumed.

Verified on the real label file the tests use
(``siim-pneumothorax-train-rle.csv.gz``, header ``ImageId, EncodedPixels``;
12,954 rows, 12,047 images): no image has both a ``-1`` row and a mask row,
and no image has two ``-1`` rows. Should a download have an image with both
(a contradiction), that image is skipped and counted under ``conflicting
rows`` rather than labelled either way. A blank ``EncodedPixels`` cell (not
seen in the real file) is neither the negative nor a mask: it is ignored,
and an image with only blank cells is counted under ``blank EncodedPixels``.
**Not verified** on a real ``stage_2_train.csv``: its run-length flavour. It
is read as the same relative code, as public loaders read it (they describe
``train-rle.csv``'s rows as a subset of it); a mask in the other (absolute)
flavour would in practice run past the image when decoded so (its absolute
starts, summed as relative ones, exceed 1024 x 1024 pixels within a few
runs) and stop the conversion with an ``RLEError`` naming the row.

Each image is decoded once: its size and PatientID come from the DICOM
header (read without the pixel data), and the pixels are decoded only by
the writer (to check the file before copying it, or to write the PNG
with ``--resize``).

Written: cls ``Pneumothorax`` 1 iff the merged mask is non-empty, else 0;
loc: one box per 8-connected component of the merged mask
(:func:`data_prep.boxes.boxes_from_mask`), every image has loc labels
(negatives have no box); seg: the merged mask for every image (an empty
mask for negatives: every training image was annotated).

Images absent from ``--src`` are counted under ``image file missing``;
unreadable DICOMs under ``unreadable image``.

Split: the competition's labelled data has no official validation or
labelled test split, so a seeded 70 / 10 / 20 split grouped by the DICOM
``PatientID`` (the ImageId where a file has none). In the Kaggle release the
PatientID is an anonymised UID; whether one patient ever has two images was
not verified, so grouping by it is the safe choice.
"""
from typing import Dict, Iterable, List, Optional, Set

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
#: Label tables in order of preference: the stage-2 one labels more images.
TABLES = ('stage_2_train.csv', 'train-rle.csv')


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


def joined_patients(patient_sets: Iterable[Iterable[str]]
                    ) -> Dict[str, str]:
    """Patient -> group: patients named for one image are one group.

    A union-find over the patients: two patients that share an image are
    joined, and so, transitively, are all patients linked by a chain of
    shared images, so all their images stay in one split. The group's id is
    its smallest patient id, so the split does not depend on row order.

    Args:
        patient_sets (Iterable[Iterable[str]]): Per image, the patients it
            is listed under.

    Returns:
        dict[str, str]: Every patient named -> its group's id.
    """
    parent: Dict[str, str] = {}

    def root(p: str) -> str:
        parent.setdefault(p, p)
        while parent[p] != p:
            parent[p] = parent[parent[p]]  # halve the path as we go
            p = parent[p]
        return p

    for patients in patient_sets:
        patients = sorted(patients)
        for other in patients[1:]:
            a, b = root(patients[0]), root(other)
            if a != b:  # the smaller id stays the root
                parent[max(a, b)] = min(a, b)
        if patients:
            root(patients[0])
    return {p: root(p) for p in parent}


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
        group_of_row (callable, optional): Row -> patient id or None. An
            image's patients are those of all its rows; images sharing a
            patient, directly or through a chain of shared images, are one
            group (:func:`joined_patients`). An image whose rows name no
            patient (or without ``group_of_row``) is grouped by its DICOM
            PatientID, else by its image id.

    Returns:
        dict: The summary.
    """
    from fx_mm.datasets.image_io import ImageReadError, read_dicom
    per_image: Dict[str, List[str]] = {}
    hints: Dict[str, Set[str]] = {}  # image id -> patients its rows name
    for line_no, row in enumerate(rows, start=2):
        image_id = row[id_column]
        if not image_id:
            raise ValueError(f'{name}: {table} line {line_no}: empty '
                             f'{id_column}.')
        rles = per_image.setdefault(image_id, [])
        # A blank cell is neither the documented negative ("-1") nor a mask.
        if row['EncodedPixels'].strip():
            rles.append(row['EncodedPixels'])
        patient = group_of_row(row) if group_of_row is not None else None
        if patient:
            hints.setdefault(image_id, set()).add(patient)
    ids = list(per_image)  # first-appearance order of the label file
    if limit:
        ids = ids[:limit]
    writer = PreparedWriter(out, name, CLASSES, resize)
    patients: Dict[str, Set[str]] = {}  # file name -> its patients
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
            # The header only (no pixel data): the pixels are decoded once,
            # below, by the writer.
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
        dicom_patient = str(getattr(header, 'PatientID', '') or '').strip()
        patients[file_name] = hints.get(image_id) or \
            {dicom_patient or image_id}
    # Every row links its patients, also through images not converted here
    # (missing, skipped or past --limit): they name the same people.
    group_of = joined_patients(list(hints.values()) + list(patients.values()))
    groups = {f: group_of[min(ps)] for f, ps in patients.items()}
    return writer.write(grouped_split(groups, seed), source=src)


def _uid(file_name: str) -> str:
    """``<uid>.dcm`` -> ``<uid>`` (a UID has dots, so only the suffix goes)."""
    return file_name[:-4] if file_name.lower().endswith('.dcm') else file_name


@register('siim_acr',
          'stage_2_train.csv or train-rle.csv [.gz] (ImageId, EncodedPixels: '
          'relative column-major RLE, -1 empty, several rows per image), '
          '<ImageId>.dcm at any depth (dicom-images-train/, '
          'dicom-images-test/)')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None) -> dict:
    """Convert SIIM-ACR; see the module docstring for the decisions made.

    Args:
        src (str): The Kaggle download (``stage_2_train.csv`` or
            ``train-rle.csv``, DICOM folders).
        out (str): Output folder.
        resize (int, optional): Longest side of written PNGs.
        seed (int): Split seed.
        limit (int, optional): Only the first N images of the label file.

    Returns:
        dict: The summary written to meta.json.
    """
    table = find_file(src, *TABLES, dataset=NAME)
    rows = read_table(table, ['ImageId', 'EncodedPixels'], NAME)
    dicoms = index_files(src, ('.dcm',))
    images = {_uid(f): p for f, p in dicoms.items()}
    return convert_rle_dataset(src, out, name=NAME, table=table, rows=rows,
                               id_column='ImageId', images=images,
                               resize=resize, seed=seed, limit=limit)
