# Baseline: Swin-B + DINO trained alone on TBX11K localization.
_base_ = [
    '../_base_/models/foundation_x_swin-b.py', '../_base_/fx_runtime.py',
    '../_base_/pipelines/cxr_224.py', '../_base_/datasets/tbx11k.py'
]
fx_datasets = [dict(name='TBX11K', data_root='data/tbx11k',
                    loc=dict(classes=['TB']))]
model = dict(datasets=fx_datasets, teacher=False, classification=None,
             segmentation=None)
train_cfg = dict(lock_tasks=())
custom_hooks = [dict(type='RandomStateHook')]
