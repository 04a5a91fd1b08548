"""Make the bundled subset of ../shared/data/cxr_covid_lungs (run once).

Keeps N_MASKED seeded-random images that have a lung mask (nearly all of
them COVID-19 positive) and N_OTHER without one (nearly all negative), so
classification has both labels and segmentation has enough masks; resized to
a longest side of SIZE px, in the sample's own format: images/, masks/lungs/,
labels.csv, lung_boxes_coco.json (boxes scaled with the images).

    python data_prep/bundled/make_covid_lungs_subset.py SRC OUT \
        [N_MASKED] [N_OTHER] [SIZE]
"""
import csv
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np


def main(src, out, n_masked=300, n_other=100, size=160, seed=0):
    with open(osp.join(src, 'labels.csv'), newline='') as f:
        reader = csv.DictReader(f)
        columns, rows = reader.fieldnames, list(reader)
    rng = np.random.default_rng(seed)
    keep = []
    for has_mask, n in (('1', n_masked), ('0', n_other)):
        pool = sorted((r for r in rows if r['has_lung_mask'] == has_mask),
                      key=lambda r: r['file_name'])
        keep += [pool[i] for i in sorted(rng.choice(len(pool), n,
                                                    replace=False))]
    keep.sort(key=lambda r: r['file_name'])
    with open(osp.join(src, 'lung_boxes_coco.json')) as f:
        coco = json.load(f)
    names = {r['file_name'] for r in keep}
    images = [im for im in coco['images'] if im['file_name'] in names]
    scale = {}
    for sub in ('images', osp.join('masks', 'lungs')):
        os.makedirs(osp.join(out, sub), exist_ok=True)
    for im in images:
        s = size / max(im['width'], im['height'])
        w, h = round(im['width'] * s), round(im['height'] * s)
        scale[im['id']] = s
        img = cv2.imread(osp.join(src, 'images', im['file_name']),
                         cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(osp.join(out, 'images', im['file_name']),
                    cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA))
        mask_path = osp.join(src, 'masks', 'lungs', im['file_name'])
        if osp.exists(mask_path):
            mask = cv2.imread(mask_path, cv2.IMREAD_GRAYSCALE)
            cv2.imwrite(osp.join(out, 'masks', 'lungs', im['file_name']),
                        cv2.resize(mask, (w, h),
                                   interpolation=cv2.INTER_NEAREST))
        im['width'], im['height'] = w, h
    anns = []
    for a in coco['annotations']:
        if a['image_id'] in scale:
            s = scale[a['image_id']]
            a = dict(a, bbox=[round(v * s, 1) for v in a['bbox']])
            a['area'] = round(a['bbox'][2] * a['bbox'][3], 1)
            anns.append(a)
    coco.update(images=images, annotations=anns)
    with open(osp.join(out, 'lung_boxes_coco.json'), 'w') as f:
        json.dump(coco, f)
    with open(osp.join(out, 'labels.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(keep)


if __name__ == '__main__':
    args = sys.argv[1:]
    main(args[0], args[1], *(int(a) for a in args[2:]))
