"""tools/analysis/param_table.py against the paper's Table 9 figures."""
import re
import subprocess
import sys

from tests.conftest import REPO, repo_path


def run_table(config, *extra):
    out = subprocess.run(
        [sys.executable, repo_path('tools', 'analysis', 'param_table.py'),
         config, *extra],
        cwd=REPO, capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        m = re.match(r'^(.*?)\s{2,}([\d,]+)$', line)
        if m:
            rows[m.group(1).strip()] = int(m.group(2).replace(',', ''))
    total = int(re.search(r'^total (\d+)$', out, re.M).group(1))
    return rows, total


def test_fx_cls_matches_paper_table_9():
    # The teacher is never counted; leaving it out halves the build time.
    rows, total = run_table(repo_path('configs', 'fx_cls.py'),
                            '--cfg-options', 'model.teacher=False')
    assert abs(rows['backbone'] - 86_751_673) / 86_751_673 < 1e-3
    assert rows['classification heads (11)'] == 70_725
    assert rows['localization encoder'] == 7_693_056
    decoders = {k: v for k, v in rows.items()
                if k.startswith('localization decoder ')}
    assert sorted(decoders) == sorted(
        f'localization decoder {n}' for n in (
            'TBX11K', 'NODE21', 'CANDID-PTX', 'RSNA-Pneumonia', 'ChestX-Det',
            'SIIM-ACR'))
    # Sized by class count: ChestX-Det's 13 classes make its decoder larger.
    assert decoders['localization decoder ChestX-Det'] > decoders[
        'localization decoder TBX11K']
    assert 'segmentation heads (3)' in rows
    assert total == sum(rows.values())


def test_teacher_is_not_counted():
    config = repo_path('configs', 'tiny', 'fx_cls_tiny_3ds.py')
    _, with_teacher = run_table(config)
    _, without = run_table(config, '--cfg-options', 'model.teacher=False')
    assert with_teacher == without
