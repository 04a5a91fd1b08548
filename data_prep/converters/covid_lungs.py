"""The COVID-19 chest X-ray lungs sample (../shared/data/cxr_covid_lungs).

Not a dataset of the paper: the real sample fx_mm uses for its demo, its tests
and the "Adding your own dataset" walk-through. It has all three tasks:
classification (COVID-19 vs not), localization (right / left lung boxes) and
segmentation (both lungs in one mask, for the images that have one).
"""
import csv
import json
import os.path as osp
from typing import Optional


from fx_mm.datasets.image_io import read_gray
from ..layout import PreparedWriter
from ..progress import progress
from ..registry import register
from ..splits import grouped_split

CLASSES = dict(cls=['COVID-19'], loc=['Right Lung', 'Left Lung'],
               seg=['Lungs'])


@register('covid_lungs',
          'labels.csv (file_name, covid, has_lung_mask, source_url), '
          'lung_boxes_coco.json, images/*.png, masks/lungs/*.png')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None, masked_only: bool = False) -> dict:
    """Convert the sample; ``limit`` keeps the first N images (by name).

    Images of one source URL (one case report, usually one patient) stay in
    one split. ``masked_only`` keeps only images that have a lung mask, so
    every image has labels for all three tasks.
    """
    with open(osp.join(src, 'labels.csv'), newline='') as f:
        rows = list(csv.DictReader(f))
    for column in ('file_name', 'covid', 'has_lung_mask', 'source_url'):
        if rows and column not in rows[0]:
            raise ValueError(f'{src}/labels.csv: missing column {column!r}.')
    with open(osp.join(src, 'lung_boxes_coco.json')) as f:
        coco = json.load(f)
    cat_names = {c['id']: c['name'] for c in coco['categories']}
    image_of = {im['id']: im['file_name'] for im in coco['images']}
    boxes = {}
    for ann in coco['annotations']:
        boxes.setdefault(image_of[ann['image_id']], []).append(ann)

    rows = sorted(rows, key=lambda r: r['file_name'])
    if masked_only:
        rows = [r for r in rows if r['has_lung_mask'] == '1']
    if limit:
        rows = rows[:limit]
    writer = PreparedWriter(out, 'CovidLungs', CLASSES, resize)
    groups = {}
    for row in progress(rows, len(rows), 'images'):
        path = osp.join(src, 'images', row['file_name'])
        name = writer.add_image(path)
        groups[name] = row['source_url'] or name
        if row['covid'] not in ('0', '1'):
            raise ValueError(f'{src}/labels.csv, {row["file_name"]}: covid='
                             f'{row["covid"]!r}, expected 0 or 1.')
        writer.add_cls(name, [int(row['covid'])])
        writer.add_boxes_for(name)
        for ann in boxes.get(row['file_name'], []):
            x, y, w, h = ann['bbox']
            writer.add_box(name, cat_names[ann['category_id']], x, y, x + w,
                           y + h)
        if row['has_lung_mask'] == '1':
            mask = read_gray(osp.join(src, 'masks', 'lungs', row['file_name']))
            writer.add_masks(name, (mask > 127)[None])
    return writer.write(grouped_split(groups, seed), source=src)
