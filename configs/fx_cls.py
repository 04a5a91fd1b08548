# X-CLS: classification, localization and segmentation (paper Table 2):
# 20 steps a cycle -- C1..C11, L1..L6, S1..S3.
_base_ = ['./_base_/fx_pretrain_11.py']
