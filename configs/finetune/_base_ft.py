# Fine-tuning from a Foundation X checkpoint (paper Tables 4-6, Fig. 3): the
# teacher's weights initialise every part whose name and shape match; new
# heads start random; the summary of loaded / new / dropped keys is logged.
# Plain training: no teacher, no Lock-Release.
_base_ = [
    '../_base_/models/foundation_x_swin-b.py', '../_base_/fx_runtime.py',
    '../_base_/pipelines/cxr_224.py'
]
# configs/fx_cls.py's last checkpoint (10 cycles of 29 passes); set with
# --cfg-options custom_hooks.0.checkpoint=...
pretrained = 'work_dirs/fx_cls/epoch_290.pth'
model = dict(teacher=False)
train_cfg = dict(max_cycles=50, lock_tasks=())
custom_hooks = [
    dict(type='LoadFoundationXHook', checkpoint=pretrained, use='teacher'),
    dict(type='RandomStateHook'),
]
