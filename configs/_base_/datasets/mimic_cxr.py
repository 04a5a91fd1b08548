# MIMIC-CXR-JPG (Johnson et al. 2019): the 14 CheXpert-labeler observations.
mimic_cxr_classes = [
    'No Finding', 'Enlarged Cardiomediastinum', 'Cardiomegaly',
    'Lung Opacity', 'Lung Lesion', 'Edema', 'Consolidation', 'Pneumonia',
    'Atelectasis', 'Pneumothorax', 'Pleural Effusion', 'Pleural Other',
    'Fracture', 'Support Devices'
]
mimic_cxr = dict(name='MIMIC-CXR', data_root='data/mimic_cxr', cls=dict(classes=mimic_cxr_classes))
