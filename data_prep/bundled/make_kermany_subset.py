"""Make the bundled subset of the Kermany pneumonia set (run once).

From each release folder (``train``, ``test``) of a Kaggle-layout download
(``chest_xray/{train,test}/{NORMAL,PNEUMONIA}``), draws patients -- grouped
as the ``kermany_pneumonia`` converter groups them (``person<N>``,
``IM-<id>``) -- in a seeded order and keeps **one image per patient** (the
first by name), until each kind has its count: normal, bacterial and viral
pneumonia. A patient drawn for one kind is not drawn again in that folder,
so no patient has two images in one release folder (more patients, fewer
near-duplicates). With ``--test-all`` the whole official test folder is
kept instead (every image: the benchmark's own test set). The files keep the
release's layout and names; they are copied byte for byte, or with ``--size
S`` re-encoded as S x S greyscale JPEGs (quality 90), which is how a bundle
of a few thousand films stays a few MiB.

    python data_prep/bundled/make_kermany_subset.py SRC OUT \
        [--train N_NORMAL N_BACTERIAL N_VIRAL] [--test ... | --test-all] \
        [--size S] [--seed S]

The bundled copy was made from ../shared/data/kermany_pneumonia (224 x 224
JPEGs) with ``--train 750 375 375 --test-all --size 64`` (seed 0).
"""
import argparse
import os
import os.path as osp
import shutil
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))
from data_prep.converters.kermany_pneumonia import (  # noqa: E402
    CLASS_FOLDERS, find_layout_root, list_images, parse_name)

KINDS = ('normal', 'bacterial', 'viral')


def draw(items: List[Tuple[str, str]], counts: Dict[str, int], seed: int
         ) -> List[Tuple[str, str]]:
    """One image per drawn patient, ``counts[kind]`` patients per kind.

    Args:
        items: (class folder, path) of one release folder's images.
        counts: Images wanted per kind.
        seed: Seed of the patient order.

    Returns:
        The (class folder, path) kept, sorted.
    """
    by_kind: Dict[str, Dict[str, List[Tuple[str, str]]]] = {
        k: {} for k in KINDS}
    for class_folder, path in items:
        parsed = parse_name(class_folder,
                            osp.splitext(osp.basename(path))[0])
        if parsed is None:
            continue
        kind, group = parsed
        by_kind[kind].setdefault(group, []).append((class_folder, path))
    rng = np.random.default_rng(seed)
    taken, kept = set(), []
    for kind in KINDS:
        groups = sorted(by_kind[kind])
        order = [groups[i] for i in rng.permutation(len(groups))]
        chosen = [g for g in order if g not in taken][:counts[kind]]
        if len(chosen) < counts[kind]:
            raise ValueError(f'only {len(chosen)} {kind} patients available, '
                             f'{counts[kind]} asked for.')
        taken.update(chosen)
        kept += [min(by_kind[kind][g], key=lambda item: item[1])
                 for g in chosen]
    return sorted(kept)


def copy_image(src: str, dst: str, size: Optional[int]) -> None:
    """Copy one film byte for byte, or as a ``size`` px greyscale JPEG.

    Args:
        src: Source file.
        dst: New file (never the source: the caller writes under OUT).
        size: Side of the square copy; None copies the bytes.
    """
    if size is None:
        shutil.copyfile(src, dst)
        return
    with Image.open(src) as image:
        # Area averaging: the copy is a downscale of the whole film.
        small = image.convert('L').resize((size, size), Image.BOX)
    small.save(dst, 'JPEG', quality=90)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='Kaggle-layout download (or chest_xray/)')
    parser.add_argument('out', help='new folder; chest_xray/ is made in it')
    parser.add_argument('--train', type=int, nargs=3, default=(150, 75, 75),
                        metavar=('NORMAL', 'BACTERIAL', 'VIRAL'))
    parser.add_argument('--test', type=int, nargs=3, default=(50, 25, 25),
                        metavar=('NORMAL', 'BACTERIAL', 'VIRAL'))
    parser.add_argument('--test-all', action='store_true',
                        help='keep every image of the official test folder')
    parser.add_argument('--size', type=int, default=None,
                        help='re-encode as SIZE x SIZE greyscale JPEGs')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if osp.exists(args.out):
        parser.error(f'{args.out} exists; the subset is written to a new '
                     f'folder.')
    root, _ = find_layout_root(args.src)
    everything = list_images(root)
    for release, counts in (('train', args.train), ('test', args.test)):
        items = [(c, p) for r, c, p in everything if r == release]
        if release == 'test' and args.test_all:
            kept = sorted((c, p) for c, p in items)
            counts = None
        else:
            kept = draw(items, dict(zip(KINDS, counts)), args.seed)
        for class_folder in CLASS_FOLDERS:
            os.makedirs(osp.join(args.out, 'chest_xray', release,
                                 class_folder), exist_ok=True)
        for class_folder, path in kept:
            copy_image(path, osp.join(args.out, 'chest_xray', release,
                                      class_folder, osp.basename(path)),
                       args.size)
        what = 'all' if counts is None else dict(zip(KINDS, counts))
        print(f'{release}: {len(kept)} images ({what})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
