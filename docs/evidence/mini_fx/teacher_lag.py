"""How stale is the EMA teacher's head for each step at the end of a run?
(issue 17 evidence)

    python docs/evidence/mini_fx/teacher_lag.py WORK_DIR [--momentum 0.8]

Reads a CyclicTrainLoop run's schedule.json and train.log (iterations per
pass). A dataset's head changes only in its own step's passes, so the final
teacher's copy of it weighs the student's head from *before* that step's
last visit by m ** (passes since that visit began) with the per-pass EMA,
and by m_iter ** (iterations since then) with a per-iteration EMA of the same
horizon (m_iter = m ** (1 / mean iterations per pass)). Prints both.
"""
import argparse
import json
import os.path as osp
import re


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('work_dir')
    parser.add_argument('--momentum', type=float, default=0.8)
    args = parser.parse_args()
    with open(osp.join(args.work_dir, 'schedule.json')) as f:
        schedule = json.load(f)
    with open(osp.join(args.work_dir, 'train.log')) as f:
        log = f.read()
    iters = {}
    for m in re.finditer(r'Epoch\(train\)\s+\[(\d+)\]\[\s*\d+/(\d+)\]', log):
        iters[int(m.group(1)) - 1] = int(m.group(2))
    n = [iters[p['index']] for p in schedule]
    m = args.momentum
    m_iter = m ** (len(n) / sum(n))
    print(f'{len(n)} passes, {sum(n)} iterations ({sum(n) / len(n):.1f} a '
          f'pass); per-pass m = {m}, per-iteration m = {m_iter:.4f}')
    print('| step | passes since its last visit began | iterations since | '
          'stale weight, per-pass EMA | stale weight, per-iteration EMA |')
    print('|---|---:|---:|---:|---:|')
    steps = list(dict.fromkeys((p['dataset'], p['task']) for p in schedule))
    for step in steps:
        mine = [p for p in schedule if (p['dataset'], p['task']) == step]
        last_cycle = mine[-1]['cycle']
        begin = min(p['index'] for p in mine if p['cycle'] == last_cycle)
        passes = len(n) - begin
        its = sum(n[begin:])
        print(f'| {step[0]}/{step[1]} | {passes} | {its} | {m ** passes:.2f} '
              f'| {m_iter ** its:.2f} |')


if __name__ == '__main__':
    main()
