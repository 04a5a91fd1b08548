"""Write a dataset in fx_mm's prepared layout (see data_prep/README.md).

::

    <out>/images/<file>                      images, as delivered or PNG (--resize)
    <out>/cls/{train,val,test}.csv           file_name + one column per class:
                                             1, 0, -1 (uncertain), blank (missing)
    <out>/loc/{train,val,test}.json          COCO detection, categories in class order
    <out>/seg/{train,val,test}.txt           image file names with masks
    <out>/seg/masks/<class>/<stem>.png       0/255 mask per class and image
    <out>/splits/{train,val,test}.txt        every image of the split
    <out>/meta.json                          name, classes per task, counts, source
"""
import csv
import json
import os
import os.path as osp
import shutil
import sys
from typing import Dict, Iterable, List, Optional, Sequence

import cv2
import numpy as np

from fx_mm.datasets.image_io import ImageReadError, read_gray
from fx_mm.datasets.transforms.loading import mask_folder

SPLITS = ('train', 'val', 'test')


def check_out_dir(src: str, out: str) -> None:
    """Refuse an output folder that is, or lies inside, the source."""
    src_abs, out_abs = osp.realpath(src), osp.realpath(out)
    if out_abs == src_abs or out_abs.startswith(src_abs + os.sep):
        raise ValueError(f'--out {out} lies inside --src {src}: a converter '
                         'never writes into its source.')


class PreparedWriter:
    """Collects one dataset's labels and writes the prepared layout.

    Args:
        out (str): Output folder (created; files in it are replaced).
        name (str): Dataset name (as in the config's dataset table).
        classes (dict[str, list[str]]): Class names per task present.
        resize (int, optional): Longest image side; images are then decoded
            and written as 8-bit PNG, and boxes scaled. None keeps images as
            delivered (copied; DICOM and other formats as they are).
    """

    def __init__(self, out: str, name: str, classes: Dict[str, List[str]],
                 resize: Optional[int] = None) -> None:
        self.out, self.name, self.classes = out, name, classes
        self.resize = resize
        self.images: Dict[str, dict] = {}  # file name -> width, height, scale
        self.cls_rows: Dict[str, List[str]] = {}
        self.boxes: Dict[str, List[tuple]] = {}
        self.masked: List[str] = []
        self.skipped: Dict[str, int] = {}
        self.skipped_examples: Dict[str, List[str]] = {}
        _clear_previous_output(out)
        os.makedirs(osp.join(out, 'images'), exist_ok=True)

    # ------------------------------------------------------------- images
    def add_image(self, src_path: str, file_name: Optional[str] = None,
                  pixels: Optional[np.ndarray] = None) -> str:
        """Copy or decode one image into ``images/``.

        Args:
            src_path (str): The delivered file.
            file_name (str, optional): Name in the layout; defaults to the
                source's base name (``.png`` when resized).
            pixels (np.ndarray, optional): Already decoded (H, W) pixels.

        Returns:
            str: The image's file name in the layout.
        """
        base = file_name or osp.basename(src_path)
        if self.resize or pixels is not None:
            base = osp.splitext(base)[0] + '.png'
            gray = read_gray(src_path) if pixels is None else pixels
            h, w = gray.shape
            scale = 1.0
            if self.resize and max(h, w) != self.resize:
                scale = self.resize / max(h, w)
                gray = cv2.resize(gray, (round(w * scale), round(h * scale)),
                                  interpolation=cv2.INTER_AREA)
            cv2.imwrite(osp.join(self.out, 'images', base), gray)
            self.images[base] = dict(width=gray.shape[1], height=gray.shape[0],
                                     scale=scale)
        else:
            # Decode before copying: an unreadable file must leave no copy.
            h, w = read_gray(src_path).shape
            shutil.copyfile(src_path, osp.join(self.out, 'images', base))
            self.images[base] = dict(width=w, height=h, scale=1.0)
        return base

    def add_image_or_skip(self, src_path: str,
                          file_name: Optional[str] = None) -> Optional[str]:
        """:meth:`add_image`, but a corrupt or unreadable file is skipped.

        The skip is counted under ``unreadable image`` and the file is named
        on stderr and in meta.json, so one bad file in a large download does
        not stop the conversion and is never given labels.

        Returns:
            str | None: The image's file name in the layout, None if skipped.
        """
        try:
            return self.add_image(src_path, file_name)
        except ImageReadError as e:
            self.skip('unreadable image', str(e))
            return None

    def skip(self, reason: str, detail: str = '') -> None:
        """Count an item left out, by reason (printed in the summary).

        Args:
            reason (str): The kind of skip (a key of meta.json's ``skipped``).
            detail (str): Which item and why; logged, and the first few kept
                in meta.json's ``skipped_examples``.
        """
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if detail:
            print(f'[{self.name}] skipped ({reason}): {detail}',
                  file=sys.stderr)
            examples = self.skipped_examples.setdefault(reason, [])
            if len(examples) < 20:
                examples.append(detail)

    # ------------------------------------------------------------- labels
    def add_cls(self, file_name: str, labels: Sequence) -> None:
        """One image's raw labels, in class order: 1, 0, -1 or None."""
        classes = self.classes['cls']
        if len(labels) != len(classes):
            raise ValueError(f'{self.name} {file_name}: {len(labels)} labels '
                             f'for {len(classes)} classes.')
        cells = []
        for cls, value in zip(classes, labels):
            if value is None or (isinstance(value, float) and np.isnan(value)):
                cells.append('')
            elif value in (1, 0, -1):
                cells.append(str(int(value)))
            else:
                raise ValueError(f'{self.name} {file_name}, class {cls!r}: '
                                 f'label {value!r} is not 1, 0, -1 or missing.')
        self.cls_rows[file_name] = cells

    def add_box(self, file_name: str, label: str, x1: float, y1: float,
                x2: float, y2: float) -> None:
        """One box in the source image's pixels (scaled if resized).

        Raises:
            ValueError: On an unknown class or a box outside the image.
        """
        classes = self.classes['loc']
        if label not in classes:
            raise ValueError(f'{self.name} {file_name}: box class {label!r} is '
                             f'not one of {classes}.')
        info = self.images[file_name]
        s = info['scale']
        x1, y1, x2, y2 = (v * s for v in (x1, y1, x2, y2))
        w, h = info['width'], info['height']
        tol = 1.0  # a pixel of rounding at the border
        if not (-tol <= x1 < x2 <= w + tol and -tol <= y1 < y2 <= h + tol):
            raise ValueError(
                f'{self.name} {file_name}: box ({x1:.1f}, {y1:.1f}, {x2:.1f}, '
                f'{y2:.1f}) of class {label!r} lies outside the {w}x{h} image '
                'or is empty.')
        box = (classes.index(label), max(x1, 0.0), max(y1, 0.0),
               min(x2, float(w)), min(y2, float(h)))
        self.boxes.setdefault(file_name, []).append(box)

    def add_boxes_for(self, file_name: str) -> None:
        """Mark an image as having localization labels (maybe no box)."""
        self.boxes.setdefault(file_name, [])

    def add_masks(self, file_name: str, masks: np.ndarray) -> None:
        """One image's masks, (C, H, W) bool at the source size."""
        classes = self.classes['seg']
        if masks.shape[0] != len(classes):
            raise ValueError(f'{self.name} {file_name}: {masks.shape[0]} masks '
                             f'for {len(classes)} classes.')
        info = self.images[file_name]
        stem = osp.splitext(file_name)[0]
        for name, mask in zip(classes, masks):
            mask = mask.astype(np.uint8) * 255
            if mask.shape != (info['height'], info['width']):
                mask = cv2.resize(mask, (info['width'], info['height']),
                                  interpolation=cv2.INTER_NEAREST)
            folder = osp.join(self.out, 'seg', 'masks', mask_folder(name))
            os.makedirs(folder, exist_ok=True)
            cv2.imwrite(osp.join(folder, stem + '.png'), mask)
        self.masked.append(file_name)

    # -------------------------------------------------------------- write
    def write(self, splits: Dict[str, Iterable[str]], source: str = '') -> dict:
        """Write label files, split lists and meta.json; print a summary.

        Args:
            splits (dict): ``train`` / ``val`` / ``test`` -> image file names.
            source (str): Where the data came from (for meta.json).

        Returns:
            dict: The summary written to meta.json.
        """
        splits = {k: sorted(splits.get(k, [])) for k in SPLITS}
        for d in ('splits', 'cls', 'loc', 'seg'):
            os.makedirs(osp.join(self.out, d), exist_ok=True)
        summary = dict(name=self.name, classes=self.classes, source=source,
                       images=len(self.images), resize=self.resize,
                       splits={k: len(v) for k, v in splits.items()},
                       skipped=self.skipped,
                       skipped_examples=self.skipped_examples)
        for split, names in splits.items():
            _write_lines(osp.join(self.out, 'splits', f'{split}.txt'), names)
            if 'cls' in self.classes:
                self._write_cls(split, [n for n in names if n in self.cls_rows])
            if 'loc' in self.classes:
                self._write_coco(split, [n for n in names if n in self.boxes])
            if 'seg' in self.classes:
                _write_lines(osp.join(self.out, 'seg', f'{split}.txt'),
                             [n for n in names if n in set(self.masked)])
        if 'cls' in self.classes:
            summary['cls_positives'] = {
                c: sum(row[i] == '1' for row in self.cls_rows.values())
                for i, c in enumerate(self.classes['cls'])}
        if 'loc' in self.classes:
            summary['boxes'] = {
                c: sum(b[0] == i for bs in self.boxes.values() for b in bs)
                for i, c in enumerate(self.classes['loc'])}
        if 'seg' in self.classes:
            summary['masked_images'] = len(self.masked)
        with open(osp.join(self.out, 'meta.json'), 'w') as f:
            json.dump(summary, f, indent=2, sort_keys=True)
        print(json.dumps(summary, indent=2, sort_keys=True))
        return summary

    def _write_cls(self, split: str, names: List[str]) -> None:
        with open(osp.join(self.out, 'cls', f'{split}.csv'), 'w',
                  newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['file_name'] + self.classes['cls'])
            for name in names:
                writer.writerow([name] + self.cls_rows[name])

    def _write_coco(self, split: str, names: List[str]) -> None:
        images, annotations = [], []
        for image_id, name in enumerate(names, start=1):
            info = self.images[name]
            images.append(dict(id=image_id, file_name=name,
                               width=info['width'], height=info['height']))
            for label, x1, y1, x2, y2 in self.boxes[name]:
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=image_id,
                    category_id=label + 1,
                    bbox=[round(x1, 2), round(y1, 2), round(x2 - x1, 2),
                          round(y2 - y1, 2)],
                    area=round((x2 - x1) * (y2 - y1), 2), iscrowd=0))
        coco = dict(images=images, annotations=annotations, categories=[
            dict(id=i + 1, name=c) for i, c in enumerate(self.classes['loc'])])
        with open(osp.join(self.out, 'loc', f'{split}.json'), 'w') as f:
            json.dump(coco, f)


LAYOUT_ENTRIES = ('images', 'cls', 'loc', 'seg', 'splits', 'meta.json')


def _clear_previous_output(out: str) -> None:
    """Make a rerun give exactly the new output.

    A folder written by a converter before (it has meta.json) has its layout
    entries removed; any other non-empty folder is refused, so a mistyped
    --out never deletes a user's files.
    """
    if not osp.isdir(out) or not os.listdir(out):
        return
    if not osp.isfile(osp.join(out, 'meta.json')):
        raise ValueError(f'--out {out} is not empty and was not written by '
                         'data_prep (no meta.json); choose an empty folder.')
    for entry in LAYOUT_ENTRIES:
        path = osp.join(out, entry)
        if osp.isdir(path):
            shutil.rmtree(path)
        elif osp.isfile(path):
            os.remove(path)


def _write_lines(path: str, lines: Iterable[str]) -> None:
    with open(path, 'w') as f:
        f.writelines(f'{line}\n' for line in lines)
