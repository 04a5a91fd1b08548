"""NODE21 (Sogancioglu et al. 2021): nodule label and nodule boxes.

Official distribution (the NODE21 detection-track training set on Zenodo /
grand-challenge):

* ``cxr_images/proccessed_data/images/*.mha`` (the folder name's spelling is
  the publisher's): 2-D MetaImages with their data inline, read by
  :func:`fx_mm.datasets.image_io.read_gray`. Images are found at any depth.
* ``cxr_images/proccessed_data/metadata.csv``: ``img_name, x, y, width,
  height, label`` (pandas writes an unnamed index column first; it is
  ignored). One row per nodule box (``x, y`` the top-left corner, in image
  pixels); an image without nodules has one row with ``label`` 0 whose box
  cells are not a box.

Verified from the organisers' baseline loader (DIAGNijmegen/node21,
``training_utils/dataset.py``): the ``metadata.csv`` name, ``img_name`` with
the ``.mha`` suffix, and ``x, y, width, height`` as top-left plus size. **Not
verified** on a real file: the ``label`` column's values (taken as 1 nodule,
0 no nodule) and the folder spelling.

Labels: cls ``Nodule`` 1 iff the image has a ``label`` 1 row, else 0; loc
one ``Nodule`` box per ``label`` 1 row (every image has loc labels). An
image with both a ``label`` 0 and a ``label`` 1 row, or a label other than 0
/ 1, is a ``ValueError`` naming the file, row and image. Images absent from
``--src`` are counted under ``image file missing``, unreadable ones under
``unreadable image``.

Split: NODE21's public training set has no official split and names no
patients (its images come from JSRT, PadChest, ChestX-ray14 and Open-I under
new names), so a seeded 70 / 10 / 20 split with each image its own group.
"""
from typing import Dict, List, Optional

from ..layout import PreparedWriter
from ..progress import progress
from ..registry import register
from ..splits import grouped_split
from ..tables import find_file, index_files, read_table

NAME = 'NODE21'
CLASSES = dict(cls=['Nodule'], loc=['Nodule'])
COLUMNS = ('img_name', 'x', 'y', 'width', 'height', 'label')


def _read_metadata(path: str) -> Dict[str, dict]:
    """img_name -> {label, boxes: [(x1, y1, x2, y2, line)]}."""
    rows = read_table(path, COLUMNS, NAME)
    images: Dict[str, dict] = {}
    for line, row in enumerate(rows, start=2):
        name = row['img_name']
        where = f'{NAME}: {path} line {line}, img_name {name}'
        try:
            label = int(float(row['label']))
        except ValueError:
            label = None
        if label not in (0, 1):
            raise ValueError(f'{where}: label {row["label"]!r} is not 0 or 1.')
        entry = images.setdefault(name, dict(label=label, boxes=[]))
        if entry['label'] != label:
            raise ValueError(f'{where}: label {label} conflicts with label '
                             f'{entry["label"]} on an earlier row.')
        if label == 0:
            continue
        try:
            x, y, w, h = (float(row[c]) for c in COLUMNS[1:5])
        except ValueError:
            cells = [row[c] for c in COLUMNS[1:5]]
            raise ValueError(f'{where}: label 1 row needs numeric x, y, width,'
                             f' height; found {cells}.')
        entry['boxes'].append((x, y, x + w, y + h, line))
    return images


@register('node21',
          'metadata.csv (img_name, x, y, width, height, label; one row per '
          'box, label 0 = no nodule), cxr_images/proccessed_data/images/*.mha')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None) -> dict:
    """Convert NODE21; see the module docstring for the decisions made.

    Args:
        src (str): The download.
        out (str): Output folder.
        resize (int, optional): Longest side of written PNGs.
        seed (int): Split seed.
        limit (int, optional): Only the first N images of metadata.csv.

    Returns:
        dict: The summary written to meta.json.
    """
    path = find_file(src, 'metadata.csv', dataset=NAME)
    labels = _read_metadata(path)
    files = index_files(src, ('.mha',))
    names: List[str] = list(labels)
    if limit:
        names = names[:limit]
    writer = PreparedWriter(out, NAME, CLASSES, resize)
    groups: Dict[str, str] = {}
    for img_name in progress(names, len(names), 'images'):
        image = files.get(img_name)
        if image is None:
            writer.missing(img_name)
            continue
        name = writer.add_image_or_skip(image)
        if name is None:
            continue
        entry = labels[img_name]
        writer.add_cls(name, [entry['label']])
        writer.add_boxes_for(name)
        for x1, y1, x2, y2, line in entry['boxes']:
            try:
                writer.add_box(name, 'Nodule', x1, y1, x2, y2,
                               where=f'{path} line {line}')
            except ValueError as e:
                raise ValueError(f'{path} line {line}, img_name {img_name} '
                                 f'(x, y, width, height): {e}') from e
        groups[name] = name
    return writer.write(grouped_split(groups, seed), source=src)
