# A tiny X-CLS run on the bundled real sample, for tests and CPU trials: the
# tiny model at 64 px, three datasets made from the sample so that a cycle
# has cls, loc and seg steps on several heads:
#   CovidLungs    cls, loc, seg
#   CovidBoxes    cls (COVID-19), loc (both lungs as one class)
#   LungMasks     seg
_base_ = [
    '../_base_/models/foundation_x_tiny.py', '../_base_/fx_runtime.py',
    '../_base_/pipelines/cxr_64.py', '../_base_/datasets/covid_lungs.py'
]
data_root = 'data/covid_lungs'
fx_datasets = [
    {{_base_.covid_lungs}},
    dict(name='CovidBoxes', data_root=data_root,
         cls=dict(classes=['COVID-19']),
         loc=dict(classes=['Right Lung', 'Left Lung'])),
    dict(name='LungMasks', data_root=data_root, seg=dict(classes=['Lungs'])),
]
model = dict(datasets=fx_datasets)
train_cfg = dict(max_cycles=1)
train_dataloader = dict(batch_size=2, num_workers=0)
val_dataloader = dict(batch_size=4, num_workers=0)
test_dataloader = val_dataloader
default_hooks = dict(logger=dict(interval=5))
