# X-CLS: Foundation X pretrained on the paper's 11 datasets, 20 steps a cycle
# (C1..C11 classification, L1..L6 localization, S1..S3 segmentation).
_base_ = [
    './_base_/models/foundation_x_swin-b.py',
    './_base_/datasets/chexpert.py',
    './_base_/datasets/nih_chestxray14.py',
    './_base_/datasets/vindr_cxr.py',
    './_base_/datasets/nih_shenzhen.py',
    './_base_/datasets/mimic_cxr.py',
    './_base_/datasets/tbx11k.py',
    './_base_/datasets/node21.py',
    './_base_/datasets/candid_ptx.py',
    './_base_/datasets/rsna_pneumonia.py',
    './_base_/datasets/chestx_det.py',
    './_base_/datasets/siim_acr.py',
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
