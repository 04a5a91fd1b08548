"""The embedded demo: Foundation X on two real chest X-ray sets, on the CPU.

    python tools/demo.py [--work-dir work_dirs/demo] [--fresh]

1. Converts the two bundled real samples with `python -m data_prep`:
   data_prep/bundled/kermany_pneumonia (paediatric radiographs, normal /
   pneumonia) into data/kermany_demo and data_prep/bundled/covid_lungs
   (radiographs with right / left lung boxes and lung masks) into
   data/covid_lungs.
2. Trains one tiny Foundation X from scratch on both
   (configs/tiny/fx_demo.py): one backbone, a pneumonia classification head
   for Kermany, a lung-box decoder and a lung-mask head for CovidLungs, in
   cycles of Kermany cls -> CovidLungs loc (lock, release) -> seg (lock,
   release) twice, with the EMA teacher, validating after every step.
   Re-running resumes (or skips a finished run); --fresh starts over.
3. Evaluates the teacher on the held-out test images (tools/test.py).
4. Writes the run's report, one page to open in a browser
   (tools/analysis/report.py: results, cross-task curves, teacher vs
   student, each head's worst and typical held-out cases, timings, config).
Every step is one of the project's public entry points.
"""
import argparse
import json
import os.path as osp
import shutil
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join('configs', 'tiny', 'fx_demo.py')
# (converter, bundled sample, prepared folder the config reads).
BUNDLED = (
    ('kermany_pneumonia', osp.join('data_prep', 'bundled',
                                   'kermany_pneumonia'),
     osp.join('data', 'kermany_demo')),
    ('covid_lungs', osp.join('data_prep', 'bundled', 'covid_lungs'),
     osp.join('data', 'covid_lungs')),
)
# The demo's promise, one figure per head, on the held-out test images.
TARGETS = {
    'KermanyPneumonia/cls/AUC': 0.90,
    'CovidLungs/loc/mAP40': 0.90,
    'CovidLungs/seg/Dice': 0.90,
}


# What makes a run the demo it was: a work dir trained under other values of
# these (an earlier fx_mm's demo) cannot be resumed into this one.
RUN_KEYS = ('model', 'fx_datasets', 'fx_pipelines', 'train_cfg',
            'train_dataloader', 'optim_wrapper', 'param_scheduler',
            'custom_hooks')


def stale_run(work_dir: str, config: str) -> list:
    """The settings of ``RUN_KEYS`` in which the run in ``work_dir`` (its
    config as mmengine wrote it there) differs from ``config``; [] when it
    does not, or when there is no run to resume."""
    if not osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        return []
    dumped = osp.join(work_dir, osp.basename(config))
    if not osp.isfile(dumped):
        return ['(no config in the work dir)']
    from mmengine.config import Config
    before = Config.fromfile(dumped).to_dict()
    now = Config.fromfile(config).to_dict()
    return [k for k in RUN_KEYS if before.get(k) != now.get(k)]


def step(title: str, args: list) -> float:
    """Run one entry point with this Python; returns its seconds."""
    print(f'\n=== {title}\n$ {" ".join(args)}', flush=True)
    start = time.time()
    subprocess.run([sys.executable] + args, cwd=REPO, check=True)
    seconds = time.time() - start
    print(f'--- {title}: {seconds:.0f} s', flush=True)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'demo'))
    parser.add_argument('--fresh', action='store_true',
                        help='delete the work dir and train from scratch')
    args = parser.parse_args()
    work_dir = args.work_dir
    if args.fresh and osp.isdir(osp.join(REPO, work_dir)):
        shutil.rmtree(osp.join(REPO, work_dir))
    changed = stale_run(osp.join(REPO, work_dir), osp.join(REPO, CONFIG))
    if changed:
        # A run of another demo (e.g. before an update): kept, moved aside.
        aside = f'{work_dir}.{time.strftime("%Y%m%d_%H%M%S")}'
        shutil.move(osp.join(REPO, work_dir), osp.join(REPO, aside))
        print(f'{work_dir} holds a run of another demo configuration '
              f'(differs in {", ".join(changed)}); moved to {aside}, '
              'training anew.', flush=True)
    start = time.time()
    seconds = {}
    for k, (converter, src, out) in enumerate(BUNDLED, 1):
        seconds[f'prepare {converter}'] = step(
            f'1/4 prepare bundled sample {k}/{len(BUNDLED)}: {converter}',
            ['-m', 'data_prep', converter, '--src', src, '--out', out])
    seconds['train'] = step(
        '2/4 train Foundation X (tiny, CPU)',
        [osp.join('tools', 'train.py'), CONFIG, '--work-dir', work_dir,
         '--resume'])
    with open(osp.join(REPO, work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    seconds['test'] = step(
        '3/4 evaluate on the held-out test images',
        [osp.join('tools', 'test.py'), CONFIG, checkpoint, '--work-dir',
         work_dir])
    seconds['report'] = step(
        '4/4 the report page',
        [osp.join('tools', 'analysis', 'report.py'), work_dir])

    with open(osp.join(REPO, work_dir, 'test_metrics.json')) as f:
        metrics = json.load(f)
    with open(osp.join(REPO, work_dir, 'test_table.md')) as f:
        print('\nHeld-out test set (teacher):\n' + f.read())
    for key, target in TARGETS.items():
        value = metrics.get(key)
        verdict = 'meets' if value is not None and value >= target else \
            'BELOW'
        print(f'{key} = {value:.4f} ({verdict} the demo target {target})'
              if value is not None else f'{key}: missing')
    print('\nSeconds: ' + ', '.join(f'{k} {v:.0f}' for k, v in
                                    seconds.items())
          + f'; total {time.time() - start:.0f}')
    print(f'\nEverything is in {osp.join(REPO, work_dir)}; checkpoint: '
          f'{checkpoint}')
    print(f'Open the report: {osp.join(REPO, work_dir, "report.html")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
