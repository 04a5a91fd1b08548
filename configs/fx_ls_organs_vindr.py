# Organ X-LS on VinDr-CXR with the CheXmask masks (paper Table 3, supplement
# Table 8): heart, left lung and right lung are separate steps, localization
# first, then segmentation, each a lock and a release pass: 12 passes a cycle.
_base_ = [
    './_base_/models/foundation_x_swin-b.py', './_base_/fx_runtime.py',
    './_base_/pipelines/cxr_224.py'
]
data_root = 'data/chexmask_vindr'  # python -m data_prep chexmask_vindr ...
# As in the paper, every organ step trains on its own images: the training
# split is cut into 6 disjoint seeded parts, one per (organ, task); the val
# and test splits are whole for every organ.
_organs = ('Heart', 'Left Lung', 'Right Lung')
fx_datasets = [
    dict(name=f'VinDr-{organ.replace(" ", "")}', data_root=data_root,
         loc=dict(classes=[organ],
                  train=dict(subset=dict(part=2 * i, parts=6))),
         seg=dict(classes=[organ],
                  train=dict(subset=dict(part=2 * i + 1, parts=6))))
    for i, organ in enumerate(_organs)
]
model = dict(datasets=fx_datasets, classification=None)
train_cfg = dict(steps=[(d['name'], task) for task in ('loc', 'seg')
                        for d in fx_datasets])
