# CheXmask, VinDr-CXR part (Gaggion et al. 2023): heart and lungs, boxes
# derived from the masks. Used by the organ schedule (supplement Table 8).
chexmask_vindr_classes = ['Heart', 'Left Lung', 'Right Lung']
chexmask_vindr = dict(
    name='CheXmask-VinDr', data_root='data/chexmask_vindr',
    loc=dict(classes=chexmask_vindr_classes),
    seg=dict(classes=chexmask_vindr_classes))
