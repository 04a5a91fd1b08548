# SIIM-ACR Pneumothorax Segmentation (2019): label, boxes derived from the
# masks, and masks.
siim_acr = dict(
    name='SIIM-ACR', data_root='data/siim_acr',
    cls=dict(classes=['Pneumothorax']),
    loc=dict(classes=['Pneumothorax']),
    seg=dict(classes=['Pneumothorax']))
