"""Validation reports the student beside the EMA teacher."""
import glob
import json
import os.path as osp

from tests.conftest import repo_path, run_python


def test_validation_reports_teacher_and_student(trained_tiny, tmp_path):
    work_dir = trained_tiny[0]
    with open(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                 'scalars.json'))[0]) as f:
        vals = [json.loads(line) for line in f if 'CovidLungs/seg/Dice' in line]
    assert len(vals) == 10  # after every pass of the cycle
    keys = ('CovidLungs/cls/AUC', 'CovidLungs/loc/mAP40',
            'CovidLungs/seg/Dice', 'CovidBoxes/loc/mAP40', 'LungMasks/seg/Dice')
    for record in vals:
        for key in keys:
            assert f'student/{key}' in record, key
    # the two are evaluated apart: they differ once the EMA lags
    assert any(r[f'student/{k}'] != r[k] for r in vals for k in keys)
    # the curves tool draws both
    out = str(tmp_path / 'curves')
    run_python([repo_path('tools', 'analysis', 'plot_curves.py'), work_dir,
                '--out-dir', out])
    assert osp.isfile(osp.join(out, 'curves_CovidLungs.png'))
