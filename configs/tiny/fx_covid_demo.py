# The embedded demo (`make demo`): a tiny Foundation X trained from scratch on
# the bundled real sample (COVID-19 label, lung boxes, lung masks) at 128 px,
# in cycles of cls -> loc (lock, release) -> seg (lock, release), with the EMA
# teacher, validated after every pass (for the cross-task curves), on the CPU.
_base_ = [
    '../_base_/models/foundation_x_tiny.py', '../_base_/fx_runtime.py',
    '../_base_/pipelines/cxr_128.py', '../_base_/datasets/covid_lungs.py'
]
fx_datasets = [{{_base_.covid_lungs}}]
# A 64-channel UPerNet: at 32 channels lung Dice stalls near 0.85 here.
model = dict(datasets=fx_datasets, segmentation=dict(channels=64))

train_cfg = dict(max_cycles=10, val_interval=1, val_by='pass')
train_dataloader = dict(batch_size=4, num_workers=2, persistent_workers=True)
val_dataloader = dict(batch_size=8, num_workers=2)
test_dataloader = val_dataloader
# From scratch, the backbone learns at the heads' rate (the paper's 0.1 x is
# for a pretrained backbone), and segmentation, one pass in five, at 2.5 x.
optim_wrapper = dict(
    optimizer=dict(lr=4e-4),
    paramwise_cfg=dict(custom_keys={
        'backbone': dict(lr_mult=1.0),
        'seg': dict(lr_mult=2.5)
    }))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[40], gamma=0.1)
]
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=5, max_keep_ckpts=2))
