# Tiny X-CL (classification and localization) on the bundled sample, for tests and CPU runs.
_base_ = ['./fx_cls_tiny.py']
model = dict(segmentation=None)
