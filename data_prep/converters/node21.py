"""NODE21 (Sogancioglu et al. 2021): nodule label and nodule boxes.

Official distribution (the NODE21 detection-track training set on Zenodo /
grand-challenge), unpacked as ``node21/cxr_images/`` with two sets of the
same radiographs under the same names:

* ``proccessed_data/`` (the folder name's spelling is the publisher's): the
  images as the challenge used them, and
* ``original_data/``: the images at their source resolution, next to two
  name-mapping tables (``filenames_orig_and_new.csv``,
  ``non_nodule_filenames_orig_and_new.csv``; not read).

Each set holds ``images/*.mha`` (2-D MetaImages with their data inline,
read by :func:`fx_mm.datasets.image_io.read_gray`) and its own
``metadata.csv``: ``img_name, x, y, width, height, label`` (pandas writes an
unnamed index column first; it is ignored). One row per nodule box (``x,
y`` the top-left corner, in **that set's** image pixels); an image without
nodules has one row with ``label`` 0 whose box cells are not a box.

Which set: the processed one by default (``subset='processed'``), the one
the challenge's baseline loader and public data lists (the Foundation X
authors' among them) read; ``subset='original'`` reads the other. A
``metadata.csv`` is always read with the ``images/`` folder beside it --
the two sets' boxes are in different pixels, so a table from one set must
never label the other's images. ``--src`` may be the download root,
``cxr_images/``, or a set's folder itself (or any folder holding
``metadata.csv`` and ``images/``); a set's folder picks that set, and an
explicit ``subset`` that names the other set is an error. On the command
line the option is ``--options subset=original``; pointing ``--src`` at
``cxr_images/original_data`` does the same.

Verified from the organisers' baseline loader (DIAGNijmegen/node21,
``training_utils/dataset.py``): the ``metadata.csv`` name, ``img_name`` with
the ``.mha`` suffix, and ``x, y, width, height`` as top-left plus size; the
two folder names from public loaders of the release. **Not verified** on a
real file: the ``label`` column's values (taken as 1 nodule, 0 no nodule).

Labels: cls ``Nodule`` 1 iff the image has a ``label`` 1 row, else 0; loc
one ``Nodule`` box per ``label`` 1 row (every image has loc labels). An
image with both a ``label`` 0 and a ``label`` 1 row, or a label other than 0
/ 1, is a ``ValueError`` naming the file, row and image. Images absent from
the set's ``images/`` are counted under ``image file missing``, unreadable
ones under ``unreadable image``.

Split: NODE21's public training set has no official split and names no
patients (its images come from JSRT, PadChest, ChestX-ray14 and Open-I under
new names), so a seeded 70 / 10 / 20 split with each image its own group.
"""
import glob
import os.path as osp
from typing import Dict, List, Optional

from ..layout import PreparedWriter
from ..progress import progress
from ..registry import register
from ..splits import grouped_split
from ..tables import index_files, read_table

NAME = 'NODE21'
CLASSES = dict(cls=['Nodule'], loc=['Nodule'])
COLUMNS = ('img_name', 'x', 'y', 'width', 'height', 'label')
#: The two sets of the release by ``subset`` name -> their folder names
#: (the publisher's spelling first; the corrected one in case it is fixed).
SUBSETS = dict(processed=('proccessed_data', 'processed_data'),
               original=('original_data',))
TABLE = 'metadata.csv'


def _table_in(folder: str) -> Optional[str]:
    """``folder``'s own metadata.csv (plain, .gz or .zip), not a deeper one."""
    for candidate in (TABLE, TABLE + '.gz', TABLE + '.zip'):
        path = osp.join(folder, candidate)
        if osp.isfile(path):
            return path
    return None


def _subset_of(folder: str) -> Optional[str]:
    """The subset a set's folder holds, by its name (None if not a set's)."""
    name = osp.basename(osp.normpath(folder))
    return next((s for s, names in SUBSETS.items() if name in names), None)


def find_set(src: str, subset: Optional[str] = None) -> str:
    """The folder holding the set's ``metadata.csv`` and ``images/``.

    Args:
        src (str): The download root, ``cxr_images/`` or a set's folder.
        subset (str, optional): ``'processed'`` or ``'original'``; None is
            the processed set, or the set ``src`` itself is.

    Returns:
        str: The set's folder.

    Raises:
        ValueError: On an unknown subset, one that contradicts the set
            ``src`` is, or two candidate folders for the set.
        FileNotFoundError: If the set is not under ``src`` (naming the
            folders looked for).
    """
    if subset is not None and subset not in SUBSETS:
        raise ValueError(f'{NAME}: subset {subset!r} is not one of '
                         f'{sorted(SUBSETS)}.')
    if _table_in(src):
        # --src is a set's folder: it says which set is meant.
        own = _subset_of(src)
        if subset is not None and own is not None and own != subset:
            raise ValueError(f'{NAME}: --src {src} is the {own} set '
                             f'({osp.basename(osp.normpath(src))}), but '
                             f'subset {subset!r} was asked for; point --src '
                             'at the download root to choose a set.')
        return src
    wanted = subset or 'processed'
    found = []
    for folder in SUBSETS[wanted]:
        for path in sorted(glob.glob(osp.join(src, '**', folder),
                                     recursive=True)):
            if osp.isdir(path) and _table_in(path):
                found.append(path)
    if len(found) > 1:
        raise ValueError(f'{NAME}: {len(found)} folders hold the {wanted} set '
                         f'under {src} ({found}); point --src at one.')
    if not found:
        other = [s for s in SUBSETS if s != wanted]
        raise FileNotFoundError(
            f'{NAME}: no {wanted} set under {src}: looked for '
            f'{" or ".join(SUBSETS[wanted])}/{TABLE} (at any depth, e.g. '
            f'cxr_images/{SUBSETS[wanted][0]}/{TABLE}) and for {TABLE} in '
            f'{src} itself. For the other set pass subset={other[0]!r}.')
    return found[0]


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
          'cxr_images/{proccessed_data,original_data}/metadata.csv (img_name,'
          ' x, y, width, height, label; one row per box, label 0 = no '
          'nodule) with the images/*.mha beside it; the processed set unless'
          ' subset=original or --src is original_data')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None, subset: Optional[str] = None
            ) -> dict:
    """Convert NODE21; see the module docstring for the decisions made.

    Args:
        src (str): The download root, ``cxr_images/`` or a set's folder.
        out (str): Output folder.
        resize (int, optional): Longest side of written PNGs.
        seed (int): Split seed.
        limit (int, optional): Only the first N images of metadata.csv.
        subset (str, optional): ``'processed'`` (the default) or
            ``'original'``; see :func:`find_set`.

    Returns:
        dict: The summary written to meta.json.
    """
    folder = find_set(src, subset)
    path = _table_in(folder)
    labels = _read_metadata(path)
    # Only the images beside this table: the other set has the same names.
    files = index_files(osp.join(folder, 'images'), ('.mha',))
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
    return writer.write(grouped_split(groups, seed), source=folder)
