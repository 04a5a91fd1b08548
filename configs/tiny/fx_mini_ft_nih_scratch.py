# configs/tiny/fx_mini_ft_nih.py from random weights (the from-scratch
# baseline of the fine-tuning comparison): no checkpoint to load; the
# backbone learns at the head's rate, as a from-scratch run should.
_base_ = ['./fx_mini_ft_nih.py']
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1.0)}))
custom_hooks = [dict(type='RandomStateHook')]
