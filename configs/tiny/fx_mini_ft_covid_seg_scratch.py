# configs/tiny/fx_mini_ft_covid_seg.py from random weights (the from-scratch
# baseline): nothing to load; the backbone learns at the head's rate.
_base_ = ['./fx_mini_ft_covid_seg.py']
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1.0)}))
custom_hooks = [dict(type='RandomStateHook')]
