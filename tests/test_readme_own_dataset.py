"""README "Adding your own dataset": the commands and config, run as written.

The section's shell commands and its config block are taken from README.md
itself, so the test fails when the README drifts from the code. They run in a
scratch folder laid out like a clone (``configs/`` with the real ``tiny`` and
``_base_`` folders, the real sample at ``../shared/data/cxr_covid_lungs``),
so nothing is written into the repository.
"""
import json
import os
import os.path as osp
import re
import shlex
import subprocess
import sys

from tests.conftest import REPO, shared_data


def readme_section(title: str) -> str:
    text = open(osp.join(REPO, 'README.md')).read()
    start = text.index(f'## {title}')
    end = text.index('\n## ', start + 1)
    return text[start:end]


def code_blocks(section: str, language: str):
    return [re.sub(r'^ {3}', '', b, flags=re.M) for b in
            re.findall(rf'```{language}\n(.*?)```', section, flags=re.S)]


def bash_commands(section: str):
    """The non-empty lines of a README section's bash blocks."""
    return [line.strip() for block in code_blocks(section, 'bash')
            for line in block.splitlines() if line.strip()]


def test_adding_your_own_dataset_works_as_written(tmp_path):
    sample = shared_data('cxr_covid_lungs')
    section = readme_section('Adding your own dataset')
    commands = bash_commands(section)
    configs = code_blocks(section, 'python')
    assert len(commands) == 3 and len(configs) == 1

    # A clone-like working folder: configs/tiny, configs/_base_, ../shared.
    clone = tmp_path / 'clone'
    (clone / 'configs').mkdir(parents=True)
    for sub in ('tiny', '_base_'):
        os.symlink(osp.join(REPO, 'configs', sub), clone / 'configs' / sub)
    (tmp_path / 'shared' / 'data').mkdir(parents=True)
    os.symlink(sample, tmp_path / 'shared' / 'data' / 'cxr_covid_lungs')
    (clone / 'configs' / 'my_covid.py').write_text(configs[0])
    assert 'configs/my_covid.py' in section

    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == 'python'
        if argv[1].startswith('tools/'):
            argv[1] = osp.join(REPO, argv[1])
        proc = subprocess.run([sys.executable] + argv[1:], cwd=clone,
                              text=True, capture_output=True)
        assert proc.returncode == 0, (command, proc.stdout[-2000:],
                                      proc.stderr[-4000:])

    meta = json.load(open(clone / 'data' / 'covid_lungs' / 'meta.json'))
    assert meta['images'] == 609
    schedule = json.load(open(clone / 'work_dirs' / 'my_covid' /
                              'schedule.json'))
    assert {(p['dataset'], p['task']) for p in schedule} == {
        ('CovidLungs', 'cls'), ('CovidLungs', 'loc'), ('CovidLungs', 'seg')}
    metrics = json.load(open(clone / 'work_dirs' / 'my_covid' /
                             'test_metrics.json'))
    for key in ('CovidLungs/cls/AUC', 'CovidLungs/loc/mAP40',
                'CovidLungs/seg/Dice'):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert (clone / 'work_dirs' / 'my_covid' / 'test_table.md').exists()
