"""Make the bundled subset of the Kermany pneumonia set (run once).

From each release folder (``train``, ``test``) of a Kaggle-layout download
(``chest_xray/{train,test}/{NORMAL,PNEUMONIA}``), draws patients -- grouped
as the ``kermany_pneumonia`` converter groups them (``person<N>``,
``IM-<id>``) -- in a seeded order and keeps **one image per patient** (the
first by name), until each kind has its count: normal, bacterial and viral
pneumonia. A patient drawn for one kind is not drawn again in that folder,
so no patient has two images in one release folder (more patients, fewer
near-duplicates). The files are copied byte for byte, into the same layout.

    python data_prep/bundled/make_kermany_subset.py SRC OUT \
        [--train N_NORMAL N_BACTERIAL N_VIRAL] [--test ...] [--seed S]

The bundled copy was made from ../shared/data/kermany_pneumonia (224 x 224
JPEGs) with the defaults: train 150 / 75 / 75, test 50 / 25 / 25, seed 0.
"""
import argparse
import os
import os.path as osp
import shutil
import sys
from typing import Dict, List, Tuple

import numpy as np

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='Kaggle-layout download (or chest_xray/)')
    parser.add_argument('out', help='new folder; chest_xray/ is made in it')
    parser.add_argument('--train', type=int, nargs=3, default=(150, 75, 75),
                        metavar=('NORMAL', 'BACTERIAL', 'VIRAL'))
    parser.add_argument('--test', type=int, nargs=3, default=(50, 25, 25),
                        metavar=('NORMAL', 'BACTERIAL', 'VIRAL'))
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    root, _ = find_layout_root(args.src)
    everything = list_images(root)
    for release, counts in (('train', args.train), ('test', args.test)):
        items = [(c, p) for r, c, p in everything if r == release]
        kept = draw(items, dict(zip(KINDS, counts)), args.seed)
        for class_folder in CLASS_FOLDERS:
            os.makedirs(osp.join(args.out, 'chest_xray', release,
                                 class_folder), exist_ok=True)
        for class_folder, path in kept:
            shutil.copyfile(path, osp.join(args.out, 'chest_xray', release,
                                           class_folder, osp.basename(path)))
        print(f'{release}: {len(kept)} images ({dict(zip(KINDS, counts))})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
