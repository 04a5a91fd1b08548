"""Per-iteration cost of the EMA teacher's consistency forward and of a lock
pass, on the mini pretraining config (issue 17 evidence).

    OMP_NUM_THREADS=1 python docs/evidence/mini_fx/bench_teacher_lock.py \
        --data-root /work/fxdata [--iters 6]

For every (dataset, task) step of configs/tiny/fx_mini_pretrain.py, one
process times training iterations (forward, backward, AdamW step) of three
kinds, interleaved batch by batch so that load on a shared machine hits all
three alike: a release iteration with the consistency terms (the teacher's
forward runs), the same without them (``consistency_places=()``: no teacher
forward), and a lock iteration (only the step's head trainable, as
LockReleaseHook sets it). Prints the median seconds and the ratios.
"""
import argparse
import os.path as osp
import statistics
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__))))))

from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import fx_mm  # noqa: E402,F401


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--data-root', default='data')
    parser.add_argument('--iters', type=int, default=6)
    args = parser.parse_args()
    cfg = Config.fromfile('configs/tiny/fx_mini_pretrain.py')
    for i, folder in enumerate(('kermany', 'tbx11k_tb', 'covid_lungs')):
        cfg.fx_datasets[i].data_root = osp.join(args.data_root, folder)
    cfg.train_dataloader.num_workers = 0
    cfg.work_dir = tempfile.mkdtemp(prefix='bench_teacher_lock_')
    runner = Runner.from_cfg(cfg)
    loop = runner.train_loop
    model = runner.model
    optim = runner.build_optim_wrapper(runner.optim_wrapper)
    model.train()
    model.sync_teacher()
    places = model.consistency_places
    all_params = [p for p in model.student_parameters()]
    print('| step | release + teacher (s) | release, no teacher (s) | lock (s) '
          '| teacher share | lock / release |')
    print('|---|---:|---:|---:|---:|---:|')
    seen = set()
    for p in loop.schedule:
        if p.kind == 'lock' or (p.dataset, p.task) in seen:
            continue
        seen.add((p.dataset, p.task))
        head = {id(q) for q in model.head_of(p.task, p.dataset).parameters()}
        times = dict(teacher=[], plain=[], lock=[])
        batches = iter(loop._loader(p))
        next(batches)  # warm-up
        for _ in range(args.iters):
            batch = next(batches)
            for kind in ('teacher', 'plain', 'lock'):
                for q in all_params:
                    q.requires_grad_(kind != 'lock' or id(q) in head)
                model.consistency_places = () if kind == 'plain' else places
                start = time.perf_counter()
                data = model.data_preprocessor(batch, True)
                loss, _ = model.parse_losses(model(**data, mode='loss'))
                optim.update_params(loss)
                times[kind].append(time.perf_counter() - start)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f'| {p.dataset}/{p.task} | {med["teacher"]:.3f} | '
              f'{med["plain"]:.3f} | {med["lock"]:.3f} | '
              f'{1 - med["plain"] / med["teacher"]:.0%} | '
              f'{med["lock"] / med["teacher"]:.2f} |', flush=True)


if __name__ == '__main__':
    main()
