# TBX11K (Liu et al. 2020): tuberculosis classification and TB boxes.
tbx11k_classes = ['Tuberculosis']
tbx11k = dict(
    name='TBX11K', data_root='data/tbx11k',
    cls=dict(classes=tbx11k_classes),
    loc=dict(classes=['TB']))
