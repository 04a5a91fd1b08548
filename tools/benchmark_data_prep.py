"""Images per second of the data_prep converters on a generated download.

    python tools/benchmark.py data_prep [--count 20000] [--size 640]
        [--resize 512] [--work-dir DIR]

Generates, once per work dir, an NIH ChestX-ray14 download
(``Data_Entry_2017.csv``, ``images_001/images/*.png``) and a CheXpert small
download (``CheXpert-v1.0-small/{train,valid}.csv``,
``train/patientN/study1/view1_frontal.jpg``) of ``--count`` images each,
``--size`` px square radiograph-like 8-bit images (smooth anatomy-scale
structure plus noise, so PNG / JPEG sizes and decode times are realistic;
16 distinct images repeated, the decode cost being per file). Then runs the
``nih_chestxray14`` and ``chexpert`` converters through their registered
``convert()`` with ``--resize`` and without, and prints images per second
against the target of 200 images/s with ``--resize 512`` on 2 cores.
"""
import csv
import os
import os.path as osp
import shutil
import sys
import tempfile
import time
from contextlib import redirect_stdout

import cv2
import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from data_prep.converters import chexpert, nih_chestxray14  # noqa: E402

TARGET_IMAGES_PER_S = 200
DISTINCT_IMAGES = 16


def radiograph_like(size: int, seed: int) -> np.ndarray:
    """An (size, size) uint8 image with a radiograph's spatial statistics.

    Args:
        size (int): Side in pixels.
        seed (int): Seed of the structure and the noise.

    Returns:
        np.ndarray: (size, size) uint8.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size] / size
    body = np.exp(-((x - 0.5) ** 2 / 0.12 + (y - 0.55) ** 2 / 0.2))
    lungs = sum(np.exp(-((x - cx) ** 2 / 0.02 + (y - 0.5) ** 2 / 0.06))
                for cx in (0.33, 0.67))
    ribs = 0.08 * np.sin(2 * np.pi * (y * 11 + rng.uniform()))
    image = 60 + 150 * body - 70 * lungs + 40 * ribs
    image += rng.normal(0, 6, (size, size))
    return image.clip(0, 255).astype(np.uint8)


def _encoded(size: int, ext: str) -> list:
    return [cv2.imencode(ext, radiograph_like(size, s))[1].tobytes()
            for s in range(DISTINCT_IMAGES)]


def make_nih(root: str, count: int, size: int) -> str:
    """An NIH ChestX-ray14 download of ``count`` PNGs under ``root/nih``."""
    src = osp.join(root, 'nih')
    images = osp.join(src, 'images_001', 'images')
    os.makedirs(images)
    blobs = _encoded(size, '.png')
    findings = ['No Finding', 'Effusion', 'Atelectasis|Effusion', 'Nodule']
    with open(osp.join(src, 'Data_Entry_2017.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['Image Index', 'Finding Labels', 'Follow-up #',
                         'Patient ID'])
        for i in range(count):
            name = f'{i:08d}_000.png'
            writer.writerow([name, findings[i % 4], 0, i // 3])
            with open(osp.join(images, name), 'wb') as img:
                img.write(blobs[i % DISTINCT_IMAGES])
    return src


def make_chexpert(root: str, count: int, size: int) -> str:
    """A CheXpert small download: ``count`` frontal JPEGs, 1/10 in valid."""
    src = osp.join(root, 'chexpert')
    archive = osp.join(src, 'CheXpert-v1.0-small')
    blobs = _encoded(size, '.jpg')
    header = ['Path', 'Sex', 'Age', 'Frontal/Lateral', 'AP/PA'] + \
        chexpert.CLASSES
    rows = {'train': [], 'valid': []}
    for i in range(count):
        split = 'valid' if i % 10 == 0 else 'train'
        rel = f'{split}/patient{i:05d}/study1/view1_frontal.jpg'
        os.makedirs(osp.join(archive, osp.dirname(rel)))
        with open(osp.join(archive, rel), 'wb') as img:
            img.write(blobs[i % DISTINCT_IMAGES])
        labels = [('1.0', '0.0', '-1.0', '')[(i + k) % 4]
                  for k in range(len(chexpert.CLASSES))]
        rows[split].append([f'CheXpert-v1.0-small/{rel}', 'Female', 60,
                            'Frontal', 'PA'] + labels)
    for split, table in rows.items():
        with open(osp.join(archive, f'{split}.csv'), 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(table)
    return src


def time_conversion(convert, src: str, out: str, resize) -> float:
    """Seconds of one conversion (its printed summary discarded)."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    with open(os.devnull, 'w') as devnull, redirect_stdout(devnull):
        summary = convert(src, out, resize=resize)
    seconds = time.perf_counter() - start
    if summary['skipped']:
        raise RuntimeError(f'{src}: unexpected skips {summary["skipped"]}')
    return seconds


def bench_data_prep(count: int, size: int, resize: int, work_dir=None):
    """Print images/s of the two converters, with and without --resize."""
    work_dir = work_dir or tempfile.mkdtemp(prefix='fx_bench_data_prep_')
    os.makedirs(work_dir, exist_ok=True)
    stamp = osp.join(work_dir, f'generated_{count}_{size}')
    if not osp.exists(stamp):
        for name in ('nih', 'chexpert'):
            shutil.rmtree(osp.join(work_dir, name), ignore_errors=True)
        start = time.perf_counter()
        make_nih(work_dir, count, size)
        make_chexpert(work_dir, count, size)
        open(stamp, 'w').close()
        print(f'generated 2 x {count} images of {size} px in '
              f'{time.perf_counter() - start:.0f} s under {work_dir}')
    print(f'data_prep on {os.cpu_count()} CPU cores, {count} images of '
          f'{size} x {size} px per dataset')
    for name, convert in (('nih_chestxray14 (PNG)', nih_chestxray14.convert),
                          ('chexpert (JPEG)', chexpert.convert)):
        src = osp.join(work_dir, name.split()[0].split('_')[0])
        for r in (resize, None):
            seconds = time_conversion(convert, src,
                                      osp.join(work_dir, 'out'), r)
            rate = count / seconds
            what = f'--resize {r}' if r else 'as delivered'
            verdict = ''
            if r == 512:
                verdict = (f'; target >= {TARGET_IMAGES_PER_S}: '
                           f'{rate / TARGET_IMAGES_PER_S:.2f}x '
                           f'{"met" if rate >= TARGET_IMAGES_PER_S else "MISSED"}')
            print(f'{name:24s} {what:14s} {rate:7.0f} images/s '
                  f'({seconds:.1f} s){verdict}')
    shutil.rmtree(osp.join(work_dir, 'out'), ignore_errors=True)
