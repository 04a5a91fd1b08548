# X-C: classification only (paper Table 2). The steps of the other tasks
# drop out of the cycle with their branches.
_base_ = ['./_base_/fx_pretrain_11.py']
model = dict(localization=None, segmentation=None)
