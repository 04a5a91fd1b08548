"""tools/test.py, tools/analysis/plot_curves.py and tools/infer.py on a tiny
trained checkpoint."""
import glob
import json
import os.path as osp
import shutil

import numpy as np
import pytest

from fx_mm.apis import FXInferencer
from tests.conftest import repo_path, run_python, shared_data


def last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def test_test_tool_writes_json_and_table(trained_tiny, tmp_path):
    work_dir, config, _ = trained_tiny
    out = str(tmp_path / 'test')
    proc = run_python([repo_path('tools', 'test.py'), config,
                       last_checkpoint(work_dir), '--work-dir', out])
    with open(osp.join(out, 'test_metrics.json')) as f:
        metrics = json.load(f)
    for key in ('CovidLungs/cls/AUC', 'CovidLungs/loc/mAP40',
                'CovidLungs/loc/mAP50', 'CovidLungs/loc/mAP',
                'CovidLungs/seg/Dice', 'CovidLungs/seg/globalDice',
                'CovidBoxes/cls/AUC', 'CovidBoxes/loc/mAP40',
                'LungMasks/seg/Dice'):
        assert key in metrics, key
    table = open(osp.join(out, 'test_table.md')).read().splitlines()
    assert table[0] == '| dataset | AUC (%) | mAP40 (%) | Dice (%) |'
    rows = {line.split('|')[1].strip(): line for line in table[2:]}
    assert set(rows) == {'CovidLungs', 'CovidBoxes', 'LungMasks'}
    dice = metrics['LungMasks/seg/Dice']
    assert f'{100 * dice:.2f}' in rows['LungMasks']
    assert rows['LungMasks'].split('|')[2].strip() == '-'  # no cls there
    assert '| CovidLungs |' in proc.stdout
    # Beside it, every class of every task of every dataset.
    per_class = open(osp.join(out, 'test_table_per_class.md')).read()
    assert 'test_table_per_class.md' in proc.stdout
    lines = per_class.splitlines()
    assert lines[0] == '| dataset | metric | class | value (%) |'
    cells = [[c.strip() for c in line.split('|')[1:-1]] for line in lines[2:]]
    assert [c[:3] for c in cells] == [
        ['CovidLungs', 'AUC', 'COVID-19'],
        ['CovidLungs', 'AP40', 'Right Lung'],
        ['CovidLungs', 'AP40', 'Left Lung'],
        ['CovidLungs', 'Dice', 'Lungs'],
        ['CovidBoxes', 'AUC', 'COVID-19'],
        ['CovidBoxes', 'AP40', 'Right Lung'],
        ['CovidBoxes', 'AP40', 'Left Lung'],
        ['LungMasks', 'Dice', 'Lungs']]
    key = dict(AUC='cls/AUC', AP40='loc/mAP40', Dice='seg/Dice')
    for dataset, metric, name, value in cells:
        v = metrics[f'{dataset}/{key[metric]}/{name}']
        assert value == ('undefined' if v is None else f'{100 * v:.2f}')


def test_plot_curves_draws_one_png_per_dataset(trained_tiny, tmp_path):
    work_dir = trained_tiny[0]
    out = str(tmp_path / 'curves')
    proc = run_python([repo_path('tools', 'analysis', 'plot_curves.py'),
                       work_dir, '--out-dir', out])
    pngs = sorted(glob.glob(osp.join(out, '*.png')))
    assert [osp.basename(p) for p in pngs] == [
        'curves_CovidBoxes.png', 'curves_CovidLungs.png',
        'curves_LungMasks.png']
    for p in pngs:
        with open(p, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
        assert osp.getsize(p) > 10_000
    assert proc.stdout.count('.png') == 3


def test_plot_curves_explains_a_run_without_per_pass_validation(tmp_path):
    proc = run_python([repo_path('tools', 'analysis', 'plot_curves.py'),
                       str(tmp_path)], check=False)
    assert proc.returncode != 0 and 'schedule.json' in proc.stderr


@pytest.fixture(scope='module')
def inferencer(trained_tiny):
    work_dir, config, _ = trained_tiny
    return FXInferencer(config, last_checkpoint(work_dir))


def test_inferencer_returns_every_head(inferencer, covid_lungs):
    image = sorted(glob.glob(osp.join(covid_lungs, 'images', '*.png')))[0]
    (result, ) = inferencer(image)
    assert set(result['cls']) == {'CovidLungs', 'CovidBoxes'}
    assert 0 <= result['cls']['CovidLungs']['COVID-19'] <= 1
    assert set(result['loc']) == {'CovidLungs', 'CovidBoxes'}
    box = result['loc']['CovidLungs'][0]
    assert box['class'] in ('Right Lung', 'Left Lung') and len(box['bbox']) == 4
    h, w = result['image'].shape
    assert set(result['seg']) == {'CovidLungs', 'LungMasks'}
    assert result['seg']['LungMasks']['Lungs'].shape == (h, w)
    # Arrays work too and give the same answer as the file.
    (again, ) = inferencer(result['image'])
    for name, probs in result['cls'].items():
        assert again['cls'][name] == pytest.approx(probs)


def test_inferencer_on_real_dicom(inferencer):
    dicom = glob.glob(osp.join(shared_data('official_formats', 'siim_acr'),
                               '*.dcm'))[0]
    (result, ) = inferencer(dicom)
    assert 'error' not in result
    assert result['image'].dtype == np.uint8 and result['image'].ndim == 2
    assert set(result['seg']['CovidLungs']) == {'Lungs'}


def test_infer_tool_skips_a_corrupt_file(trained_tiny, covid_lungs, tmp_path):
    work_dir, config, _ = trained_tiny
    folder = tmp_path / 'in'
    folder.mkdir()
    for p in sorted(glob.glob(osp.join(covid_lungs, 'images', '*.png')))[:2]:
        shutil.copy(p, folder)
    (folder / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\nnot really')
    out = str(tmp_path / 'out')
    proc = run_python([repo_path('tools', 'infer.py'), config,
                       last_checkpoint(work_dir), str(folder), '--out-dir',
                       out])
    assert 'skipped' in proc.stderr and 'broken.png' in proc.stderr
    overlays = glob.glob(osp.join(out, '*_overlay.png'))
    jsons = glob.glob(osp.join(out, '*.json'))
    assert len(overlays) == 2 and len(jsons) == 2
    record = json.load(open(jsons[0]))
    assert set(record) == {'image', 'classification', 'localization',
                           'segmentation', 'cautions', 'validation'}
    # the checkpoint's own validation, saved with it
    assert record['validation']['pass_'] is not None
    assert 'CovidLungs' in record['validation']['metrics']
    assert 'area_px' in record['segmentation']['LungMasks']['Lungs']


def test_checkpoint_that_does_not_fit_is_named(trained_tiny, tmp_path):
    work_dir, config, _ = trained_tiny
    with pytest.raises(ValueError, match=r'does not fit this config.*'
                       r'unexpected keys \[.*CovidBoxes'):
        FXInferencer(repo_path('configs', 'tiny', 'fx_covid_demo.py'),
                     last_checkpoint(work_dir))
