# The tiny model with three datasets that together cover every task and both
# single- and multi-class heads: SIIM-ACR (cls, loc, seg; 1 class),
# ChestX-Det (cls, loc, seg; 13 classes), TBX11K (cls, loc).
_base_ = [
    '../_base_/models/foundation_x_tiny.py', '../_base_/fx_runtime.py',
    '../_base_/pipelines/cxr_64.py',
    '../_base_/datasets/siim_acr.py',
    '../_base_/datasets/chestx_det.py',
    '../_base_/datasets/tbx11k.py',
]
fx_datasets = [{{_base_.siim_acr}}, {{_base_.chestx_det}}, {{_base_.tbx11k}}]
model = dict(datasets=fx_datasets)
