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
import contextvars
import csv
import json
import os
import os.path as osp
import shutil
import sys
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Deque, Dict, Iterable, List, Optional, Sequence

import cv2
import numpy as np

from fx_mm.datasets.image_io import ImageReadError, read_gray
from fx_mm.datasets.transforms.loading import mask_folder

SPLITS = ('train', 'val', 'test')

#: Above this fraction of the listed images missing from --src, a conversion
#: fails (a wrong --src must not look like success) unless partial downloads
#: are allowed (``--allow-partial``).
MAX_MISSING_FRACTION = 0.5
#: Whether the conversion running in this context accepts a partial download;
#: set by the registry's wrapper around every converter's ``convert()``.
ALLOW_PARTIAL = contextvars.ContextVar('allow_partial', default=False)
#: Missing files named on stderr before the rest are only counted.
MISSING_PRINTED = 5
#: Examples per skip reason kept in meta.json.
EXAMPLES_KEPT = 20
#: Threads that encode and write images while the converter decodes the next
#: (OpenCV releases the GIL in imencode / imwrite, so on 2 cores this nearly
#: doubles --resize throughput); writes queued at most, to bound memory.
WRITE_THREADS = 2
MAX_PENDING_WRITES = 64


class ConversionError(ValueError):
    """A conversion whose result would be misleading (empty train split, most
    images missing); meta.json records the counts, no label files are written.
    """


def check_out_dir(src: str, out: str) -> None:
    """Refuse an output folder that is, contains, or lies inside the source.

    ``--out`` inside ``--src`` would write into the download; ``--src``
    inside ``--out`` (say, a previous output folder) would have the output's
    layout folders cleared under the source.
    """
    src_abs, out_abs = osp.realpath(src), osp.realpath(out)
    if out_abs == src_abs or out_abs.startswith(src_abs + os.sep):
        raise ValueError(f'--out {out} lies inside --src {src}: a converter '
                         'never writes into its source.')
    if src_abs.startswith(out_abs + os.sep):
        raise ValueError(f'--src {src} lies inside --out {out}: the output '
                         'folder is cleared before a conversion, so a '
                         'converter never writes above its source either.')


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
        self._pool = ThreadPoolExecutor(WRITE_THREADS,
                                        thread_name_prefix='data_prep_write')
        self._pending: Deque[Future] = deque()

    def _submit(self, fn, *args) -> None:
        """Run an image write in the pool; an error surfaces at the latest
        in :meth:`flush` (a full disk must not pass silently)."""
        while len(self._pending) >= MAX_PENDING_WRITES:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(fn, *args))

    def flush(self) -> None:
        """Wait until every image queued so far is on disk."""
        while self._pending:
            self._pending.popleft().result()

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
            str: The image's file name in the layout; ``images[name]`` holds
            its ``width`` / ``height`` as written, the ``scale`` applied and
            the delivered ``source_size`` (width, height).
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
            self._submit(_write_png, osp.join(self.out, 'images', base), gray)
            self.images[base] = dict(width=gray.shape[1], height=gray.shape[0],
                                     scale=scale, source_size=(w, h))
        else:
            # Decode (once) before copying: an unreadable file must leave no
            # copy; the decoded pixels give the size.
            h, w = read_gray(src_path).shape
            self._submit(shutil.copyfile, src_path,
                         osp.join(self.out, 'images', base))
            self.images[base] = dict(width=w, height=h, scale=1.0,
                                     source_size=(w, h))
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

    def missing(self, path: str) -> None:
        """Count an image listed by the labels but absent from ``--src``.

        The first few paths are printed and kept in meta.json; the count is
        checked by :meth:`write` against the images found.

        Args:
            path (str): The file looked for (or the label table's name of it).
        """
        reason = 'image file missing'
        count = self.skipped.get(reason, 0)
        if count == MISSING_PRINTED:
            print(f'[{self.name}] more images missing; counted in '
                  'meta.json, the first ones named there', file=sys.stderr)
        self.skip(reason, path, echo=count < MISSING_PRINTED)

    def skip(self, reason: str, detail: str = '', echo: bool = True) -> None:
        """Count an item left out, by reason (printed in the summary).

        Args:
            reason (str): The kind of skip (a key of meta.json's ``skipped``).
            detail (str): Which item and why; logged, and the first few kept
                in meta.json's ``skipped_examples``.
            echo (bool): Whether to print ``detail`` on stderr (it is kept
                in the examples either way).
        """
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if detail:
            if echo:
                print(f'[{self.name}] skipped ({reason}): {detail}',
                      file=sys.stderr)
            examples = self.skipped_examples.setdefault(reason, [])
            if len(examples) < EXAMPLES_KEPT:
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
                x2: float, y2: float, where: str = '') -> bool:
        """One box in the source image's pixels (scaled if resized).

        A box reaching past the border (beyond a pixel of rounding) is
        clipped to the image and counted under ``box clipped to the image``;
        one that is empty or lies wholly outside is counted under ``box
        outside the image or empty`` and left out. Either way the first
        examples are kept in meta.json: one bad row in a table of tens of
        thousands must not end a conversion, nor pass unseen.

        Args:
            file_name (str): The image's name in the layout.
            label (str): The box's class.
            x1, y1, x2, y2 (float): Corners in the delivered image's pixels.
            where (str): Which source row gave the box (for the examples).

        Returns:
            bool: Whether the box was kept.

        Raises:
            ValueError: On a class that is not one of the dataset's.
        """
        classes = self.classes['loc']
        if label not in classes:
            raise ValueError(f'{self.name} {file_name}: box class {label!r} is '
                             f'not one of {classes}.')
        info = self.images[file_name]
        s = info['scale']
        x1, y1, x2, y2 = (v * s for v in (x1, y1, x2, y2))
        w, h = info['width'], info['height']
        detail = (f'{where + ": " if where else ""}{file_name}: box ({x1:.1f}, '
                  f'{y1:.1f}, {x2:.1f}, {y2:.1f}) of class {label!r}, image '
                  f'{w}x{h}')
        cx1, cy1 = max(x1, 0.0), max(y1, 0.0)
        cx2, cy2 = min(x2, float(w)), min(y2, float(h))
        if not (cx1 < cx2 and cy1 < cy2):
            self.skip('box outside the image or empty', detail)
            return False
        tol = 1.0  # a pixel of rounding at the border is not worth a note
        if x1 < -tol or y1 < -tol or x2 > w + tol or y2 > h + tol:
            self.skip('box clipped to the image', detail)
        self.boxes.setdefault(file_name, []).append(
            (classes.index(label), cx1, cy1, cx2, cy2))
        return True

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
    def write(self, splits: Dict[str, Iterable[str]], source: str = '',
              notes: Optional[dict] = None) -> dict:
        """Write label files, split lists and meta.json; print a summary.

        Args:
            splits (dict): ``train`` / ``val`` / ``test`` -> image file names.
            source (str): Where the data came from (for meta.json).
            notes (dict, optional): Converter-specific entries added
                to the summary (say, which split policy was used).

        Returns:
            dict: The summary written to meta.json.

        Raises:
            ValueError: If a note would replace a summary entry.
        """
        self.flush()
        self._pool.shutdown()
        splits = {k: sorted(splits.get(k, [])) for k in SPLITS}
        summary = dict(name=self.name, classes=self.classes, source=source,
                       images=len(self.images), resize=self.resize,
                       splits={k: len(v) for k, v in splits.items()},
                       skipped=self.skipped,
                       skipped_examples=self.skipped_examples)
        clash = sorted(set(notes or {}) & (set(summary) | {
            'failed', 'cls_positives', 'boxes', 'masked_images'}))
        if clash:
            raise ValueError(f'{self.name}: notes {clash} would replace '
                             'summary entries.')
        summary.update(notes or {})
        failure = self._failure(summary)
        if failure:
            # meta.json marks the folder as data_prep's (a rerun may clear
            # it) and keeps the counts; no split or label file is written,
            # so nothing can train on the misleading result.
            summary['failed'] = failure
            with open(osp.join(self.out, 'meta.json'), 'w') as f:
                json.dump(summary, f, indent=2, sort_keys=True)
            raise ConversionError(failure)
        for d in ('splits', 'cls', 'loc', 'seg'):
            os.makedirs(osp.join(self.out, d), exist_ok=True)
        masked = set(self.masked)
        for split, names in splits.items():
            _write_lines(osp.join(self.out, 'splits', f'{split}.txt'), names)
            if 'cls' in self.classes:
                self._write_cls(split, [n for n in names if n in self.cls_rows])
            if 'loc' in self.classes:
                self._write_coco(split, [n for n in names if n in self.boxes])
            if 'seg' in self.classes:
                _write_lines(osp.join(self.out, 'seg', f'{split}.txt'),
                             [n for n in names if n in masked])
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

    def _failure(self, summary: dict) -> str:
        """Why this conversion must not look like success ('' if it may).

        Fails on an empty train split, and on more than
        :data:`MAX_MISSING_FRACTION` of the listed images missing from
        ``--src`` unless :data:`ALLOW_PARTIAL` is set.
        """
        missing = self.skipped.get('image file missing', 0)
        unreadable = self.skipped.get('unreadable image', 0)
        listed = len(self.images) + missing + unreadable
        first = self.skipped_examples.get('image file missing', [])[:5]
        counts = (f'{len(self.images)} images converted, {missing} of the '
                  f'{listed} listed missing from --src, {unreadable} '
                  f'unreadable; splits {summary["splits"]}')
        if first:
            counts += '; first missing: ' + ', '.join(first)
        where = f'{self.name} from {summary["source"] or "--src"}'
        if listed and missing > MAX_MISSING_FRACTION * listed and \
                not ALLOW_PARTIAL.get():
            return (f'{where}: most listed images are missing ({counts}). Is '
                    '--src the folder the dataset was downloaded to? For a '
                    'partial download, pass --allow-partial.')
        if not summary['splits']['train']:
            return (f'{where}: the train split is empty ({counts}). Check '
                    '--src and the converter\'s layout '
                    '(python -m data_prep --list).')
        return ''

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


def _write_png(path: str, gray: np.ndarray) -> None:
    if not cv2.imwrite(path, gray):
        raise OSError(f'could not write {path} (disk full or not writable?)')


def _write_lines(path: str, lines: Iterable[str]) -> None:
    with open(path, 'w') as f:
        f.writelines(f'{line}\n' for line in lines)
