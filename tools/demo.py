"""The embedded demo: Foundation X on real chest X-rays, on the CPU.

    python tools/demo.py [--work-dir work_dirs/demo] [--fresh]

1. Converts the bundled sample (data_prep/bundled/covid_lungs: 400 real
   radiographs with COVID-19 labels, lung boxes and lung masks) into the
   prepared layout (data/covid_lungs) with `python -m data_prep`.
2. Trains a tiny Foundation X from scratch (configs/tiny/fx_covid_demo.py):
   cycles of classification -> localization (lock, release) ->
   segmentation (lock, release) with the EMA teacher, validating after every
   pass. Re-running resumes (or skips a finished run); --fresh starts over.
3. Evaluates the teacher on the held-out test images (tools/test.py).
4. Draws the cross-task curves (tools/analysis/plot_curves.py) and overlays
   for a few held-out images (tools/infer.py), and prints where all is.
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
CONFIG = osp.join('configs', 'tiny', 'fx_covid_demo.py')
TARGETS = {'CovidLungs/seg/Dice': 0.90, 'CovidLungs/loc/mAP40': 0.90}


def step(title: str, args: list) -> None:
    print(f'\n=== {title}\n$ {" ".join(args)}', flush=True)
    start = time.time()
    subprocess.run([sys.executable] + args, cwd=REPO, check=True)
    print(f'--- {title}: {time.time() - start:.0f} s', flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'demo'))
    parser.add_argument('--fresh', action='store_true',
                        help='delete the work dir and train from scratch')
    args = parser.parse_args()
    work_dir = args.work_dir
    if args.fresh and osp.isdir(osp.join(REPO, work_dir)):
        shutil.rmtree(osp.join(REPO, work_dir))
    data = osp.join('data', 'covid_lungs')
    step('1/5 prepare the bundled real sample',
         ['-m', 'data_prep', 'covid_lungs', '--src',
          osp.join('data_prep', 'bundled', 'covid_lungs'), '--out', data])
    step('2/5 train Foundation X (tiny, CPU)',
         [osp.join('tools', 'train.py'), CONFIG, '--work-dir', work_dir,
          '--resume'])
    with open(osp.join(REPO, work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    step('3/5 evaluate on the held-out test images',
         [osp.join('tools', 'test.py'), CONFIG, checkpoint, '--work-dir',
          work_dir])
    step('4/5 cross-task curves',
         [osp.join('tools', 'analysis', 'plot_curves.py'), work_dir])
    with open(osp.join(REPO, data, 'splits', 'test.txt')) as f:
        held_out = [osp.join(data, 'images', n.strip()) for n in f][:4]
    step('5/5 overlays of held-out images',
         [osp.join('tools', 'infer.py'), CONFIG, checkpoint, *held_out,
          '--out-dir', osp.join(work_dir, 'overlays')])

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
    for key, value in sorted(metrics.items()):
        if key.endswith('/cls/AUC') and value is not None and value <= 0.6:
            print(f'{key} = {value:.4f}: at chance -- this classifier has '
                  'learned nothing yet; its probabilities on the overlays '
                  'are marked "(at chance)" and carry no information.')
    print(f'\nEverything is in {osp.join(REPO, work_dir)}:')
    for name in ('test_table.md', 'test_table_per_class.md',
                 'test_metrics.json', 'curves', 'overlays', 'schedule.json'):
        print(f'  {osp.join(work_dir, name)}')
    print(f'  checkpoint: {checkpoint}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
