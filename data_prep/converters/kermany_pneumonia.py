"""Kermany et al. 2018 paediatric pneumonia radiographs: normal, bacterial or
viral pneumonia, from folder and file name.

Official distribution: Mendeley Data doi:10.17632/rscbjbr9sj.2 (CC BY 4.0),
most often downloaded as Kaggle's "Chest X-Ray Images (Pneumonia)"::

    chest_xray/
        train/NORMAL/IM-0115-0001.jpeg, NORMAL2-IM-0427-0001.jpeg, ...
        train/PNEUMONIA/person1000_bacteria_2931.jpeg,
                        person1000_virus_1681.jpeg, ...
        test/{NORMAL,PNEUMONIA}/...      (the official test set, 624 images)
        val/{NORMAL,PNEUMONIA}/...       (16 images; Kaggle only)

Kaggle's archive also holds a second copy of the tree in
``chest_xray/chest_xray/`` and macOS metadata in ``__MACOSX/`` (``._*``
files) and ``.DS_Store`` files. ``--src`` may be the download root, its
``chest_xray/`` or the nested copy: the shallowest folder under ``--src``
with a ``train/`` holding ``NORMAL/`` or ``PNEUMONIA/`` is read (deeper copies
are listed in meta.json's ``ignored_copies``, never read); two such folders
at the same depth are an error naming both. Hidden files and folders and
``__MACOSX/`` are never read.

File names (checked on the real set: 5,856 names, all match):

* PNEUMONIA: ``person<N>_bacteria_<k>.jpeg`` / ``person<N>_virus_<k>.jpeg``
  (one file has a suffix, ``person447_virus_921_1.jpeg``).
* NORMAL: ``IM-<id>-<k>[-<j>].jpeg`` or ``NORMAL2-IM-<id>-<k>[-<j>].jpeg``.
* Mendeley's later release (v3) names files ``NORMAL-<id>-<k>.jpeg``,
  ``BACTERIA-<id>-<k>.jpeg``, ``VIRUS-<id>-<k>.jpeg``; these are read too
  (format seen in third-party listings, not checked on that archive).

A file in ``NORMAL/`` or ``PNEUMONIA/`` whose name fits none of its folder's
patterns is counted under ``file name not recognised`` (named in meta.json)
and never labelled; an unreadable image under ``unreadable image``.

Labels (classification, three columns; every cell is 1 or 0):

============  =========  ===================  ===============
image         Pneumonia  Bacterial Pneumonia  Viral Pneumonia
============  =========  ===================  ===============
NORMAL        0          0                    0
bacteria      1          1                    0
virus         1          0                    1
============  =========  ===================  ===============

A normal radiograph is a true negative for both types, so it is written 0,
not blank: each type column is one-vs-rest over all images, and a multi-label
(sigmoid) head then estimates P(pneumonia), P(bacterial), P(viral) with
P(bacterial) + P(viral) = P(pneumonia) on the data. Bacterial-vs-viral among
pneumonia images only is not a column of its own (it is the Bacterial column
with normals left out); a config that wants only pneumonia lists
``classes=['Pneumonia']``.

Patients: ``person<N>`` groups a child's PNEUMONIA images (bacteria and virus
names with the same ``<N>`` are one group: whether they are one child is not
documented, and joining them can only make val more independent of train).
``IM-<id>`` groups the NORMAL images, ``NORMAL2-IM-<id>`` joined with
``IM-<id>`` for the same reason. The two folders number patients in
different namespaces (``person1`` is not ``IM-0001``), so their groups never
join. v3 names group by ``id<id>`` across classes.

Split (meta.json ``split_policy``): the official ``test/`` folder is the test
split. Kaggle's 16-image ``val/`` folder (too small to validate on) is merged
into train first (``release_val_merged`` counts it), then train is split 7:1
by patient into train / val, seeded, normal and pneumonia patients apart
(stratified by folder, so val has train's class mix). The release's own
train and test folders share patient numbers (``official_ids_in_train_and_
test`` counts them: 264 of the 404 test patients on the real set); whether a
number names the same child in both is not documented, and the official
split is kept as released.
"""
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Tuple

from ..layout import PreparedWriter
from ..progress import progress
from ..registry import register
from ..splits import grouped_split

NAME = 'KermanyPneumonia'
CLASSES = dict(cls=['Pneumonia', 'Bacterial Pneumonia', 'Viral Pneumonia'])
LABELS = dict(normal=[0, 0, 0], bacterial=[1, 1, 0], viral=[1, 0, 1])
IMAGE_SUFFIXES = ('.jpeg', '.jpg', '.png')
CLASS_FOLDERS = ('NORMAL', 'PNEUMONIA')
#: Release folder -> prepared split ('val' is merged into train first).
RELEASE_FOLDERS = ('train', 'val', 'test')
BAD_NAME = 'file name not recognised'
#: How deep under --src the chest_xray tree is looked for (root/chest_xray/
#: chest_xray/train is depth 3).
MAX_DEPTH = 4

# (pattern on the file's stem, kind or None = from the match, group key).
NORMAL_NAMES = (
    (re.compile(r'^(?:NORMAL2-)?IM-(\d+)-\d+(?:-\d+)?$'), 'IM-{}'),
    (re.compile(r'^NORMAL-(\d+)-\d+$'), 'id{}'),
)
PNEUMONIA_NAMES = (
    (re.compile(r'^person(\d+)_(bacteria|virus)_\d+(?:_\d+)?$'), 'person{}'),
    (re.compile(r'^(BACTERIA|VIRUS)-(\d+)-\d+$'), 'id{}'),
)
KIND = dict(bacteria='bacterial', virus='viral', BACTERIA='bacterial',
            VIRUS='viral')


def parse_name(class_folder: str, stem: str) -> Optional[Tuple[str, str]]:
    """The kind (normal / bacterial / viral) and patient group of one file.

    Args:
        class_folder (str): ``NORMAL`` or ``PNEUMONIA``.
        stem (str): The file name without its extension.

    Returns:
        tuple[str, str] | None: (kind, group), or None for a name that fits
        none of the folder's patterns.
    """
    if class_folder == 'NORMAL':
        for pattern, group in NORMAL_NAMES:
            match = pattern.match(stem)
            if match:
                return 'normal', group.format(match.group(1))
        return None
    for pattern, group in PNEUMONIA_NAMES:
        match = pattern.match(stem)
        if match:
            kind_text, patient = ((match.group(2), match.group(1))
                                  if stem.startswith('person') else
                                  (match.group(1), match.group(2)))
            return KIND[kind_text], group.format(patient)
    return None


def _visible(name: str) -> bool:
    return not name.startswith('.') and name != '__MACOSX'


def find_layout_root(src: str) -> Tuple[str, List[str]]:
    """The ``chest_xray`` folder to read, and the deeper copies ignored.

    A candidate is a folder with ``train/NORMAL`` or ``train/PNEUMONIA``;
    the shallowest wins (``--src`` itself is depth 0).

    Raises:
        FileNotFoundError: No candidate within :data:`MAX_DEPTH` levels.
        ValueError: Two candidates at the shallowest depth.
    """
    found: List[Tuple[int, str]] = []
    level = [src]
    for depth in range(MAX_DEPTH + 1):
        below = []
        for folder in level:
            train = osp.join(folder, 'train')
            if any(osp.isdir(osp.join(train, c)) for c in CLASS_FOLDERS):
                found.append((depth, folder))
            with os.scandir(folder) as entries:
                below += sorted(
                    e.path for e in entries if e.is_dir() and _visible(e.name)
                    and e.name not in RELEASE_FOLDERS + CLASS_FOLDERS)
        level = below
    if not found:
        raise FileNotFoundError(
            f'{NAME}: no chest_xray/ tree (a folder with train/NORMAL or '
            f'train/PNEUMONIA) within {MAX_DEPTH} levels under {src}.')
    top = min(d for d, _ in found)
    roots = [f for d, f in found if d == top]
    if len(roots) > 1:
        raise ValueError(f'{NAME}: several chest_xray/ trees at the same '
                         f'depth under {src} ({roots}); point --src at one.')
    return roots[0], [f for d, f in found if d > top]


def list_images(root: str, limit: Optional[int] = None
                ) -> List[Tuple[str, str, str]]:
    """(release folder, class folder, path) of every visible image file.

    ``limit`` keeps the first N files (by name) of each class folder.
    """
    items = []
    for release in RELEASE_FOLDERS:
        for class_folder in CLASS_FOLDERS:
            folder = osp.join(root, release, class_folder)
            if not osp.isdir(folder):
                continue
            names = sorted(n for n in os.listdir(folder) if _visible(n)
                           and n.lower().endswith(IMAGE_SUFFIXES)
                           and osp.isfile(osp.join(folder, n)))
            if limit:
                names = names[:limit]
            items += [(release, class_folder, osp.join(folder, n))
                      for n in names]
    return items


@register('kermany_pneumonia',
          'chest_xray/{train,test[,val]}/{NORMAL,PNEUMONIA}/*.jpeg (Kaggle '
          'layout; type from person<N>_bacteria/virus_<k>, NORMAL '
          '[NORMAL2-]IM-<id>-<k>)')
def convert(src: str, out: str, resize: Optional[int] = None, seed: int = 0,
            limit: Optional[int] = None) -> dict:
    """Convert the Kermany pneumonia set; see the module docstring.

    Args:
        src (str): The download (root, ``chest_xray/`` or the nested copy).
        out (str): Output folder.
        resize (int, optional): Longest side of decoded PNGs (the release's
            images are 1-2k px JPEGs of varying size).
        seed (int): Seed of the train / val split.
        limit (int, optional): Only the first N images of each class folder
            of each release folder (for trials).

    Returns:
        dict: The summary written to meta.json.
    """
    root, ignored = find_layout_root(src)
    items = list_images(root, limit)
    writer = PreparedWriter(out, NAME, CLASSES, resize)
    release_of: Dict[str, str] = {}
    group_of: Dict[str, str] = {}
    kind_of: Dict[str, str] = {}
    source_of: Dict[str, str] = {}
    for release, class_folder, path in progress(items, len(items), 'images'):
        parsed = parse_name(class_folder, osp.splitext(osp.basename(path))[0])
        if parsed is None:
            writer.skip(BAD_NAME, f'{path} (in {class_folder}/)')
            continue
        base = osp.basename(path)
        if base in source_of or (resize and osp.splitext(base)[0] + '.png'
                                 in writer.images):
            raise ValueError(f'{NAME}: two images named {base} ('
                             f'{source_of.get(base, "")}, {path}); the '
                             'prepared layout has one images/ folder.')
        name = writer.add_image_or_skip(path)
        if name is None:
            continue
        kind, group = parsed
        writer.add_cls(name, LABELS[kind])
        source_of[base] = path
        release_of[name], group_of[name], kind_of[name] = release, group, kind
    trainval = {n: group_of[n] for n, r in release_of.items() if r != 'test'}
    splits = dict(train=[], val=[], test=sorted(
        n for n, r in release_of.items() if r == 'test'))
    # Normal and pneumonia patients are split apart (their groups never
    # join), so val keeps train's class mix: grouping alone dealt the
    # one-image NORMAL patients unevenly (31 % normal in val vs 26 %).
    for normal in (True, False):
        part = {n: g for n, g in trainval.items()
                if (kind_of[n] == 'normal') == normal}
        inner = grouped_split(part, seed, fractions=(7 / 8, 1 / 8, 0.0))
        splits['train'] += inner['train']
        splits['val'] += inner['val']
    test_groups = {group_of[n] for n in splits['test']}
    notes = dict(
        split_policy=('official test/ folder = test; train/ (with the '
                      "release's val/ folder merged in) split 7:1 by patient "
                      'into train / val, seeded, stratified by NORMAL / '
                      'PNEUMONIA'),
        layout_root=osp.relpath(root, src),
        ignored_copies=[osp.relpath(p, src) for p in ignored],
        release_val_merged=sum(r == 'val' for r in release_of.values()),
        patients={s: len({group_of[n] for n in names})
                  for s, names in splits.items()},
        official_ids_in_train_and_test=len(
            {group_of[n] for n in trainval} & test_groups),
        split_class_counts={
            s: {k: sum(kind_of[n] == k for n in names) for k in LABELS}
            for s, names in splits.items()})
    return writer.write(splits, source=src, notes=notes)
