# MIMIC-CXR-JPG (Johnson et al. 2019): the 14 CheXpert-labeler observations.
mimic_cxr_classes = [
    'No Finding', 'Enlarged Cardiomediastinum', 'Cardiomegaly',
    'Lung Opacity', 'Lung Lesion', 'Edema', 'Consolidation', 'Pneumonia',
    'Atelectasis', 'Pneumothorax', 'Pleural Effusion', 'Pleural Other',
    'Fracture', 'Support Devices'
]
# Label policy (fx_mm/datasets/label_policy.py): the CheXpert labeler's
# output, read as for CheXpert -- blank (not mentioned) is negative in
# training and in the metrics (val and test are labeler output too),
# uncertain is LSR-Ones U(0.55, 0.85) in training and left out of metrics.
mimic_cxr = dict(
    name='MIMIC-CXR', data_root='data/mimic_cxr',
    cls=dict(classes=mimic_cxr_classes, uncertain='lsr-ones',
             missing='negative', eval_uncertain='ignore',
             eval_missing='negative'))
