# NODE21 (Sogancioglu et al. 2021): nodule classification and nodule boxes.
node21 = dict(
    name='NODE21', data_root='data/node21', cls=dict(classes=['Nodule']), loc=dict(classes=['Nodule']))
