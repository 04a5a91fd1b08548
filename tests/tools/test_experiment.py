"""tools/experiment.py: a micro grid (2 variants x 2 seeds, one short cycle on
the bundled real sample) run end to end through the command line, resumed,
and reported; the report's numbers recomputed here from the per-cell JSON."""
import glob
import json
import math
import os
import os.path as osp
import statistics

import pytest

from tests.conftest import load_tool, repo_path, run_python

# Student's t quantile t(0.975, df=1) (tables; the report uses scipy's).
T975_DF1 = 12.706204736174707


def write_grid(path, data_root, work_root):
    """Two variants (the method and teacher off) x two seeds, one cycle of
    the demo config without its localization branch (the slow one on the
    CPU) on 8 images per split."""
    small = ['model.localization=None']
    for task in ('cls', 'seg'):
        small += [f'fx_datasets.0.{task}.train.indices=8',
                  f'fx_datasets.0.{task}.test.indices=8']
    text = f'''
name = 'micro'
work_root = {work_root!r}
data_root = {data_root!r}
seeds = [0, 1]
test_student = True
_opts = ['fx_datasets.0.data_root={{data_root}}', 'train_cfg.max_cycles=1',
         'train_cfg.val_interval=100', 'train_dataloader.num_workers=0',
         'test_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
         'default_hooks.checkpoint.interval=1'] + {small!r}
variants = dict(
    full=dict(config='configs/tiny/fx_covid_demo.py', options=_opts),
    no_teacher=dict(config='configs/tiny/fx_covid_demo.py',
                    options=_opts + ['model.teacher=False']),
)
'''
    with open(path, 'w') as f:
        f.write(text)
    return path


def cells(work_root):
    out = {}
    for path in glob.glob(osp.join(work_root, 'micro', '*', 'seed*',
                                   'done.json')):
        with open(path) as f:
            rec = json.load(f)
        out[(rec['variant'], rec['seed'])] = rec
    return out


@pytest.mark.timeout(900)
def test_micro_grid_runs_resumes_and_reports(covid_lungs, tmp_path):
    work_root = str(tmp_path / 'work')
    grid = write_grid(str(tmp_path / 'micro_grid.py'), covid_lungs,
                      work_root)
    tool = repo_path('tools', 'experiment.py')
    proc = run_python([tool, 'run', grid, '--jobs', '2'])
    assert '4 cells selected, 0 finished, 4 to run' in proc.stdout
    recs = cells(work_root)
    assert sorted(recs) == [('full', 0), ('full', 1), ('no_teacher', 0),
                            ('no_teacher', 1)]
    for (variant, seed), rec in recs.items():
        cell_dir = osp.join(work_root, 'micro', variant, f'seed{seed}')
        assert f'randomness.seed={seed}' in rec['options']
        # One checkpoint kept: the final one (cls, seg lock and release).
        assert [osp.basename(p) for p in glob.glob(
            osp.join(cell_dir, '*.pth'))] == ['epoch_3.pth']
        assert rec['metrics']['CovidLungs/seg/Dice'] >= 0
        assert rec['time']['train_s'] > 0 and rec['time']['test_s'] > 0
        with open(osp.join(cell_dir, 'test', 'test_metrics.json')) as f:
            assert json.load(f) == rec['metrics']
    # The student is tested beside a teacher; without one it is the model.
    assert 'student/CovidLungs/seg/Dice' in recs[('full', 0)]['metrics']
    assert not any(k.startswith('student/')
                   for k in recs[('no_teacher', 0)]['metrics'])
    # Two seeds train differently.
    assert recs[('full', 0)]['metrics'] != recs[('full', 1)]['metrics']

    # A second run skips every finished cell: no process starts.
    logs = {p: os.stat(p).st_mtime for p in glob.glob(
        osp.join(work_root, 'micro', '*', '*', '*.log'))}
    proc = run_python([tool, 'run', grid])
    assert '4 cells selected, 4 finished, 0 to run' in proc.stdout
    assert logs == {p: os.stat(p).st_mtime for p in logs}

    # A cell killed after its last checkpoint (no train.json, no done.json)
    # resumes from that checkpoint: the same weights, the same metrics.
    cell_dir = osp.join(work_root, 'micro', 'full', 'seed1')
    before = recs[('full', 1)]
    os.remove(osp.join(cell_dir, 'done.json'))
    os.remove(osp.join(cell_dir, 'train.json'))
    proc = run_python([tool, 'run', grid, '--only', 'full/seed1'])
    assert '1 cells selected, 0 finished, 1 to run' in proc.stdout
    assert '[train] full/seed1 (resuming)' in proc.stdout
    with open(osp.join(cell_dir, 'train.log')) as f:
        log = f.read()
    assert log.count('$ ') == 2 and '--resume' in log.split('$ ')[-1]
    after = cells(work_root)[('full', 1)]
    assert after['time']['train_attempts'] == 2
    assert after['metrics'] == before['metrics']

    # The report, recomputed here from the per-cell JSON.
    out = str(tmp_path / 'report')
    run_python([tool, 'report', grid, '--out', out])
    recs = cells(work_root)
    text = open(osp.join(out, 'report.md')).read()
    with open(osp.join(out, 'summary.json')) as f:
        summary = json.load(f)['main']
    with open(osp.join(out, 'cells.json')) as f:
        assert len(json.load(f)) == 4
    key = 'CovidLungs/seg/Dice'
    # The table whose header names the metric: one row per variant.
    table = next(t for t in text.split('\n\n') if t.startswith(
        '| variant | ') and f'`{key}`' in t.splitlines()[0])
    header = [c.strip() for c in table.splitlines()[0].split('|')[1:-1]]
    col = header.index(f'`{key}`')
    rows = {line.split('|')[1].strip().strip('`'):
            [c.strip() for c in line.split('|')[1:-1]]
            for line in table.splitlines()[2:]}
    for variant in ('full', 'no_teacher'):
        vals = [recs[(variant, s)]['metrics'][key] for s in (0, 1)]
        mean = statistics.mean(vals)
        half = T975_DF1 * statistics.stdev(vals) / math.sqrt(2)
        got = summary['stats'][key][variant]
        assert got['mean'] == pytest.approx(mean)
        assert got['lo'] == pytest.approx(mean - half)
        assert got['hi'] == pytest.approx(mean + half)
        cell = rows[variant][col]
        assert cell == (f'{100 * mean:.2f} [{100 * (mean - half):.2f}, '
                        f'{100 * (mean + half):.2f}] (n=2)')
    # Paired by seed against the reference (the first variant); with one
    # degree of freedom t is Cauchy: p = 1 - 2 atan(|t|) / pi.
    d = [recs[('no_teacher', s)]['metrics'][key]
         - recs[('full', s)]['metrics'][key] for s in (0, 1)]
    t = statistics.mean(d) / (statistics.stdev(d) / math.sqrt(2))
    p = 1 - 2 * math.atan(abs(t)) / math.pi
    diff = summary['diffs'][key]['no_teacher']
    assert diff['reference'] == 'full' and diff['seeds'] == [0, 1]
    assert diff['mean'] == pytest.approx(statistics.mean(d))
    assert diff['t'] == pytest.approx(t)
    assert diff['p'] == pytest.approx(p)
    assert (f'| `no_teacher` - `full` | `{key}` | 2 | '
            f'{100 * statistics.mean(d):+.2f} |') in text
    assert f'| {t:.2f} | {p:.3g} |' in text
    # One PNG per metric (Dice -- AUC too where 8 test images hold both
    # labels -- the student's, and the two wall times).
    pngs = sorted(osp.basename(p) for p in glob.glob(osp.join(out, '*.png')))
    assert len(pngs) == len(summary['metrics'])
    assert {'main__CovidLungs_seg_Dice.png',
            'main__student_CovidLungs_seg_Dice.png',
            'main__time_train_s.png'} <= set(pngs)
    for name in pngs:
        with open(osp.join(out, name), 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_bad_grid_files_name_the_field(tmp_path):
    path = tmp_path / 'bad_grid.py'
    path.write_text("seeds = [0]\nvariants = dict(a=dict(config='x.py', "
                    "init='b'))\n")
    proc = run_python([repo_path('tools', 'experiment.py'), 'status',
                       str(path)], check=False)
    assert proc.returncode != 0
    assert "variant 'a' names unknown variant 'b'" in proc.stderr
    path.write_text("seeds = [0, 0]\nvariants = dict(a=dict(config='x.py'))\n")
    proc = run_python([repo_path('tools', 'experiment.py'), 'status',
                       str(path)], check=False)
    assert 'seeds must be distinct' in proc.stderr


def test_a_second_harness_on_a_running_grid_is_refused(tmp_path):
    grid = tmp_path / 'g_grid.py'
    grid.write_text(f"work_root = {str(tmp_path)!r}\nseeds = [0]\n"
                    "variants = dict(a=dict(config='configs/tiny/"
                    "fx_covid_demo.py'))\n")
    (tmp_path / 'g').mkdir()
    # This test's own process stands for the harness already running.
    (tmp_path / 'g' / 'run.pid').write_text(str(os.getpid()))
    proc = run_python([repo_path('tools', 'experiment.py'), 'run',
                       str(grid)], check=False)
    assert proc.returncode != 0
    assert f'is being run by process {os.getpid()}' in proc.stderr
    assert not (tmp_path / 'g' / 'a').exists()


def test_a_checkpoint_deleted_while_saving_falls_back_to_the_newest(tmp_path):
    """mmengine removes the oldest kept checkpoint before writing the next: a
    run killed in between leaves last_checkpoint naming a missing file."""
    import sys
    sys.path.insert(0, repo_path('tools'))
    from experiment import final_checkpoint
    assert final_checkpoint(str(tmp_path)) is None
    for k in (2, 10, 9):
        (tmp_path / f'epoch_{k}.pth').write_bytes(b'x')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_11.pth'))
    assert final_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_10.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_9.pth'))
    assert final_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_9.pth')


@pytest.mark.parametrize('grid_path', sorted(glob.glob(
    repo_path('configs', 'experiments', '*.py'))),
    ids=osp.basename)
def test_committed_grids_apply_to_their_configs(grid_path):
    """Every variant of a committed grid names a config that exists and
    options that config accepts (a renamed field would otherwise surface
    only hours into a grid run)."""
    from mmengine.config import Config, DictAction
    experiment = load_tool('tools', 'experiment.py')
    grid = experiment.load_grid(grid_path, data_root='/nonexistent')
    assert grid.variants
    for variant in grid.variants.values():
        cfg = Config.fromfile(repo_path(variant.config))
        options = [experiment.fill(o, grid, grid.seeds[0])
                   for o in variant.options]
        parsed = {}
        for option in options:
            key, _, value = option.partition('=')
            parsed[key] = DictAction._parse_iterable(value)
        cfg.merge_from_dict(parsed)
        assert cfg.train_cfg.type == 'CyclicTrainLoop', variant.name
