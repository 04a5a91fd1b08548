# CheXpert (Irvin et al. 2019): 14 observations, multi-label classification.
chexpert_classes = [
    'No Finding', 'Enlarged Cardiomediastinum', 'Cardiomegaly',
    'Lung Opacity', 'Lung Lesion', 'Edema', 'Consolidation', 'Pneumonia',
    'Atelectasis', 'Pneumothorax', 'Pleural Effusion', 'Pleural Other',
    'Fracture', 'Support Devices'
]
chexpert = dict(name='CheXpert', data_root='data/chexpert', cls=dict(classes=chexpert_classes))
