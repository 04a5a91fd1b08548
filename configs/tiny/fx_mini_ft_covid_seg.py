# Downstream task of the mini pretraining (issue 17): CovidLungs lung
# segmentation with few labels -- one seeded part of the training images
# (DisjointSubset: part 0 of 10 is about 10%, of 4 about 25%) -- starting
# from a pretraining that left CovidLungs' segmentation out
# (configs/experiments/mini_fx_grid.py, variant no_covid_seg: the backbone
# has seen these images for cls and loc, never their masks). The UPerNet
# starts random either way. From scratch: fx_mini_ft_covid_seg_scratch.py.
#   python tools/train.py configs/tiny/fx_mini_ft_covid_seg.py --cfg-options \
#       custom_hooks.0.checkpoint=CKPT fx_datasets.0.seg.train.subset.parts=4
_base_ = [
    '../_base_/models/foundation_x_tiny.py', '../_base_/fx_runtime.py',
    '../_base_/pipelines/cxr_128.py'
]
fx_datasets = [
    dict(name='CovidLungs', data_root='data/covid_lungs',
         seg=dict(classes=['Lungs'],
                  train=dict(subset=dict(part=0, parts=10, seed=0)))),
]
model = dict(datasets=fx_datasets, teacher=False,
             segmentation=dict(channels=64))
# 312 images with masks in the training split: about 31 (10%) or 78 (25%);
# the same number of passes for both, 4 images a batch.
train_cfg = dict(max_cycles=8, lock_tasks=())
train_dataloader = dict(batch_size=4, num_workers=1)
test_dataloader = dict(batch_size=16, num_workers=1)
# No validation: mmengine's loop would still validate after the last pass
# (teacher and student, every dataset: minutes here); tools/test.py tests
# the final checkpoint.
val_dataloader = None
val_cfg = None
val_evaluator = None
optim_wrapper = dict(
    optimizer=dict(lr=1e-3),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[1000], gamma=0.1)
]
default_hooks = dict(
    logger=dict(interval=20),
    # Two kept: mmengine deletes the older before writing the next, so a run
    # killed while saving still has one to resume from.
    checkpoint=dict(interval=2, max_keep_ckpts=2, save_last=True))
custom_hooks = [
    dict(type='LoadFoundationXHook', checkpoint='', use='teacher'),
    dict(type='RandomStateHook'),
]
