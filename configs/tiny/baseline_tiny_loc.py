# Tiny baseline: Swin + DINO alone on the bundled lung boxes (no teacher, no
# Lock-Release), for tests and CPU comparisons with the tiny X-CLS.
_base_ = [
    '../_base_/models/foundation_x_tiny.py', '../_base_/fx_runtime.py',
    '../_base_/pipelines/cxr_64.py'
]
fx_datasets = [dict(name='CovidLungs', data_root='data/covid_lungs',
                    loc=dict(classes=['Right Lung', 'Left Lung']))]
model = dict(datasets=fx_datasets, teacher=False, classification=None,
             segmentation=None)
train_cfg = dict(max_cycles=1, lock_tasks=())
custom_hooks = [dict(type='RandomStateHook')]
