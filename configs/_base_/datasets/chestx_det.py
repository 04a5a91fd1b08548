# ChestX-Det (Lian et al. 2021): 13 findings as labels, boxes and masks. The
# class order is this list's, for every task (never a directory listing).
chestx_det_classes = [
    'Atelectasis', 'Calcification', 'Cardiomegaly', 'Consolidation',
    'Diffuse Nodule', 'Effusion', 'Emphysema', 'Fibrosis', 'Fracture', 'Mass',
    'Nodule', 'Pleural Thickening', 'Pneumothorax'
]
chestx_det = dict(
    name='ChestX-Det', data_root='data/chestx_det',
    cls=dict(classes=chestx_det_classes),
    loc=dict(classes=chestx_det_classes),
    seg=dict(classes=chestx_det_classes))
