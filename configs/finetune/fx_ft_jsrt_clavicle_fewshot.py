# Few-shot JSRT clavicle segmentation (paper Table 6): N training images, N in
# 3, 6, 12, 15, 20, 24 -- e.g. --cfg-options fx_datasets.0.seg.train.indices=6
_base_ = ['./_base_ft.py']
fx_datasets = [
    dict(name='JSRT-Clavicles', data_root='data/jsrt',
         seg=dict(classes=['Clavicles'], train=dict(indices=3)))
]
model = dict(datasets=fx_datasets)
