# A mini Foundation X pretraining (issue 17): the tiny model at 128 px over
# three real datasets and all three tasks, a few minutes on 2 CPU cores:
#   Kermany paediatric pneumonia (cls: pneumonia, bacterial, viral),
#   TBX11K TB-positive subset (loc: TB boxes),
#   CovidLungs (cls: COVID-19, loc: right / left lung, seg: lungs).
# A cycle is 8 passes: Kermany cls; TBX11K loc lock, release; CovidLungs cls;
# CovidLungs loc lock, release; seg lock, release.
#
# Data: each dataset as `python -m data_prep <converter> --src ... --out
# DIR/<folder>` writes it (kermany_pneumonia -> kermany, tbx11k -> tbx11k_tb,
# covid_lungs -> covid_lungs). The roots below assume DIR=data; point them
# elsewhere with
#   --cfg-options fx_datasets.0.data_root=DIR/kermany \
#       fx_datasets.1.data_root=DIR/tbx11k_tb fx_datasets.2.data_root=DIR/covid_lungs
# (tools/experiment.py does this from a grid's data_root).
#
# Table 10 ablations and the single-task baselines are --cfg-options on this
# config (configs/experiments/mini_fx_grid.py lists them):
#   train_cfg.lock_tasks="()"                         Lock-Release off
#   model.teacher=False                               teacher (and consistency) off
#   model.consistency.places="()"                     consistency off, teacher kept
#   model.localization=None model.segmentation=None   classification alone
_base_ = [
    '../_base_/models/foundation_x_tiny.py', '../_base_/fx_runtime.py',
    '../_base_/pipelines/cxr_128.py',
    '../_base_/datasets/kermany_pneumonia.py'
]
data_root = 'data'
# Fixed, seeded parts of each training split keep a run to a few minutes on
# a shared 2-core machine (measured with one thread, batch 4: a cls
# iteration 0.3 s, loc 1.15 s, seg 0.57 s on a quiet machine; 1.5 / 3.3 / 2 s
# with ten other processes on it): Kermany 1/48, TBX11K 1/16, CovidLungs
# cls 1/8, loc 1/16, seg 1/6 of the training split -- 104, 32, 76, 44 and
# 48 images (DisjointSubset's parts are about equal): 92 iterations a
# cycle. Test splits are whole.
fx_datasets = [
    dict(name='KermanyPneumonia', data_root=f'{data_root}/kermany',
         cls=dict(classes={{_base_.kermany_pneumonia_classes}},
                  train=dict(subset=dict(part=0, parts=48)))),
    dict(name='TBX11K', data_root=f'{data_root}/tbx11k_tb',
         loc=dict(classes=['TB'], train=dict(subset=dict(part=0, parts=16)))),
    dict(name='CovidLungs', data_root=f'{data_root}/covid_lungs',
         cls=dict(classes=['COVID-19'],
                  train=dict(subset=dict(part=0, parts=8))),
         loc=dict(classes=['Right Lung', 'Left Lung'],
                  train=dict(subset=dict(part=0, parts=16))),
         seg=dict(classes=['Lungs'],
                  train=dict(subset=dict(part=0, parts=6)))),
]
# A 64-channel UPerNet (at 32 channels lung Dice stalls near 0.85, see the
# demo config).
model = dict(datasets=fx_datasets, segmentation=dict(channels=64))

# Two cycles (16 passes).
train_cfg = dict(max_cycles=2)
train_dataloader = dict(batch_size=4, num_workers=1, persistent_workers=False)
test_dataloader = dict(batch_size=16, num_workers=1)
# No validation: mmengine's loop would still validate after the last pass
# (teacher and student, every dataset: minutes here); tools/test.py tests
# the final checkpoint.
val_dataloader = None
val_cfg = None
val_evaluator = None
# From scratch the backbone learns at the heads' rate (the paper's 0.1 x is
# for a pretrained backbone); segmentation, two passes in eight, at 2.5 x
# (the demo's settings). No decay in so short a run.
optim_wrapper = dict(
    optimizer=dict(lr=4e-4),
    paramwise_cfg=dict(custom_keys={
        'backbone': dict(lr_mult=1.0),
        'seg': dict(lr_mult=2.5)
    }))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[1000], gamma=0.1)
]
default_hooks = dict(
    logger=dict(interval=10),
    # Two kept: mmengine deletes the older before writing the next, so a run
    # killed while saving still has one to resume from.
    checkpoint=dict(interval=1, max_keep_ckpts=2, save_last=True))
