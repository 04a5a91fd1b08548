# CANDID-PTX (Feng et al. 2021): pneumothorax label, boxes derived from the
# masks, and pneumothorax masks.
candid_ptx = dict(
    name='CANDID-PTX', data_root='data/candid_ptx',
    cls=dict(classes=['Pneumothorax']),
    loc=dict(classes=['Pneumothorax']),
    seg=dict(classes=['Pneumothorax']))
