"""Finding and reading the label tables of official downloads.

Official CSVs come plain, gzipped or zipped (Kaggle), with stray spaces in
headers (SIIM-ACR's ``" EncodedPixels"``). These helpers read them all the
same way and name the file and column when one is missing.
"""
import csv
import glob
import gzip
import io
import os.path as osp
import zipfile
from typing import Dict, Iterable, List, Optional, Sequence

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.dcm', '.dicom', '.mha', '.img')


def find_file(src: str, *names: str, required: bool = True,
              dataset: str = '') -> Optional[str]:
    """The first of ``names`` under ``src`` (also ``.gz`` / ``.zip``, any depth).

    Args:
        src (str): The download folder.
        *names (str): File names to look for, in order of preference.
        required (bool): Raise if none is found.
        dataset (str): For the error message.

    Returns:
        str | None: The path found.

    Raises:
        FileNotFoundError: If ``required`` and no name is found.
    """
    for name in names:
        for candidate in (name, name + '.gz', name + '.zip'):
            direct = osp.join(src, candidate)
            if osp.isfile(direct):
                return direct
            found = sorted(glob.glob(osp.join(src, '**', candidate),
                                     recursive=True))
            if found:
                return found[0]
    if required:
        raise FileNotFoundError(
            f'{dataset or "dataset"}: none of {list(names)} (plain, .gz or '
            f'.zip) under {src}.')
    return None


def open_text(path: str) -> io.TextIOBase:
    """Open a plain, gzipped or single-member zipped text file."""
    if path.endswith('.gz'):
        return gzip.open(path, 'rt', newline='', encoding='utf-8-sig')
    if path.endswith('.zip'):
        archive = zipfile.ZipFile(path)
        members = [m for m in archive.namelist() if not m.endswith('/')]
        if len(members) != 1:
            raise ValueError(f'{path}: expected one file in the archive, '
                             f'found {members}.')
        return io.TextIOWrapper(archive.open(members[0]), encoding='utf-8-sig',
                                newline='')
    return open(path, newline='', encoding='utf-8-sig')


def read_table(path: str, required: Sequence[str], dataset: str = ''
               ) -> List[Dict[str, str]]:
    """Rows of a CSV as dicts, header names stripped of spaces.

    Args:
        path (str): CSV (plain, .gz or .zip).
        required (Sequence[str]): Columns that must be present.
        dataset (str): For the error message.

    Returns:
        list[dict[str, str]]: One dict per row; values stripped.

    Raises:
        ValueError: Naming the file and the missing column(s).
    """
    with open_text(path) as f:
        reader = csv.reader(f)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ValueError(f'{dataset}: {path} is empty.')
        missing = [c for c in required if c not in header]
        if missing:
            raise ValueError(f'{dataset}: {path} has no column(s) {missing} '
                             f'(columns: {header}).')
        return [dict(zip(header, (v.strip() for v in row)))
                for row in reader if row]


def read_lines(path: str) -> List[str]:
    """Non-empty stripped lines of a text file (split lists)."""
    with open_text(path) as f:
        return [line.strip() for line in f if line.strip()]


def index_files(src: str, extensions: Iterable[str] = IMAGE_EXTENSIONS
                ) -> Dict[str, str]:
    """Base name -> path of every file under ``src`` with one of ``extensions``.

    Raises:
        ValueError: If two files share a base name (ambiguous image ids).
    """
    extensions = tuple(e.lower() for e in extensions)
    index: Dict[str, str] = {}
    for path in sorted(glob.glob(osp.join(src, '**', '*'), recursive=True)):
        if path.lower().endswith(extensions) and osp.isfile(path):
            base = osp.basename(path)
            if base in index:
                raise ValueError(f'{src}: two files named {base} ({index[base]}'
                                 f', {path}); cannot tell which is meant.')
            index[base] = path
    return index
