"""How hard does the consistency term pull on the student? (issue 17)

    python tools/analysis/consistency_probe.py CONFIG CHECKPOINT
        [--batches N] [--out JSON] [--cfg-options K=V ...]

Loads a Foundation X checkpoint (student and EMA teacher) into CONFIG's
model and, for the first N training batches of every (dataset, task) step of
the config's cycle (the release pass's data, everything trainable), measures
on the student's backbone the gradient norm of

- ``task``: the weighted task loss, as training sums it;
- ``cons``: the consistency terms as configured (``model.consistency``:
  every backbone stage and the task's own place, L2-normalised features);
- ``cons_raw``: the same places without the L2 normalisation;
- ``cons_ref``: the reference code's choice, classification only: MSE of the
  pooled, LayerNormed last stage, not normalised, times the consistency
  weight.

and the loss values, and the cosine between the task and consistency
gradients. With AdamW the step is set by the summed gradient's direction per
parameter, so a term whose gradient norm is a small fraction of the task's
barely changes the step. Prints a table and writes JSON.
"""
import argparse
import json
import os.path as osp
import sys
import tempfile

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import fx_mm  # noqa: E402,F401


def _flat_norm(grads) -> float:
    return float(torch.sqrt(sum((g.float() ** 2).sum() for g in grads
                                if g is not None)))


def _grads(loss, params):
    return torch.autograd.grad(loss, params, retain_graph=True,
                               allow_unused=True)


def _total(values) -> torch.Tensor:
    total = 0
    for v in values:
        total = total + (sum(v) if isinstance(v, (list, tuple)) else v)
    return total


def _cosine(a, b) -> float:
    num = sum((x.float() * y.float()).sum() for x, y in zip(a, b)
              if x is not None and y is not None)
    den = _flat_norm(a) * _flat_norm(b)
    return float(num / den) if den > 0 else float('nan')


def probe_batch(model, data) -> dict:
    """Gradient norms on the backbone for one preprocessed batch."""
    params = [p for p in model.backbone.parameters() if p.requires_grad]
    model.consistency_normalize = True
    losses = model(**data, mode='loss')
    # Only losses count (mmengine's parse_losses sums the keys with 'loss').
    task = _total(v for k, v in losses.items()
                  if 'loss' in k and not k.startswith('loss_cons'))
    cons_terms = [v for k, v in losses.items() if k.startswith('loss_cons')]
    out = dict(task_loss=float(task.detach()))
    g_task = _grads(task, params)
    out['g_task'] = _flat_norm(g_task)
    if cons_terms:
        cons = _total(cons_terms)
        g_cons = _grads(cons, params)
        out.update(cons_loss=float(cons.detach()), g_cons=_flat_norm(g_cons),
                   cos_task_cons=_cosine(g_task, g_cons))
        model.consistency_normalize = False
        raw = _total(v for k, v in model(**data, mode='loss').items()
                     if k.startswith('loss_cons'))
        out.update(cons_raw_loss=float(raw.detach()),
                   g_cons_raw=_flat_norm(_grads(raw, params)))
        model.consistency_normalize = True
    task_name = data['data_samples'][0].metainfo['task']
    if task_name == 'cls' and model.teacher is not None:
        feats = model.extract_feat(data['inputs'])
        with torch.no_grad():
            t_feats = model.extract_feat(data['inputs'], teacher=True)
            t_pooled = model.teacher['cls_neck'](t_feats[-1:])
        pooled = model.cls_neck(feats[-1:])
        pooled = pooled[-1] if isinstance(pooled, (tuple, list)) else pooled
        t_pooled = t_pooled[-1] if isinstance(t_pooled, (tuple, list)) \
            else t_pooled
        ref = model.consistency_weight * F.mse_loss(pooled, t_pooled)
        out.update(cons_ref_loss=float(ref.detach()),
                   g_cons_ref=_flat_norm(_grads(ref, params)))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--batches', type=int, default=4)
    parser.add_argument('--out', help='JSON file for the numbers')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = tempfile.mkdtemp(prefix='consistency_probe_')
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    runner = Runner.from_cfg(cfg)
    loop = runner.train_loop
    runner.load_checkpoint(args.checkpoint)
    model = runner.model
    model.train()
    rows = []
    steps = {}
    for p in loop.schedule:
        if p.kind != 'lock':
            steps.setdefault((p.dataset, p.task), p)
    for (dataset, task), p in steps.items():
        loader = loop._loader(p)
        for i, batch in enumerate(loader):
            if i == args.batches:
                break
            data = model.data_preprocessor(batch, True)
            row = dict(dataset=dataset, task=task, batch=i,
                       **probe_batch(model, data))
            rows.append(row)
    keys = ('g_task', 'g_cons', 'g_cons_raw', 'g_cons_ref')
    print('| step | task loss | cons loss | |g_task| | |g_cons| | ratio | '
          '|g_cons_raw| | |g_cons_ref| | cos(task, cons) |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    summary = {}
    for (dataset, task) in steps:
        sel = [r for r in rows if (r['dataset'], r['task']) == (dataset, task)]

        def avg(k):
            vals = [r[k] for r in sel if k in r]
            return sum(vals) / len(vals) if vals else None
        s = {k: avg(k) for k in keys + ('task_loss', 'cons_loss',
                                         'cons_raw_loss', 'cons_ref_loss',
                                         'cos_task_cons')}
        summary[f'{dataset}/{task}'] = s

        def f(x, fmt='.3g'):
            return '-' if x is None else format(x, fmt)
        ratio = s['g_cons'] / s['g_task'] if s['g_cons'] is not None \
            else None
        s['ratio'] = ratio
        print(f'| {dataset}/{task} | {f(s["task_loss"])} | '
              f'{f(s["cons_loss"])} | {f(s["g_task"])} | {f(s["g_cons"])} | '
              f'{f(ratio)} | {f(s["g_cons_raw"])} | {f(s["g_cons_ref"])} | '
              f'{f(s["cos_task_cons"], ".2f")} |')
    if args.out:
        with open(args.out, 'w') as fh:
            json.dump(dict(config=args.config, checkpoint=args.checkpoint,
                           batches=args.batches, summary=summary, rows=rows),
                      fh, indent=1)


if __name__ == '__main__':
    main()
