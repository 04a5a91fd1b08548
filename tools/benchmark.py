"""Speed benchmarks of Foundation X (measured ratios, not timed tests).

    python tools/benchmark.py train [--config configs/fx_cls.py] [--steps 3]
    python tools/benchmark.py infer [--config configs/fx_cls.py] [--repeats 3]
    python tools/benchmark.py data [--config configs/fx_cls.py] [--batches 20]
        [--src ../shared/data/cxr_covid_lungs] [--workers 2]
    python tools/benchmark.py memory [--config configs/fx_cls.py] [--steps 2]
        [--tasks loc,seg,cls] [--device cpu|cuda]
    python tools/benchmark.py gpu [--config configs/fx_cls.py] [--batch-size 24]
        [--steps 5] [--tasks cls,loc,seg] [--activation-checkpointing]
    python tools/benchmark.py data_prep [--count 20000] [--size 640]
        [--resize 512] [--work-dir DIR]
    python tools/benchmark.py ddp [--config configs/fx_cls.py] [--steps 2]
        [--ddp-wrapper config|torch]

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
config's fx_pipelines at its img_size) on the real sample (converted to a
temporary folder; the bundled subset when ../shared/data is absent), with the
config's batch size and --workers worker processes, beside the images per
second one training step of that task (the config's model, batch size and
image size) consumes on the same machine; target: the data path delivers at
least 3 x the step's demand.

memory: one Swin-B release step (everything trains; 224 px, batch 2) with
activation checkpointing of the Swin blocks and the DINO encoder / decoder
layers (model.activation_checkpointing=True) against without, per task;
prints the ratio of the step's peak memory (target <= 0.6) and of its time
(target <= 1.35). Each measurement runs in a fresh process. On the CPU the
step's memory is the peak resident set size during the step above the
resident size just before it (sampled every millisecond; glibc's mmap
threshold is fixed so that freed tensors go back to the system and the
resident size follows live memory); on a GPU, torch.cuda.max_memory_allocated
above the memory allocated before the step.
gpu: on a CUDA GPU, images per second of cls, loc and seg training steps on
Swin-B at 224 px and the paper's batch 24, in fp32 and with --amp (fp16
autocast, dynamic loss scaling), and the peak GPU memory of each; then the
multitask predict / three single-task predicts ratio on the GPU (target
<= 0.5). "fp32" is with TF32 matmuls and convolutions where the config
allows them, as in training (env_cfg.allow_tf32, on by default; --cfg-options
is not taken here: set it in the config to measure without).

data_prep: images per second of the NIH ChestX-ray14 and CheXpert converters
on a generated download (tools/benchmark_data_prep.py), with --resize and as
delivered; target >= 200 images/s with --resize 512 on 2 cores.

ddp: 2 gloo processes on the CPU train the config's model (Swin-B, 224 px,
batch 2 per process, a different random batch on each rank), wrapped as the
config's model_wrapper_cfg says (--ddp-wrapper torch: mmengine's
MMDistributedDataParallel with find_unused_parameters, the wrapper before
PassDistributedDataParallel), with the real LockReleaseHook freezing. One
line per pass kind (cls, loc lock, loc release, seg lock, seg release):
bytes handed to torch.distributed.all_reduce per step (DDP's buckets through
torch's Python all-reduce comm hook) over the bytes of the gradients the
pass trains (present when the optimizer steps), target <= 1.1; then the
lock/release step-time ratio with 2 processes per task.

train and infer inputs are random tensors of the real shapes: they measure
compute, not data loading.
"""
import argparse
import os
import os.path as osp
import statistics
import sys
import threading
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402

import fx_mm  # noqa: E402,F401
from fx_mm.testing import make_batch  # noqa: E402
from fx_mm.utils import build_initialised_model  # noqa: E402
from fx_mm.utils.runtime import apply_tf32  # noqa: E402


def build(cfg, **model_overrides):
    return build_initialised_model(cfg, **model_overrides).train()


def num_classes_of(model, task, dataset):
    return (model.cls_heads[dataset].num_classes if task == 'cls' else
            model.loc.num_classes[dataset] if task == 'loc' else
            model.seg.num_classes_of[dataset])


class TrainStep:
    """One full training step of a task (forward, backward, AdamW), on the
    model's device, optionally under fp16 autocast with loss scaling."""

    def __init__(self, model, task, dataset, lock=False, amp=False,
                 batch_size=2, size=224):
        for p in model.student_parameters():
            p.requires_grad_(not lock)
        if lock:
            for p in model.head_of(task, dataset).parameters():
                p.requires_grad_(True)
        self.model, self.task, self.dataset = model, task, dataset
        self.batch_size, self.amp, self.size = batch_size, amp, size
        self.device = next(model.parameters()).device
        self.optim = torch.optim.AdamW(
            [p for p in model.student_parameters() if p.requires_grad],
            lr=1e-5)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=amp)
        self.num_classes = num_classes_of(model, task, dataset)

    def batch(self, seed):
        return self.model.data_preprocessor(
            make_batch(self.task, self.dataset, self.num_classes,
                       size=self.size, seed=seed, num_boxes=3,
                       batch_size=self.batch_size),
            True)

    def __call__(self, data):
        with torch.autocast(self.device.type, dtype=torch.float16,
                            enabled=self.amp):
            loss, _ = self.model.parse_losses(self.model(**data,
                                                         mode='loss'))
        self.optim.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optim)
        self.scaler.update()
        # gradients this step allocated (memory benchmark)
        self.grad_bytes = sum(
            p.grad.numel() * p.grad.element_size()
            for p in self.model.student_parameters() if p.grad is not None)
        self.optim.zero_grad(set_to_none=True)

    def restore(self):
        for p in self.model.student_parameters():
            p.requires_grad_(True)


def sync(device):
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize()


def time_steps(model, task, dataset, steps, lock=False, amp=False,
               batch_size=2, warmup=1, size=224):
    """Median seconds of a full train step (forward, backward, AdamW) on
    ``batch_size`` images of ``size`` x ``size`` px."""
    step = TrainStep(model, task, dataset, lock, amp, batch_size, size)
    times = []
    for i in range(steps + warmup):  # the first `warmup` are warm-up
        data = step.batch(i)
        sync(step.device)
        start = time.perf_counter()
        step(data)
        sync(step.device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    step.restore()
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
def bench_infer(cfg, repeats, dataset=None, device='cpu'):
    if dataset:  # one dataset that has every task: one head per task
        table = [e for e in cfg.model.datasets if e['name'] == dataset]
        if not table:
            raise SystemExit(f'{dataset} is not in the config\'s table')
        cfg.model.datasets = table
    model = build(cfg).to(device).eval()
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
        m = build(cfg, **others).to(device).eval()
        m.load_state_dict(model.state_dict(), strict=False)
        alone[task] = m

    def timed(fn):
        fn()  # warm-up
        ts = []
        for _ in range(repeats):
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            ts.append(time.perf_counter() - start)
        return statistics.median(ts)

    backbone = timed(lambda: model.extract_feat(inputs, teacher=True))
    heads = {t: len(v) for t, v in model.datasets.items()}
    print(f'{device}: heads per task: {heads}; backbone pass '
          f'{backbone * 1000:.1f} ms',
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
    # The step is timed on the batch the loader delivers: the config's batch
    # size at the config's image size (_base_/pipelines/cxr_<size>.py).
    size = cfg.get('img_size', 224)
    print(f'sample: {src}; batch {batch} at {size} px; {workers} workers; '
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
            step = time_steps(model, task, demand_ds[task], steps,
                              batch_size=batch, size=size)
            need = batch / step
            ratio = rate / need
            verdict = 'meets' if ratio >= 3 else 'MISSES'
            print(f'{task}: pipeline {rate:.1f} img/s, training step '
                  f'({demand_ds[task]}) '
                  f'{need:.2f} img/s ({step:.2f} s per batch of {batch}): '
                  f'{ratio:.1f} x ({verdict} target >= 3)', flush=True)


# ------------------------------------------------------------------ memory
def _rss_bytes():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


class PeakRSS:
    """The largest resident set size seen while the context runs (a thread
    reads /proc/self/statm every millisecond; torch kernels release the
    GIL, so it keeps sampling during the step)."""

    def __enter__(self):
        self.start = self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(0.001)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())


def memory_child(cfg, task, checkpointing, steps, device):
    """One process, one measurement: JSON on the last stdout line."""
    import json
    model = build(cfg, activation_checkpointing=bool(checkpointing)).to(device)
    dataset = model.datasets[task][0]
    step = TrainStep(model, task, dataset)
    step(step.batch(100))  # warm-up: AdamW state and allocator settle
    peaks, times, rest = [], [], []
    for i in range(steps):
        data = step.batch(i)
        if device == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
            start = time.perf_counter()
            step(data)
            torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
            peaks.append(torch.cuda.max_memory_allocated() - before)
            rest.append(before)
        else:
            with PeakRSS() as rss:
                start = time.perf_counter()
                step(data)
                times.append(time.perf_counter() - start)
            peaks.append(rss.peak - rss.start)
            rest.append(rss.start)
    # The step's gradients are the same with or without checkpointing.
    grads = step.grad_bytes
    print(json.dumps(dict(task=task, dataset=dataset, time=statistics.median(
        times), step_peak=max(peaks), rest=statistics.median(rest),
        grads=grads, process_peak=max(p + r for p, r in zip(peaks, rest)))))


def bench_memory(args):
    import json
    import subprocess
    gib = 2.0**30
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_='65536')
    print(f'{args.device}: one release step per figure (median time of '
          f'{args.steps} after a warm-up step, peak memory of the step '
          f'above the memory before it), {osp.basename(args.config)}, '
          '224 px, batch 2; '
          f'threads {torch.get_num_threads()}; each in a fresh process',
          flush=True)
    for task in args.tasks.split(','):
        out = {}
        for cp in (0, 1):
            proc = subprocess.run(
                [sys.executable, osp.abspath(__file__), 'memory', '--child',
                 '--task', task, '--cp', str(cp), '--config', args.config,
                 '--steps', str(args.steps), '--device', args.device],
                env=env, capture_output=True, text=True)
            if proc.returncode:
                raise SystemExit(f'memory measurement failed ({task}, '
                                 f'checkpointing {cp}):\n'
                                 f'{proc.stderr[-3000:]}')
            out[cp] = json.loads(proc.stdout.strip().splitlines()[-1])
        on, off = out[1], out[0]
        mem, slow = on['step_peak'] / off['step_peak'], on['time'] / off[
            'time']
        act = (on['step_peak'] - on['grads']) / max(
            off['step_peak'] - off['grads'], 1)
        print(f"{task} release step ({on['dataset']}), activation "
              f'checkpointing on / off: memory {mem:.2f}x '
              f"({'meets' if mem <= 0.6 else 'MISSES'} target <= 0.6) -- "
              f"step peak {on['step_peak'] / gib:.2f} GiB vs "
              f"{off['step_peak'] / gib:.2f} GiB, of which "
              f"{on['grads'] / gib:.2f} GiB gradients either way "
              f'(the rest: {act:.2f}x); process peak '
              f"{on['process_peak'] / gib:.2f} vs "
              f"{off['process_peak'] / gib:.2f} GiB; time {slow:.2f}x "
              f"({'meets' if slow <= 1.35 else 'MISSES'} target <= 1.35) -- "
              f"{on['time']:.2f} s vs {off['time']:.2f} s", flush=True)


# --------------------------------------------------------------------- ddp
def bench_ddp(args):
    from fx_mm.testing.pass_communication import measure_passes

    def size(num_bytes):
        return (f'{num_bytes / 2**20:.1f} MiB' if num_bytes >= 2**20 else
                f'{num_bytes / 2**10:.1f} KiB')

    wrapper_cfg = None if args.ddp_wrapper == 'config' else dict(
        type='MMDistributedDataParallel', find_unused_parameters=True,
        broadcast_buffers=True)
    name = (Config.fromfile(args.config).model_wrapper_cfg['type']
            if wrapper_cfg is None else wrapper_cfg['type'])
    print(f'2 gloo processes x 1 thread, {osp.basename(args.config)}, '
          f'{name}, 224 px, batch 2 per process; median of {args.steps} '
          'steps after 1 warm-up step', flush=True)
    results = measure_passes(args.config, steps=args.steps, size=224,
                             batch_size=2, world_size=2,
                             wrapper_cfg=wrapper_cfg)
    ratios, seconds = [], {}
    for r in results:
        ratio = r['allreduce_bytes'] / r['trainable_bytes']
        ratios.append(ratio)
        seconds[(r['task'], r['kind'])] = r['step_seconds']
        print(f"{r['task']} {r['kind']} ({r['dataset']}): step "
              f"{r['step_seconds']:.2f} s, all-reduced "
              f"{size(r['allreduce_bytes'])} per step, trainable "
              f"gradients {size(r['trainable_bytes'])}, parameters "
              'identical on both ranks: '
              f"{'yes' if r['ranks_identical_after_each_step'] else 'NO'} "
              f'-- allreduce/trainable = {ratio:.2f}', flush=True)
    worst = max(ratios)
    print(f"allreduce/trainable: worst {worst:.2f} "
          f"({'meets' if worst <= 1.1 else 'MISSES'} target <= 1.1 for every "
          'pass kind)', flush=True)
    for task in ('loc', 'seg'):
        line(f'{task} lock/release step, 2 processes', seconds[(task, 'lock')],
             seconds[(task, 'release')], 0.6, 'lock', 'release')


# --------------------------------------------------------------------- gpu
def bench_gpu(cfg, args):
    if not torch.cuda.is_available():
        raise SystemExit('benchmark gpu: torch sees no CUDA GPU here.')
    from fx_mm.ops import mmcv_has_cuda_kernels
    gib = 2.0**30
    name = torch.cuda.get_device_name(0)
    print(f'{name}; torch {torch.__version__} CUDA {torch.version.cuda}; '
          'mmcv CUDA kernels (deformable attention, sigmoid focal loss): '
          f"{'yes' if mmcv_has_cuda_kernels() else 'no (PyTorch paths)'}; "
          'TF32 matmuls and convolutions (env_cfg.allow_tf32): '
          f"{'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'}; "
          f'Swin-B 224 px, batch {args.batch_size}, median of {args.steps} '
          'steps after 2 warm-up steps; activation checkpointing '
          f"{'on' if args.activation_checkpointing else 'off'}", flush=True)
    model = build(cfg, activation_checkpointing=args.activation_checkpointing
                  ).cuda()
    for task in args.tasks.split(','):
        dataset = model.datasets[task][0]
        for amp in (False, True):
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            label = 'amp fp16' if amp else 'fp32'
            try:
                secs = time_steps(model, task, dataset, args.steps, amp=amp,
                                  batch_size=args.batch_size, warmup=2)
            except torch.cuda.OutOfMemoryError:
                print(f'{task} release step, {label}: out of memory at '
                      f'batch {args.batch_size}', flush=True)
                model.zero_grad(set_to_none=True)
                continue
            print(f'{task} release step ({dataset}), {label}: '
                  f'{args.batch_size / secs:.1f} img/s ({secs * 1000:.0f} ms '
                  f'per batch), peak GPU memory '
                  f'{torch.cuda.max_memory_allocated() / gib:.1f} GiB',
                  flush=True)
    del model
    torch.cuda.empty_cache()
    bench_infer(cfg, max(args.repeats, 10), args.dataset, device='cuda')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('mode',
                        choices=['train', 'infer', 'data', 'memory', 'gpu',
                                 'data_prep', 'ddp'])
    parser.add_argument('--config', default='configs/fx_cls.py')
    parser.add_argument('--steps', type=int, default=None,
                        help='timed steps per figure (default: 3; memory, '
                        'ddp 2; gpu 5)')
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
    parser.add_argument('--tasks', default=None,
                        help='memory / gpu: comma-separated tasks')
    parser.add_argument('--device', default='cpu',
                        help='memory: cpu or cuda')
    parser.add_argument('--batch-size', type=int, default=24,
                        help='gpu: images per step (paper: 24)')
    parser.add_argument('--activation-checkpointing', action='store_true',
                        help='gpu: checkpoint Swin blocks and DINO layers')
    parser.add_argument('--count', type=int, default=20000,
                        help='data_prep: images per generated dataset')
    parser.add_argument('--size', type=int, default=640,
                        help='data_prep: side of the generated images')
    parser.add_argument('--resize', type=int, default=512,
                        help='data_prep: the converters\' --resize')
    parser.add_argument('--work-dir', default=None,
                        help='data_prep: where the generated download is '
                        'kept (reused when it exists); default a temp dir')
    parser.add_argument(
        '--ddp-wrapper', choices=['config', 'torch'], default='config',
        help="ddp: the config's model_wrapper_cfg, or mmengine's "
        'MMDistributedDataParallel(find_unused_parameters=True) to compare')
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--task', help=argparse.SUPPRESS)
    parser.add_argument('--cp', type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps is None:
        args.steps = dict(memory=2, gpu=5, ddp=2).get(args.mode, 3)
    MMLogger.get_instance('mmengine', log_level='WARNING')
    if args.mode == 'data_prep':
        from benchmark_data_prep import bench_data_prep
        bench_data_prep(args.count, args.size, args.resize, args.work_dir)
        return
    if args.mode == 'ddp':
        bench_ddp(args)
        return
    cfg = Config.fromfile(args.config)
    # TF32 as training sets it (tools/train.py: env_cfg.allow_tf32, on by
    # default), so that GPU figures are those of a training run; without a
    # GPU the switches change nothing.
    apply_tf32(cfg)
    if args.mode == 'memory' and args.child:
        memory_child(cfg, args.task, args.cp, args.steps, args.device)
    elif args.mode == 'memory':
        args.tasks = args.tasks or 'loc,seg,cls'
        bench_memory(args)
    elif args.mode == 'gpu':
        args.tasks = args.tasks or 'cls,loc,seg'
        bench_gpu(cfg, args)
    elif args.mode == 'train':
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
