"""VinDr-RibCXR (Nguyen et al. 2021): 20 individual ribs, segmentation.

Official distribution (``vindr.ai/datasets/ribcxr``, on request): 245 PNG
chest X-rays from VinDr-CXR, 196 for training and 49 for validation, with one
annotation file per split::

    Data/train/img/VinDr_RibCXR_train_000.png ...
    Data/train/Vindr_RibCXR_train_mask.json
    Data/val/img/...   Data/val/Vindr_RibCXR_val_mask.json

(the authors' training code names ``data/train/Vindr_RibCXR_train_mask.json``;
some copies name them ``data_{train,val,test}.json`` or add a ``test`` split:
all are read). Each JSON file is a pandas ``DataFrame.to_json`` table in its
default "columns" layout::

    {"img": {"0": "data/train/img/VinDr_RibCXR_train_000.png", ...},
     "R1":  {"0": [{"x": 512.3, "y": 301.0}, ...], ...},
     ...,
     "L10": {...}}

one column per rib (``R1``-``R10`` right, ``L1``-``L10`` left: the patient's
sides), each cell the polygon of that rib on that image as ``{"x", "y"}``
points, or the string ``"None"`` where the rib is not annotated. A list of
per-image records with the same keys is read as well. Images are found by
the base name of ``img`` anywhere under ``src`` (copies differ in ``data`` /
``Data``). Polygons are filled with ``cv2.fillPoly``; a missing rib gives an
empty mask.

Split: the official one. With ``train`` and ``val`` only (the release), the
49 validation images are the independent test set the paper reports on, so
they become ``test`` and val is a seeded 1/8 of the official train (by
image; no patient ids). With ``train``, ``val`` and ``test`` files, each is
kept as it is.

Verified: the JSON layout and file names (the authors' training code and
published code that reads the files). Not verified on a real file: the
exact ``img`` path prefix (only its base name is used).
"""
import json
from typing import Dict, List, Optional

import cv2
import numpy as np

from ..layout import PreparedWriter
from ..progress import progress
from ..registry import register
from ..splits import grouped_split
from ..tables import find_file, index_files, open_text

NAME = 'VinDr-RibCXR'
CLASSES = [f'R{i}' for i in range(1, 11)] + [f'L{i}' for i in range(1, 11)]
EMPTY = ('None', '', None)


def _names(split: str):
    return (f'Vindr_RibCXR_{split}_mask.json',
            f'VinDr_RibCXR_{split}_mask.json', f'data_{split}.json')


@register('vindr_ribcxr',
          '{Data,data}/{train,val[,test]}/Vindr_RibCXR_{split}_mask.json (or '
          'data_{split}.json): img + R1..R10, L1..L10 polygons; '
          '{train,val}/img/*.png')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None) -> dict:
    """Convert; images missing from ``src`` are counted and skipped.

    Args:
        src (str): The download.
        out (str): The prepared layout's folder.
        resize (int, optional): Longest image side (decoded PNGs).
        seed (int): Split seed (for val when there is no test file).
        limit (int, optional): Convert only the first N images of each
            annotation file (for trials).

    Returns:
        dict: The summary written to meta.json.
    """
    tables = {split: find_file(src, *_names(split), required=split == 'train',
                               dataset=NAME)
              for split in ('train', 'val', 'test')}
    if not tables['val'] and not tables['test']:
        raise FileNotFoundError(f'{NAME}: no val (or test) annotation file '
                                f'({_names("val")[0]}) under {src}.')
    files = index_files(src, ('.png', '.jpg', '.jpeg'))
    writer = PreparedWriter(out, NAME, dict(seg=CLASSES), resize)
    written: Dict[str, List[str]] = {}
    for split, path in tables.items():
        if not path:
            continue
        records = _read(path)
        records = records[:limit] if limit else records
        written[split] = []
        for index, image, ribs in progress(records, len(records),
                                           f'VinDr-RibCXR {split} images'):
            base = image.replace('\\', '/').rsplit('/', 1)[-1]
            src_path = files.get(base)
            if src_path is None:
                writer.missing(f'{path}: {image}')
                continue
            name = writer.add_image_or_skip(src_path)
            if name is None:
                continue
            writer.add_masks(name, _rasterise(
                writer, name, ribs, f'{path} image {index} ({base})'))
            written[split].append(name)
    if tables['test'] and tables['val']:
        splits = written
    else:
        # The release's val is the paper's independent test set.
        test = written.get('test', written.get('val', []))
        inner = grouped_split({n: n for n in written['train']}, seed,
                              fractions=(7 / 8, 1 / 8, 0.0))
        splits = dict(train=inner['train'], val=inner['val'], test=test)
    return writer.write(splits, source=src)


def _read(path: str) -> list:
    """(index, img path, {rib: polygon or None}) per image of one file."""
    with open_text(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{NAME}: {path} is not valid JSON ({e}).')
    if isinstance(data, dict):  # pandas "columns": column -> {row -> value}
        missing = [k for k in ['img'] + CLASSES if k not in data]
        if missing:
            raise ValueError(f'{NAME}: {path} has no column(s) {missing} '
                             f'(has {sorted(data)[:25]}).')
        rows = sorted(data['img'], key=lambda k: (len(k), k))
        records = [(r, {k: data[k].get(r, 'None') for k in
                        ['img'] + CLASSES}) for r in rows]
    elif isinstance(data, list):  # records
        records = list(enumerate(data))
        for index, record in records:
            missing = [k for k in ['img'] + CLASSES if k not in record]
            if missing:
                raise ValueError(f'{NAME}: {path} record {index} has no '
                                 f'field(s) {missing}.')
    else:
        raise ValueError(f'{NAME}: {path} holds a {type(data).__name__}; '
                         'expected a pandas-style table of img and ribs.')
    return [(index, r['img'], {k: r[k] for k in CLASSES})
            for index, r in records]


def _rasterise(writer: PreparedWriter, name: str, ribs: dict,
               where: str) -> np.ndarray:
    """(20, H, W) masks at the layout's size (points scaled like boxes)."""
    info = writer.images[name]
    masks = np.zeros((len(CLASSES), info['height'], info['width']), np.uint8)
    for i, rib in enumerate(CLASSES):
        polygon = ribs[rib]
        if polygon in EMPTY or polygon == []:
            continue
        try:
            points = np.array([[float(p['x']), float(p['y'])]
                               for p in polygon])
        except (TypeError, KeyError, ValueError):
            raise ValueError(f'{NAME}: {where}, rib {rib}: expected a list of'
                             f' {{"x", "y"}} points or "None", got '
                             f'{str(polygon)[:80]}.')
        if len(points) < 3:
            writer.skip('polygon with fewer than 3 points', f'{where}: {rib}')
            continue
        h, w = info['height'] / info['scale'], info['width'] / info['scale']
        if (points < -1).any() or (points[:, 0] > w + 1).any() or \
                (points[:, 1] > h + 1).any():
            # One stray point in thousands of polygons must not end the run:
            # the fill is clipped at the border (a polygon wholly outside
            # fills nothing and is counted as such); the first are named.
            low, high = points.min(axis=0), points.max(axis=0)
            inside = bool((low < (w, h)).all() and (high > 0).all())
            reason = ('polygon clipped to the image' if inside else
                      'polygon outside the image')
            writer.skip(reason, f'{where}, rib {rib}: polygon reaches outside '
                        f'the {round(w)}x{round(h)} image')
            if not inside:
                continue
        cv2.fillPoly(masks[i], [np.round(points * info['scale'])
                                .astype(np.int32)], 1)
    return masks.astype(bool)
