"""ChestX-Det (Lian et al. 2021): 13 findings as labels, boxes and masks.

Official distribution (``github.com/Deepwise-AILab/ChestX-Det-Dataset``):
``ChestX_Det_train.json`` and ``ChestX_Det_test.json`` (the official split,
3,578 NIH ChestX-ray14 images in all) and the images of ``train_data.zip`` /
``test_data.zip`` (PNGs named ``<number>.png``; found at any depth under
``src``). Each JSON file is a list with one entry per image::

    {"file_name": "36346.png",
     "syms":     ["Cardiomegaly", "Effusion"],           # one per instance
     "boxes":    [[x1, y1, x2, y2], ...],                 # parallel to syms
     "polygons": [[[x, y], [x, y], ...], ...]}            # parallel to syms

``syms`` name the 13 classes of the README (Atelectasis, Calcification,
Cardiomegaly, Consolidation, Diffuse Nodule, Effusion, Emphysema, Fibrosis,
Fracture, Mass, Nodule, Pleural Thickening, Pneumothorax); an image without
findings has empty lists. Boxes are left-top / right-bottom pixel corners,
polygons the contour points of each instance's mask.

Written: cls 1 for each class in ``syms``, 0 otherwise; one box per
instance; one mask per class, the union of its instances' polygons filled
with ``cv2.fillPoly`` (every image gets masks, empty for absent classes).
A polygon of fewer than 3 points encloses nothing and is counted as skipped.

Split: the official train / test; val is a seeded 1/8 of the official train
(by image: the images are renamed, their NIH patient ids are not given).

Verified: the JSON keys and class names (the dataset README and code that
reads the files). Not verified: whether every entry's ``polygons`` list is as
long as ``syms`` (a mismatch is reported as an error rather than guessed).
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

NAME = 'ChestX-Det'
CLASSES = [
    'Atelectasis', 'Calcification', 'Cardiomegaly', 'Consolidation',
    'Diffuse Nodule', 'Effusion', 'Emphysema', 'Fibrosis', 'Fracture', 'Mass',
    'Nodule', 'Pleural Thickening', 'Pneumothorax'
]
FILES = dict(train='ChestX_Det_train.json', test='ChestX_Det_test.json')
KEYS = ('file_name', 'syms', 'boxes', 'polygons')


@register('chestx_det',
          'ChestX_Det_train.json, ChestX_Det_test.json (file_name, syms, '
          'boxes, polygons), train_data / test_data **/*.png')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None) -> dict:
    """Convert; images missing from ``src`` are counted and skipped.

    Args:
        src (str): The download (the two JSON files and the PNGs).
        out (str): The prepared layout's folder.
        resize (int, optional): Longest image side (decoded PNGs).
        seed (int): Split seed.
        limit (int, optional): Convert only the first N entries of each
            JSON file (for trials).

    Returns:
        dict: The summary written to meta.json.
    """
    entries = {split: _read(find_file(src, name, dataset=NAME))
               for split, name in FILES.items()}
    seen: Dict[str, str] = {}
    for split, items in entries.items():
        for path, index, entry in items:
            name = entry['file_name']
            if name in seen:
                raise ValueError(f'{NAME}: {path} entry {index}: {name} is '
                                 f'also listed in {seen[name]}.')
            seen[name] = path
    files = index_files(src, ('.png',))
    writer = PreparedWriter(out, NAME, dict(cls=CLASSES, loc=CLASSES,
                                            seg=CLASSES), resize)
    written: Dict[str, List[str]] = dict(train=[], test=[])
    for split, items in entries.items():
        items = items[:limit] if limit else items
        for path, index, entry in progress(items, len(items),
                                           f'ChestX-Det {split} images'):
            src_path = files.get(entry['file_name'])
            if src_path is None:
                writer.missing(entry['file_name'])
                continue
            name = writer.add_image_or_skip(src_path)
            if name is None:
                continue
            _add_labels(writer, name, entry, f'{path} entry {index}')
            written[split].append(name)
    inner = grouped_split({n: n for n in written['train']}, seed,
                          fractions=(7 / 8, 1 / 8, 0.0))
    return writer.write(dict(train=inner['train'], val=inner['val'],
                             test=written['test']), source=src)


def _read(path: str) -> list:
    """(path, index, entry) of one JSON file, each entry checked."""
    with open_text(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{NAME}: {path} is not valid JSON ({e}).')
    if not isinstance(data, list):
        raise ValueError(f'{NAME}: {path} holds a {type(data).__name__}; '
                         'expected a list of per-image entries.')
    out = []
    for index, entry in enumerate(data):
        where = f'{NAME}: {path} entry {index}'
        missing = [k for k in KEYS if not isinstance(entry, dict) or
                   k not in entry]
        if missing:
            raise ValueError(f'{where}: no field(s) {missing}.')
        where += f' ({entry["file_name"]})'
        syms = entry['syms']
        unknown = [s for s in syms if s not in CLASSES]
        if unknown:
            raise ValueError(f'{where}: unknown class(es) {unknown}; '
                             f'expected one of {CLASSES}.')
        for key in ('boxes', 'polygons'):
            if len(entry[key]) != len(syms):
                raise ValueError(f'{where}: {len(entry[key])} {key} for '
                                 f'{len(syms)} syms; they must be parallel.')
        for box in entry['boxes']:
            if len(box) != 4:
                raise ValueError(f'{where}: box {box} is not [x1, y1, x2, '
                                 'y2].')
        out.append((path, index, entry))
    return out


def _add_labels(writer: PreparedWriter, name: str, entry: dict,
                where: str) -> None:
    """cls, boxes and masks of one entry."""
    syms = entry['syms']
    writer.add_cls(name, [int(c in syms) for c in CLASSES])
    writer.add_boxes_for(name)
    for sym, (x1, y1, x2, y2) in zip(syms, entry['boxes']):
        try:
            writer.add_box(name, sym, x1, y1, x2, y2, where=where)
        except ValueError as e:
            raise ValueError(f'{where}: {e}')
    # Rasterise straight at the layout's size (polygon points scaled like
    # the boxes) rather than filling at source size and resampling.
    info = writer.images[name]
    scale = info['scale']
    masks = np.zeros((len(CLASSES), info['height'], info['width']), np.uint8)
    for sym, polygon in zip(syms, entry['polygons']):
        try:
            points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
        except (TypeError, ValueError):
            raise ValueError(f'{where}: polygon of {sym!r} is not a list of '
                             '[x, y] points.')
        if len(points) < 3:
            writer.skip('polygon with fewer than 3 points', f'{where}: {sym}')
            continue
        cv2.fillPoly(masks[CLASSES.index(sym)],
                     [np.round(points * scale).astype(np.int32)], 1)
    writer.add_masks(name, masks.astype(bool))
