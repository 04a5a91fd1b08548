# VinDr-CXR lesion localization, full fine-tuning (paper Fig. 3): a new DINO
# decoder for the 14 lesions; everything trains.
_base_ = ['./_base_ft.py', '../_base_/datasets/vindr_cxr.py']
fx_datasets = [{{_base_.vindr_cxr_lesions}}]
model = dict(datasets=fx_datasets)
