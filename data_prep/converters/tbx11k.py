"""TBX11K (Liu et al. 2020): tuberculosis label and TB boxes.

Official distribution (``TBX11K.zip``):

* ``imgs/{health,sick,tb,test}/*.png``: 512 x 512 8-bit PNGs (stored as
  RGB). ``health/`` (3,800) and ``sick/`` (sick but not TB, 3,800) are TB
  negatives, ``tb/`` (800) TB positives; ``test/`` (3,302) has no public
  labels. ``imgs/extra/`` holds other public TB sets and is not read.
* ``annotations/json/TBX11K_{train,val}.json``: COCO detection files.
  ``images[].file_name`` is relative to ``imgs/`` (``tb/tb0005.png``,
  ``health/h0001.png``); they cover the labelled images of both classes:
  train 6,600 (3,000 health, 3,000 sick, 600 tb), val 1,800 (800, 800, 200).
  Categories ``ActiveTuberculosis``, ``ObsoletePulmonaryTuberculosis``
  (latent) and ``PulmonaryTuberculosis`` (uncertain type); ``bbox`` is
  ``[x, y, width, height]`` in pixels. Every box becomes class ``TB``.
  (``annotations/xml/`` holds the same boxes as Pascal VOC; not read.)
* ``lists/*.txt`` (``TBX11K_train.txt``, ``TBX11K_val.txt``, ``all_test.txt``
  ...): the same splits as image lists; not needed since the JSONs name their
  images.

Verified: the JSON structure and file names on a real excerpt of
``TBX11K_train.json``; the image counts and that ``tb/tb1199.png`` is in
``tb/`` without any box, from a public loader's notes (not verified on the
full file).

Labels: cls ``Tuberculosis`` from the folder (``tb/`` 1; ``health/``,
``sick/`` 0 -- any other folder in a JSON is a ``ValueError``). loc: the
JSON's boxes; a ``health``/``sick`` image has loc labels with no box, and so
does a ``tb`` image that has boxes. A ``tb`` image without any box (such as
``tb1199``) gets the cls label but no loc labels, since an empty box list
would claim "no TB here". A box on a non-TB image is a ``ValueError``.

Split: the official test labels are not public, so the official **val set is
the test split** and the official train set is split 7:1 into train / val,
seeded; TBX11K names no patients, so images are the groups.
"""
import json
import os.path as osp
from typing import Dict, Optional

from ..layout import PreparedWriter
from ..progress import progress
from ..registry import register
from ..splits import grouped_split
from ..tables import find_file

NAME = 'TBX11K'
CLASSES = dict(cls=['Tuberculosis'], loc=['TB'])
CATEGORIES = ('ActiveTuberculosis', 'ObsoletePulmonaryTuberculosis',
              'PulmonaryTuberculosis')
FOLDER_LABEL = {'tb': 1, 'health': 0, 'sick': 0}


def _load(path: str) -> Dict[str, list]:
    """file_name -> list of (x, y, w, h) boxes, every listed image present."""
    with open(path) as f:
        coco = json.load(f)
    for key in ('images', 'annotations', 'categories'):
        if key not in coco:
            raise ValueError(f'{NAME}: {path} has no {key!r} (not a COCO '
                             'detection file).')
    names = {}
    for cat in coco['categories']:
        if cat['name'] not in CATEGORIES:
            raise ValueError(f'{NAME}: {path}: category {cat["name"]!r} is '
                             f'not one of {list(CATEGORIES)}.')
        names[cat['id']] = cat['name']
    images = {im['id']: im['file_name'] for im in coco['images']}
    boxes: Dict[str, list] = {name: [] for name in images.values()}
    for ann in coco['annotations']:
        if ann['category_id'] not in names:
            raise ValueError(f'{NAME}: {path}: annotation {ann.get("id")} has '
                             f'unknown category_id {ann["category_id"]}.')
        if ann['image_id'] not in images:
            raise ValueError(f'{NAME}: {path}: annotation {ann.get("id")} '
                             f'names image_id {ann["image_id"]}, not in '
                             '"images".')
        boxes[images[ann['image_id']]].append(
            (tuple(float(v) for v in ann['bbox']), ann.get('id')))
    return boxes


@register('tbx11k',
          'annotations/json/TBX11K_{train,val}.json (COCO; 3 TB categories -> '
          'TB), imgs/{health,sick,tb}/*.png (folder = label)')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None) -> dict:
    """Convert TBX11K; see the module docstring for the split and labels.

    Args:
        src (str): The extracted ``TBX11K`` folder.
        out (str): Output folder.
        resize (int, optional): Longest side of written PNGs.
        seed (int): Split seed.
        limit (int, optional): Only the first N images of each JSON.

    Returns:
        dict: The summary written to meta.json.
    """
    parts = {}
    for split, file in (('train', 'TBX11K_train.json'),
                        ('val', 'TBX11K_val.json')):
        path = find_file(src, file, required=split == 'train', dataset=NAME)
        parts[split] = (path, _load(path) if path else {})
    imgs = find_imgs(src)
    writer = PreparedWriter(out, NAME, CLASSES, resize)
    official: Dict[str, str] = {}
    for split, (json_path, boxes) in parts.items():
        items = sorted(boxes.items())
        if limit:
            items = items[:limit]
        for rel, image_boxes in progress(items, len(items), f'{split} images'):
            folder = rel.split('/')[0]
            if folder not in FOLDER_LABEL:
                raise ValueError(f'{NAME}: {json_path}: image {rel!r} is not '
                                 f'in one of the labelled folders '
                                 f'{sorted(FOLDER_LABEL)}.')
            label = FOLDER_LABEL[folder]
            if image_boxes and not label:
                raise ValueError(f'{NAME}: {json_path}: {rel} is in {folder}/ '
                                 f'(no TB) but has {len(image_boxes)} TB '
                                 'box(es).')
            path = osp.join(imgs, rel)
            if not osp.isfile(path):
                writer.missing(path)
                continue
            name = writer.add_image_or_skip(path)
            if name is None:
                continue
            if name in official:
                raise ValueError(f'{NAME}: {rel} is listed in both official '
                                 'train and val.')
            writer.add_cls(name, [label])
            if label and not image_boxes:
                writer.skip('TB image without boxes (no loc labels)',
                            f'{json_path}: {rel}')
            else:
                writer.add_boxes_for(name)
            for (x, y, w, h), ann_id in image_boxes:
                try:
                    writer.add_box(name, 'TB', x, y, x + w, y + h,
                                   where=f'{json_path}, annotation {ann_id}')
                except ValueError as e:
                    raise ValueError(f'{json_path}, annotation {ann_id} '
                                     f'(bbox): {e}') from e
            official[name] = split
    trainval = {n: n for n, s in official.items() if s == 'train'}
    inner = grouped_split(trainval, seed, fractions=(7 / 8, 1 / 8, 0.0))
    splits = dict(train=inner['train'], val=inner['val'],
                  test=sorted(n for n, s in official.items() if s == 'val'))
    return writer.write(splits, source=src)


def find_imgs(src: str) -> str:
    """The ``imgs`` folder of the download (``src/imgs`` or one level down)."""
    for candidate in (osp.join(src, 'imgs'), osp.join(src, 'TBX11K', 'imgs')):
        if osp.isdir(candidate):
            return candidate
    raise FileNotFoundError(f'{NAME}: no imgs/ folder under {src}.')
