"""Speed benchmarks of Foundation X (measured ratios, not timed tests).

    python tools/benchmark.py train [--config configs/fx_cls.py] [--steps 3]
    python tools/benchmark.py infer [--config configs/fx_cls.py] [--repeats 3]
    python tools/benchmark.py data [--config configs/fx_cls.py] [--batches 20]
        [--src ../shared/data/cxr_covid_lungs] [--workers 2]

train: on the Swin-B model at 224 px, batch 2, a few steps each after one
warm-up step, prints one line per ratio with both absolute times (and the
classification step time):
  - lock-pass step / release-pass step, for localization and segmentation
    (target <= 0.6: frozen parts compute no gradient);
  - localization step with 6 decoders / with 1 (target <= 1.05: only the
    active decoder runs);
  - release step with teacher and consistency / without (target <= 1.45).
infer: one multitask predict (every head of the three tasks from one backbone
pass) against three single-task predicts (the backbone run once per task, as
three separate models would), target <= 0.5; by default with one dataset
(SIIM-ACR: one head per task), --dataset '' for every head of the config.

data: images per second through each task's training pipeline (the
config's fx_pipelines, 224 px) on the real sample (converted to a temporary
folder; the bundled subset when ../shared/data is absent), with the config's
batch size and --workers worker processes, beside the images per second one
Swin-B training step of that task consumes on the same machine; target: the
data path delivers at least 3 x the step's demand.

train and infer inputs are random tensors of the real shapes: they measure
compute, not data loading.
"""
import argparse
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402

import fx_mm  # noqa: E402,F401
from fx_mm.testing import make_batch  # noqa: E402
from fx_mm.utils import build_initialised_model  # noqa: E402


def build(cfg, **model_overrides):
    return build_initialised_model(cfg, **model_overrides).train()


def time_steps(model, task, dataset, steps, lock=False):
    """Median seconds of a full train step (forward, backward, AdamW)."""
    for p in model.student_parameters():
        p.requires_grad_(not lock)
    if lock:
        for p in model.head_of(task, dataset).parameters():
            p.requires_grad_(True)
    optim = torch.optim.AdamW(
        [p for p in model.student_parameters()], lr=1e-5)
    num_classes = (model.cls_heads[dataset].num_classes if task == 'cls' else
                   model.loc.num_classes[dataset] if task == 'loc' else
                   model.seg.num_classes_of[dataset])
    times = []
    for i in range(steps + 1):  # the first is warm-up
        data = model.data_preprocessor(
            make_batch(task, dataset, num_classes, size=224, seed=i,
                       num_boxes=3), True)
        start = time.perf_counter()
        loss, _ = model.parse_losses(model(**data, mode='loss'))
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        if i:
            times.append(time.perf_counter() - start)
    for p in model.student_parameters():
        p.requires_grad_(True)
    return statistics.median(times)


def line(name, a, b, target, a_name, b_name):
    ratio = a / b
    verdict = 'meets' if ratio <= target else 'MISSES'
    print(f'{name}: {ratio:.3f} ({verdict} target <= {target}) -- '
          f'{a_name} {a:.2f} s, {b_name} {b:.2f} s', flush=True)


def bench_train(cfg, steps):
    print(f'threads: {torch.get_num_threads()}, steps per figure: {steps} '
          '(median, after one warm-up), 224 px, batch 2', flush=True)
    model = build(cfg)
    loc_ds = model.loc.dataset_names[0]
    seg_ds = model.seg.dataset_names[0]
    for task, ds in (('loc', loc_ds), ('seg', seg_ds)):
        lock = time_steps(model, task, ds, steps, lock=True)
        release = time_steps(model, task, ds, steps)
        line(f'{task} lock/release step', lock, release, 0.6, 'lock',
             'release')
    cls_ds = model.datasets['cls'][0] if model.datasets['cls'] else None
    if cls_ds is not None:
        print(f'cls release step: {time_steps(model, "cls", cls_ds, steps):.2f}'
              ' s', flush=True)
    six = time_steps(model, 'loc', loc_ds, steps)
    one_table = [dict(name=loc_ds, loc=dict(classes=[
        str(i) for i in range(model.loc.num_classes[loc_ds])]))]
    one = build(cfg, datasets=one_table)  # a table with one loc dataset
    one_time = time_steps(one, 'loc', loc_ds, steps)
    line(f'loc step with {len(model.loc.dataset_names)} decoders / 1',
         six, one_time, 1.05, f'{len(model.loc.dataset_names)} decoders',
         '1 decoder')
    del one
    with_teacher = time_steps(model, 'seg', seg_ds, steps)
    plain = build(cfg, teacher=False)
    without = time_steps(plain, 'seg', seg_ds, steps)
    line('release step with teacher+consistency / without', with_teacher,
         without, 1.45, 'with', 'without')


@torch.no_grad()
def bench_infer(cfg, repeats, dataset=None):
    if dataset:  # one dataset that has every task: one head per task
        table = [e for e in cfg.model.datasets if e['name'] == dataset]
        if not table:
            raise SystemExit(f'{dataset} is not in the config\'s table')
        cfg.model.datasets = table
    model = build(cfg).eval()
    data = model.data_preprocessor(make_batch('loc', 'x', 1, size=224,
                                              batch_size=1), False)
    inputs, samples = data['inputs'], data['data_samples']

    # Three single-task models with the same weights: each runs the
    # backbone once and then every head of its task.
    alone = {}
    for task, key in (('cls', 'classification'), ('loc', 'localization'),
                      ('seg', 'segmentation')):
        others = {k: None for k in ('classification', 'localization',
                                    'segmentation') if k != key}
        m = build(cfg, **others).eval()
        m.load_state_dict(model.state_dict(), strict=False)
        alone[task] = m

    def timed(fn):
        fn()  # warm-up
        ts = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - start)
        return statistics.median(ts)

    backbone = timed(lambda: model.extract_feat(inputs, teacher=True))
    heads = {t: len(v) for t, v in model.datasets.items()}
    print(f'heads per task: {heads}; backbone pass {backbone:.2f} s',
          flush=True)
    multi = timed(lambda: model.predict_all(inputs, samples))
    separate = sum(
        timed(lambda m=m: m.predict_all(inputs, samples))
        for m in alone.values())
    line('multitask predict / three single-task predicts', multi, separate,
         0.5, 'multitask', 'three single-task')


def pipeline_rate(cfg, data_root, task, batches, workers):
    """Images per second through a task's training dataloader."""
    from mmengine.registry import DATASETS
    from mmengine.runner import Runner

    from fx_mm.datasets.dataset_table import dataset_cfg
    # The sample's own dataset-table entry, pointed at the converted copy.
    entry = Config.fromfile(osp.join(
        osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', '_base_',
        'datasets', 'covid_lungs.py')).covid_lungs.to_dict()
    entry['data_root'] = data_root
    dataset = DATASETS.build(dataset_cfg(entry, task, 'train',
                                         cfg.fx_pipelines[task]['train']))
    loader_cfg = dict(cfg.train_dataloader)
    loader_cfg.update(dataset=dataset, num_workers=workers,
                      persistent_workers=False,
                      sampler=dict(type='InfiniteSampler', shuffle=True))
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    it = iter(loader)
    for _ in range(2):  # worker start-up and first batches are warm-up
        next(it)
    start = time.perf_counter()
    images = 0
    for _ in range(batches):
        images += len(next(it)['inputs'])
    return images / (time.perf_counter() - start)


def bench_data(cfg, src, batches, workers, steps):
    import tempfile

    from mmengine.registry import init_default_scope

    from data_prep import CONVERTERS
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    batch = cfg.train_dataloader.batch_size
    print(f'sample: {src}; batch {batch}; {workers} workers; '
          f'{batches} batches per figure; threads {torch.get_num_threads()}',
          flush=True)
    model = build(cfg)
    # The step's demand is measured on the config's first dataset of a task.
    demand_ds = {t: next(e['name'] for e in cfg.model.datasets if e.get(t))
                 for t in ('cls', 'loc', 'seg')}
    with tempfile.TemporaryDirectory() as tmp:
        CONVERTERS['covid_lungs'](src, tmp, masked_only=True)
        for task in ('cls', 'loc', 'seg'):
            rate = pipeline_rate(cfg, tmp, task, batches, workers)
            step = time_steps(model, task, demand_ds[task], steps)
            need = batch / step
            ratio = rate / need
            verdict = 'meets' if ratio >= 3 else 'MISSES'
            print(f'{task}: pipeline {rate:.1f} img/s, training step '
                  f'({demand_ds[task]}) '
                  f'{need:.2f} img/s ({step:.2f} s per batch of {batch}): '
                  f'{ratio:.1f} x ({verdict} target >= 3)', flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('mode', choices=['train', 'infer', 'data'])
    parser.add_argument('--config', default='configs/fx_cls.py')
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--batches', type=int, default=20,
                        help='data: batches timed per task')
    parser.add_argument('--workers', type=int, default=2,
                        help='data: dataloader worker processes')
    parser.add_argument('--src', default=None,
                        help='data: the real sample (default: '
                        '../shared/data/cxr_covid_lungs, else the bundled '
                        'subset)')
    parser.add_argument(
        '--dataset', default='SIIM-ACR',
        help='infer: keep only this dataset of the table (one head per '
        "task); '' keeps every head")
    args = parser.parse_args()
    MMLogger.get_instance('mmengine', log_level='WARNING')
    cfg = Config.fromfile(args.config)
    if args.mode == 'train':
        bench_train(cfg, args.steps)
    elif args.mode == 'data':
        repo = osp.dirname(osp.dirname(osp.abspath(__file__)))
        src = args.src or next(
            p for p in (osp.join(repo, '..', 'shared', 'data',
                                 'cxr_covid_lungs'),
                        osp.join(repo, 'data_prep', 'bundled', 'covid_lungs'))
            if osp.isdir(p))
        bench_data(cfg, src, args.batches, args.workers, args.steps)
    else:
        bench_infer(cfg, args.repeats, args.dataset)


if __name__ == '__main__':
    main()
