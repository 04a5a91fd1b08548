"""A wrong --src never looks like success; the source is never written.

Fixture: an NIH ChestX-ray14 download as delivered (``Data_Entry_2017.csv``,
``images_001/images/*.png``) of which only some images are present.
"""
import json

import cv2
import numpy as np
import pytest

import data_prep.registry
from data_prep.converters.nih_chestxray14 import convert
from data_prep.layout import ConversionError
from tests.conftest import run_python


def _nih(root, rows=10, present=10):
    (root / 'images_001' / 'images').mkdir(parents=True)
    lines = ['Image Index,Finding Labels,Follow-up #,Patient ID']
    for i in range(rows):
        name = f'{i:08d}_000.png'
        lines.append(f'{name},{"Effusion" if i % 2 else "No Finding"},0,{i}')
        if i < present:
            cv2.imwrite(str(root / 'images_001' / 'images' / name),
                        np.full((16, 16), i * 10, np.uint8))
    (root / 'Data_Entry_2017.csv').write_text('\n'.join(lines) + '\n')
    return root


def test_most_images_missing_fails_with_counts_and_names(tmp_path):
    src = _nih(tmp_path / 'nih', rows=10, present=4)
    out = tmp_path / 'out'
    proc = run_python(['-m', 'data_prep', 'nih_chestxray14', '--src',
                       str(src), '--out', str(out)], check=False)
    assert proc.returncode == 1, proc.stderr
    assert ('most listed images are missing (4 images converted, 6 of the 10 '
            'listed missing from --src, 0 unreadable') in proc.stderr
    assert 'first missing: 00000004_000.png, 00000005_000.png' in proc.stderr
    assert '--allow-partial' in proc.stderr
    assert 'Traceback' not in proc.stderr
    # meta.json keeps the counts (and lets a rerun clear the folder); no
    # split or label file exists to train on.
    meta = json.loads((out / 'meta.json').read_text())
    assert meta['skipped'] == {'image file missing': 6}
    assert meta['skipped_examples']['image file missing'][:2] == [
        '00000004_000.png', '00000005_000.png']
    assert not (out / 'splits').exists() and not (out / 'cls').exists()
    # A partial download, said to be one, converts what it has.
    proc = run_python(['-m', 'data_prep', 'nih_chestxray14', '--src',
                       str(src), '--out', str(out), '--allow-partial'])
    meta = json.loads((out / 'meta.json').read_text())
    assert meta['images'] == 4 and 'failed' not in meta
    assert (out / 'splits' / 'train.txt').exists()


def test_half_missing_is_still_a_partial_download(tmp_path):
    # Exactly half missing is not "more than half": it converts.
    src = _nih(tmp_path / 'nih', rows=20, present=10)
    summary = convert(str(src), str(tmp_path / 'out'))
    assert summary['images'] == 10
    assert summary['skipped'] == {'image file missing': 10}


def test_empty_train_split_fails_even_when_partial_is_allowed(tmp_path):
    src = _nih(tmp_path / 'nih', rows=10, present=0)
    with pytest.raises(ConversionError, match=r'NIH-ChestX-ray14 from .*: '
                       r'the train split is empty \(0 images converted, 10 '
                       r'of the 10 listed missing'):
        convert(str(src), str(tmp_path / 'out'), allow_partial=True)


def test_src_and_out_nested_either_way_is_refused_by_convert(tmp_path):
    src = _nih(tmp_path / 'nih')
    before = sorted(p.name for p in src.rglob('*'))
    for out in (src, src / 'prepared'):
        with pytest.raises(ValueError, match='never writes into its source'):
            convert(str(src), str(out))
    # --src inside a previous --out: the rerun would clear out/images/,
    # where this source lies.
    prepared = tmp_path / 'prepared'
    convert(str(src), str(prepared))
    inner = _nih(prepared / 'images' / 'nih')
    with pytest.raises(ValueError, match='lies inside --out'):
        convert(str(inner), str(prepared))
    assert (inner / 'Data_Entry_2017.csv').exists()
    assert sorted(p.name for p in src.rglob('*')) == before


def test_the_source_check_catches_a_converter_that_writes(tmp_path):
    """The conftest fixture that guards every converter test can fail."""

    def careless(src, out, **kwargs):
        with open(f'{src}/Data_Entry_2017.csv', 'a') as f:
            f.write('appended\n')

    wrapped = data_prep.registry.register('careless_test_converter', '')(
        careless)
    try:
        with pytest.raises(AssertionError, match=r'changed its source .*'
                           r"\['Data_Entry_2017.csv'\]"):
            wrapped(str(_nih(tmp_path / 'nih')), str(tmp_path / 'out'))
    finally:
        data_prep.registry.CONVERTERS.pop('careless_test_converter')
        data_prep.registry.OFFICIAL_FILES.pop('careless_test_converter')


def test_cli_passes_a_converters_own_options(tmp_path):
    from tests.conftest import BUNDLED_COVID
    args = ['-m', 'data_prep', 'covid_lungs', '--src', BUNDLED_COVID]
    run_python(args + ['--out', str(tmp_path / 'all')])
    run_python(args + ['--out', str(tmp_path / 'masked'), '--options',
                       'masked_only=True'])
    every = json.loads((tmp_path / 'all' / 'meta.json').read_text())
    masked = json.loads((tmp_path / 'masked' / 'meta.json').read_text())
    assert masked['images'] == masked['masked_images'] < every['images']
    proc = run_python(args + ['--out', str(tmp_path / 'x'), '--options',
                              'subset=original'], check=False)
    assert proc.returncode == 2
    assert ('--options subset=original: covid_lungs takes masked_only=...'
            in proc.stderr)
    listing = run_python(['-m', 'data_prep', '--list']).stdout
    assert "options: eval_boxes='wbf', train_boxes='raw'" in listing
