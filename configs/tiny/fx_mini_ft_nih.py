# Downstream task of the mini pretraining (issue 17): NIH ChestX-ray14
# classification (14 findings) on the 1,000-image NIH1000 sample, which the
# pretraining (configs/tiny/fx_mini_pretrain.py) never sees. Starts from a
# pretrained checkpoint's teacher (README "Fine-tuning"):
#   python tools/train.py configs/tiny/fx_mini_ft_nih.py \
#       --cfg-options custom_hooks.0.checkpoint=work_dirs/.../epoch_32.pth
# head-only: add model.frozen=[backbone]; from scratch:
# configs/tiny/fx_mini_ft_nih_scratch.py. Data: `python -m data_prep
# nih_chestxray14 --allow-partial ... --out data/nih1000` (or
# --cfg-options fx_datasets.0.data_root=DIR/nih1000).
_base_ = [
    '../_base_/models/foundation_x_tiny.py', '../_base_/fx_runtime.py',
    '../_base_/pipelines/cxr_128.py', '../_base_/datasets/nih_chestxray14.py'
]
fx_datasets = [
    dict(name='NIH1000', data_root='data/nih1000',
         cls=dict(classes={{_base_.nih_chestxray14_classes}})),
]
# The pretraining's network (its 64-channel UPerNet) so that every backbone
# weight loads; only the classification branch is used here.
model = dict(datasets=fx_datasets, teacher=False,
             segmentation=dict(channels=64))
# Two passes over the 702 training images, 16 a batch.
train_cfg = dict(max_cycles=2, lock_tasks=())
train_dataloader = dict(batch_size=16, num_workers=1)
test_dataloader = dict(batch_size=32, num_workers=1)
# No validation: mmengine's loop would still validate after the last pass
# (teacher and student, every dataset: minutes here); tools/test.py tests
# the final checkpoint.
val_dataloader = None
val_cfg = None
val_evaluator = None
# The pretrained backbone at 0.1 x (as the paper fine-tunes), the new head at
# 1e-3.
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
    checkpoint=dict(interval=1, max_keep_ckpts=2, save_last=True))
custom_hooks = [
    dict(type='LoadFoundationXHook', checkpoint='', use='teacher'),
    dict(type='RandomStateHook'),
]
