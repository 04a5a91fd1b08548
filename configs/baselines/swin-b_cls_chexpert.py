# Baseline: a Swin-B classifier trained alone on CheXpert (no cycle partners,
# no teacher, no Lock-Release).
_base_ = [
    '../_base_/models/foundation_x_swin-b.py', '../_base_/fx_runtime.py',
    '../_base_/pipelines/cxr_224.py', '../_base_/datasets/chexpert.py'
]
fx_datasets = [{{_base_.chexpert}}]
model = dict(datasets=fx_datasets, teacher=False, localization=None,
             segmentation=None)
train_cfg = dict(lock_tasks=())
custom_hooks = [dict(type='RandomStateHook')]
