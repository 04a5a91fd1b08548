# CheXpert (Irvin et al. 2019): 14 observations, multi-label classification.
chexpert_classes = [
    'No Finding', 'Enlarged Cardiomediastinum', 'Cardiomegaly',
    'Lung Opacity', 'Lung Lesion', 'Edema', 'Consolidation', 'Pneumonia',
    'Atelectasis', 'Pneumothorax', 'Pleural Effusion', 'Pleural Other',
    'Fracture', 'Support Devices'
]
# Label policy (fx_mm/datasets/label_policy.py). The labeler leaves an
# observation blank when the report does not mention it: training reads a
# blank as negative, as the Ark / Foundation X line of work does (ignoring
# blanks leaves No Finding without a single negative). Uncertain (-1):
# LSR-Ones, U(0.55, 0.85). The val split is labeler output too, so metrics
# read blanks the same way; test (the radiologists' valid.csv) has no blank
# or -1.
chexpert = dict(
    name='CheXpert', data_root='data/chexpert',
    cls=dict(classes=chexpert_classes, uncertain='lsr-ones',
             missing='negative', eval_uncertain='ignore',
             eval_missing='negative'))
