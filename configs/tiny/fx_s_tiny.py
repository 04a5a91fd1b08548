# Tiny X-S (segmentation only) on the bundled sample, for tests and CPU runs.
_base_ = ['./fx_cls_tiny.py']
model = dict(classification=None, localization=None)
