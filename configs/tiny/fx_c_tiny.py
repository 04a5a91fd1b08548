# Tiny X-C (classification only) on the bundled sample, for tests and CPU runs.
_base_ = ['./fx_cls_tiny.py']
model = dict(localization=None, segmentation=None)
