# Baseline: Swin-B + UperNet trained alone on SIIM-ACR segmentation.
_base_ = [
    '../_base_/models/foundation_x_swin-b.py', '../_base_/fx_runtime.py',
    '../_base_/pipelines/cxr_224.py'
]
fx_datasets = [dict(name='SIIM-ACR', data_root='data/siim_acr',
                    seg=dict(classes=['Pneumothorax']))]
model = dict(datasets=fx_datasets, teacher=False, classification=None,
             localization=None)
train_cfg = dict(lock_tasks=())
custom_hooks = [dict(type='RandomStateHook')]
