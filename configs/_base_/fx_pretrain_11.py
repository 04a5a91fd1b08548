# Foundation X pretraining on the paper's 11 datasets (Table 1): the Swin-B
# model, the cyclic Lock-Release runtime at 224 px and the dataset table.
# Which branches take part is the variant's choice (fx_c.py ... fx_cls.py).
_base_ = [
    './models/foundation_x_swin-b.py',
    './fx_runtime.py',
    './pipelines/cxr_224.py',
    './datasets/chexpert.py',
    './datasets/nih_chestxray14.py',
    './datasets/vindr_cxr.py',
    './datasets/nih_shenzhen.py',
    './datasets/mimic_cxr.py',
    './datasets/tbx11k.py',
    './datasets/node21.py',
    './datasets/candid_ptx.py',
    './datasets/rsna_pneumonia.py',
    './datasets/chestx_det.py',
    './datasets/siim_acr.py',
]

fx_datasets = [
    {{_base_.chexpert}},
    {{_base_.nih_chestxray14}},
    {{_base_.vindr_cxr}},
    {{_base_.nih_shenzhen}},
    {{_base_.mimic_cxr}},
    {{_base_.tbx11k}},
    {{_base_.node21}},
    {{_base_.candid_ptx}},
    {{_base_.rsna_pneumonia}},
    {{_base_.chestx_det}},
    {{_base_.siim_acr}},
]
model = dict(datasets=fx_datasets)
# Supplement Table 7: batch 24 (e.g. 8 GPUs x 3). Another total batch is
# reported when training starts; --auto-scale-lr scales the lrs linearly.
train_dataloader = dict(batch_size=3, num_workers=4)
auto_scale_lr = dict(enable=False, base_batch_size=24)
