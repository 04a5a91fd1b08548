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

TB-positive only (e.g. ``../shared/data/tbx11k_tb_subset``: ``imgs/tb/``
only, JSONs listing tb images only): when no TB-negative image (``health/``,
``sick/``) is both listed and present, a Tuberculosis classifier would have
no negative to learn from or to score (its AUC is undefined), so **no cls
task is written** -- ``meta.json`` ``classes`` has ``loc`` only and
``cls_omitted`` says why -- and a ``tb`` image without boxes gets no labels
at all (counted under ``TB image without boxes (no labels)``). Use such a
download for localization; the dataset table's ``tbx11k_tb_subset`` entry
(``configs/_base_/datasets/tbx11k_tb_subset.py``) declares only ``loc``.

Pixel grid: a box is read in the pixels of the ``images[]`` entry's
``width`` / ``height``. If the image on disk has another size (a JSON of the
512 px release beside resized images), its boxes are scaled to the file's
size and the image is counted in meta.json's ``boxes_rescaled``. The
released 512 px JSONs and the 256 px subset's JSONs both match their images;
the XML files carry the same boxes at the original scan size (``<size>``).

Split (meta.json ``split_policy``): the official test labels are not public,
so the official **val set is the test split** and the official train set is
split 7:1 into train / val, seeded; TBX11K names no patients, so images are
the groups.
"""
import json
import os.path as osp
import sys
from typing import Dict, Optional, Tuple

from ..layout import EXAMPLES_KEPT, PreparedWriter
from ..progress import progress
from ..registry import register
from ..splits import grouped_split
from ..tables import find_file

NAME = 'TBX11K'
CLASSES = dict(cls=['Tuberculosis'], loc=['TB'])
CATEGORIES = ('ActiveTuberculosis', 'ObsoletePulmonaryTuberculosis',
              'PulmonaryTuberculosis')
FOLDER_LABEL = {'tb': 1, 'health': 0, 'sick': 0}
SPLIT_POLICY = ('official val = test (the official test labels are not '
                'public); official train split 7:1 into train / val, seeded, '
                'images as groups (TBX11K names no patients)')
CLS_OMITTED = ('no TB-negative image (health/, sick/) is listed and present: '
               'every image is TB-positive, so a Tuberculosis head would have '
               'no negative to learn from and its AUC is undefined; only the '
               'loc task (TB boxes) is written')


def _load(path: str) -> Dict[str, dict]:
    """file_name -> dict(boxes=[((x, y, w, h), ann id)], size=(w, h) or None)
    for every image the COCO file lists."""
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
    listed: Dict[str, dict] = {
        im['file_name']: dict(boxes=[], size=(
            (im['width'], im['height']) if 'width' in im and 'height' in im
            else None)) for im in coco['images']}
    for ann in coco['annotations']:
        if ann['category_id'] not in names:
            raise ValueError(f'{NAME}: {path}: annotation {ann.get("id")} has '
                             f'unknown category_id {ann["category_id"]}.')
        if ann['image_id'] not in images:
            raise ValueError(f'{NAME}: {path}: annotation {ann.get("id")} '
                             f'names image_id {ann["image_id"]}, not in '
                             '"images".')
        listed[images[ann['image_id']]]['boxes'].append(
            (tuple(float(v) for v in ann['bbox']), ann.get('id')))
    return listed


def _folder_label(json_path: str, rel: str) -> int:
    folder = rel.split('/')[0]
    if folder not in FOLDER_LABEL:
        raise ValueError(f'{NAME}: {json_path}: image {rel!r} is not in one '
                         f'of the labelled folders {sorted(FOLDER_LABEL)}.')
    return FOLDER_LABEL[folder]


@register('tbx11k',
          'annotations/json/TBX11K_{train,val}.json (COCO; 3 TB categories -> '
          'TB), imgs/{health,sick,tb}/*.png (folder = label); TB-only '
          'downloads: loc only')
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
        listed = sorted(_load(path).items()) if path else []
        parts[split] = (path, listed[:limit] if limit else listed)
    imgs = find_imgs(src)
    with_cls = any(
        not _folder_label(json_path, rel) and osp.isfile(osp.join(imgs, rel))
        for json_path, listed in parts.values() for rel, _ in listed)
    classes = CLASSES if with_cls else dict(loc=CLASSES['loc'])
    writer = PreparedWriter(out, NAME, classes, resize)
    official: Dict[str, str] = {}
    rescaled = []
    for split, (json_path, listed) in parts.items():
        for rel, entry in progress(listed, len(listed), f'{split} images'):
            label = _folder_label(json_path, rel)
            image_boxes = entry['boxes']
            if image_boxes and not label:
                raise ValueError(f'{NAME}: {json_path}: {rel} is in '
                                 f'{rel.split("/")[0]}/ (no TB) but has '
                                 f'{len(image_boxes)} TB box(es).')
            path = osp.join(imgs, rel)
            if not osp.isfile(path):
                writer.missing(path)
                continue
            if label and not image_boxes and not with_cls:
                writer.skip('TB image without boxes (no labels)',
                            f'{json_path}: {rel}')
                continue
            name = writer.add_image_or_skip(path)
            if name is None:
                continue
            if name in official:
                raise ValueError(f'{NAME}: {rel} is listed in both official '
                                 'train and val.')
            official[name] = split
            if with_cls:
                writer.add_cls(name, [label])
            if label and not image_boxes:
                writer.skip('TB image without boxes (no loc labels)',
                            f'{json_path}: {rel}')
                continue
            writer.add_boxes_for(name)
            sx, sy = _json_to_file_scale(writer.images[name], entry['size'])
            if (sx, sy) != (1.0, 1.0) and image_boxes:
                rescaled.append(f'{json_path}: {rel} listed at '
                                f'{entry["size"]}, file '
                                f'{writer.images[name]["source_size"]}')
            for (x, y, w, h), ann_id in image_boxes:
                try:
                    writer.add_box(name, 'TB', x * sx, y * sy, (x + w) * sx,
                                   (y + h) * sy,
                                   where=f'{json_path}, annotation {ann_id}')
                except ValueError as e:
                    raise ValueError(f'{json_path}, annotation {ann_id} '
                                     f'(bbox): {e}') from e
    if rescaled:
        print(f'[{NAME}] boxes of {len(rescaled)} image(s) scaled from the '
              f'JSON\'s image size to the file\'s, e.g. {rescaled[0]}',
              file=sys.stderr)
    trainval = {n: n for n, s in official.items() if s == 'train'}
    inner = grouped_split(trainval, seed, fractions=(7 / 8, 1 / 8, 0.0))
    splits = dict(train=inner['train'], val=inner['val'],
                  test=sorted(n for n, s in official.items() if s == 'val'))
    notes = dict(split_policy=SPLIT_POLICY,
                 boxes_rescaled=dict(images=len(rescaled),
                                     examples=rescaled[:EXAMPLES_KEPT]))
    if not with_cls:
        notes['cls_omitted'] = CLS_OMITTED
    return writer.write(splits, source=src, notes=notes)


def _json_to_file_scale(info: dict, json_size: Optional[Tuple[int, int]]
                        ) -> Tuple[float, float]:
    """Factors from the JSON's pixel grid to the delivered file's (1, 1 when
    they agree or the JSON gives no size)."""
    if not json_size:
        return 1.0, 1.0
    width, height = info['source_size']
    return width / json_size[0], height / json_size[1]


def find_imgs(src: str) -> str:
    """The ``imgs`` folder of the download (``src/imgs`` or one level down)."""
    for candidate in (osp.join(src, 'imgs'), osp.join(src, 'TBX11K', 'imgs')):
        if osp.isdir(candidate):
            return candidate
    raise FileNotFoundError(f'{NAME}: no imgs/ folder under {src}.')
