"""The mini Foundation X evidence grid (issue 17).

    python tools/experiment.py run configs/experiments/mini_fx_grid.py \
        --data-root /work/fxdata [--jobs 1] [--only 'full*']
    python tools/experiment.py report configs/experiments/mini_fx_grid.py \
        --out docs/evidence/mini_fx

Pretraining (configs/tiny/fx_mini_pretrain.py: Kermany cls, TBX11K-TB loc,
CovidLungs cls/loc/seg, 128 px, tiny model) as the full method, its paper
Table 10 ablations and the single-task baselines (paper Table 2 / Fig. 2:
one branch, its datasets, the same cycles -- so the same number of steps on
that task -- without teacher or Lock-Release, as the paper's Swin-B + one
head baselines); then, on data the pretraining never saw, fine-tuning on
NIH1000 classification (full and head-only) from each pretraining and from
scratch, and few-label CovidLungs lung segmentation (10% and 25% of its
training images) from a pretraining without CovidLungs' masks and from
scratch. Every variant is tested on the test splits; where an EMA teacher
exists its student is tested beside it (``student/<metric>``).

Data: ``data_root`` holds the converted datasets (python -m data_prep):
kermany/, tbx11k_tb/, covid_lungs/, nih1000/.
"""
name = 'mini_fx'
# Three seeds: the issue asks for at least 3 per cell, 5 where time allows;
# on the shared 2-core machine the 78 cells of 3 seeds took 231 min of cell
# time. Add 3 and 4 here and rerun `run`: finished cells are skipped.
seeds = [0, 1, 2]
data_root = 'data'
test_student = True
metrics = ('*/cls/AUC', '*/loc/mAP40', '*/seg/Dice')

_PRE = 'configs/tiny/fx_mini_pretrain.py'
_DATA = ['fx_datasets.0.data_root={data_root}/kermany',
         'fx_datasets.1.data_root={data_root}/tbx11k_tb',
         'fx_datasets.2.data_root={data_root}/covid_lungs']
_PLAIN = ['model.teacher=False', 'train_cfg.lock_tasks=()']
# The EMA teacher per iteration with the horizon of 0.8 per pass: a pass of
# the full method is 11.5 iterations on average here (92 iterations in 8
# passes a cycle at 4 images a batch, full/seed0's train.log),
# 0.8 ** (1 / 11.5) = 0.9808.
_EMA_ITER = ['custom_hooks.1.interval=iter', 'custom_hooks.1.momentum=0.9808']

_pretrain = dict(
    full=[],
    no_lock=['train_cfg.lock_tasks=()'],
    no_teacher=['model.teacher=False'],
    no_cons=['model.consistency.places=()'],
    single_cls=_PLAIN + ['model.localization=None',
                         'model.segmentation=None'],
    single_loc=_PLAIN + ['model.classification=None',
                         'model.segmentation=None'],
    single_seg=_PLAIN + ['model.classification=None',
                         'model.localization=None'],
    # For the few-label segmentation downstream: no segmentation branch,
    # so CovidLungs' masks are never seen (its cls and loc labels are).
    no_covid_seg=['model.segmentation=None'],
    # Suspect 1 (teacher lag): per-iteration EMA of the same horizon.
    ema_iter=_EMA_ITER,
    # Suspect 2 (a consistency term too small to matter): the features
    # compared without L2 normalisation (tools/analysis/consistency_probe.py:
    # its backbone gradient is ~100 x the normalised one's, of the task's
    # order).
    cons_raw=['model.consistency.normalize=False'],
)
variants = {
    k: dict(config=_PRE, options=_DATA + v, group='pretrain',
            reference='full')
    for k, v in _pretrain.items()
}

# Fine-tuning sources: a variant's final checkpoint (its teacher where it
# has one, else its student) or none (scratch).
_NO_TEACHER = {'no_teacher', 'single_cls'}
_NIH = ['fx_datasets.0.data_root={data_root}/nih1000']
for mode, extra in (('full', []), ('head', ['model.frozen=[backbone]'])):
    group = f'nih_{mode}'
    for src in ('full', 'scratch', 'no_lock', 'no_teacher', 'no_cons',
                'single_cls'):
        v = dict(group=group, reference=f'ft_nih_{mode}@full',
                 options=_NIH + extra)
        if src == 'scratch':
            v['config'] = 'configs/tiny/fx_mini_ft_nih_scratch.py'
        else:
            v['config'] = 'configs/tiny/fx_mini_ft_nih.py'
            v['init'] = src
            if src in _NO_TEACHER:
                v['options'] = v['options'] + ['custom_hooks.0.use=student']
        variants[f'ft_nih_{mode}@{src}'] = v

for pct, parts in (('10', 10), ('25', 4)):
    group = f'covid_seg{pct}'
    seg = ['fx_datasets.0.data_root={data_root}/covid_lungs',
           f'fx_datasets.0.seg.train.subset.parts={parts}',
           'fx_datasets.0.seg.train.subset.seed={seed}']
    variants[f'ft_seg{pct}@no_covid_seg'] = dict(
        config='configs/tiny/fx_mini_ft_covid_seg.py', init='no_covid_seg',
        options=seg, group=group)
    variants[f'ft_seg{pct}@scratch'] = dict(
        config='configs/tiny/fx_mini_ft_covid_seg_scratch.py', options=seg,
        group=group, reference=f'ft_seg{pct}@no_covid_seg')

# Run order. On the shared 2-core machine a pretraining cell took 15-20 min
# (load ~12), so the order puts the comparisons that need 3 seeds first:
# full vs teacher off vs Lock-Release off (Table 10), then pretrained vs
# scratch fine-tuning on NIH1000, then consistency off and the single-task
# baselines, then head-only fine-tuning, few-label segmentation, the two
# suspects' fixes, the other fine-tuning sources; seeds 3 and 4 last.
schedule = [
    dict(variants=['full', 'no_teacher', 'no_lock'], seeds=[0, 1, 2]),
    dict(variants=['ft_nih_full@full', 'ft_nih_full@scratch'],
         seeds=[0, 1, 2]),
    dict(variants=['no_cons', 'single_*'], seeds=[0, 1, 2]),
    dict(variants=['ft_nih_head@full', 'ft_nih_head@scratch'],
         seeds=[0, 1, 2]),
    dict(variants=['no_covid_seg', 'ft_seg*'], seeds=[0, 1, 2]),
    dict(variants=['ema_iter', 'cons_raw'], seeds=[0, 1, 2]),
    dict(variants=['ft_nih_*'], seeds=[0, 1, 2]),
]
