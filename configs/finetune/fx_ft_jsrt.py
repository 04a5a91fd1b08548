# Fine-tune on JSRT segmentation (heart, lungs, clavicles; paper Table 5):
#   python tools/train.py configs/finetune/fx_ft_jsrt.py \
#       --cfg-options custom_hooks.0.checkpoint=work_dirs/fx_cls/epoch_290.pth
_base_ = ['./_base_ft.py', '../_base_/datasets/jsrt.py']
fx_datasets = [{{_base_.jsrt}}]
model = dict(datasets=fx_datasets)
