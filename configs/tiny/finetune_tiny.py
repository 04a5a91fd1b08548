# Tiny fine-tuning example on the bundled sample: start from a tiny X-CLS
# checkpoint, keep CovidLungs' heads, drop CovidBoxes and LungMasks, add a new
# two-class segmentation head; backbone and localization encoder frozen.
#   python tools/train.py configs/tiny/finetune_tiny.py \
#       --cfg-options custom_hooks.0.checkpoint=work_dirs/fx_cls_tiny/epoch_10.pth
_base_ = [
    '../_base_/models/foundation_x_tiny.py', '../_base_/fx_runtime.py',
    '../_base_/pipelines/cxr_64.py'
]
data_root = 'data/covid_lungs'
fx_datasets = [
    dict(name='CovidLungs', data_root=data_root,
         cls=dict(classes=['COVID-19']),
         loc=dict(classes=['Right Lung', 'Left Lung'])),
    dict(name='LungsTwice', data_root=data_root,
         seg=dict(classes=['Lungs', 'Lungs'])),
]
model = dict(datasets=fx_datasets, teacher=False,
             frozen=('backbone', 'loc.neck', 'loc.encoder'))
train_cfg = dict(max_cycles=1, lock_tasks=())
train_dataloader = dict(batch_size=2, num_workers=0)
val_dataloader = dict(batch_size=4, num_workers=0)
test_dataloader = val_dataloader
custom_hooks = [
    dict(type='LoadFoundationXHook', checkpoint='', use='teacher'),
    dict(type='RandomStateHook'),
]
