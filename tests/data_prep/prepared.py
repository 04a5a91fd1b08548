"""Read a prepared layout back, for the converter tests."""
import csv
import json
import os.path as osp
from collections import defaultdict
from typing import Optional, Sequence

SPLITS = ('train', 'val', 'test')


def read_prepared(out: str, loc_classes: Sequence[str],
                  cls_column: Optional[str] = None):
    """Labels, boxes and split lists of a converter's output.

    Args:
        out (str): The prepared layout's folder.
        loc_classes (Sequence[str]): The COCO categories every split must
            have, in order, with ids 1..n.
        cls_column (str, optional): Return only this class's cell per image
            (else the whole cls row).

    Returns:
        tuple: ``cls`` (file name -> cell or row), ``boxes`` (file name ->
        list of COCO ``[x, y, w, h]`` tuples; images without boxes map to
        an empty list) and ``splits`` (split -> file names).
    """
    cls, boxes, splits = {}, defaultdict(list), {}
    for split in SPLITS:
        with open(osp.join(out, 'cls', f'{split}.csv')) as f:
            cls.update({r['file_name']: r[cls_column] if cls_column else r
                        for r in csv.DictReader(f)})
        with open(osp.join(out, 'loc', f'{split}.json')) as f:
            coco = json.load(f)
        assert coco['categories'] == [
            dict(id=i + 1, name=c) for i, c in enumerate(loc_classes)]
        names = {im['id']: im['file_name'] for im in coco['images']}
        for name in names.values():
            boxes.setdefault(name, [])
        for a in coco['annotations']:
            boxes[names[a['image_id']]].append(tuple(a['bbox']))
        with open(osp.join(out, 'splits', f'{split}.txt')) as f:
            splits[split] = f.read().split()
    return cls, boxes, splits
