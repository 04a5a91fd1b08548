# NIH ChestX-ray14 (Wang et al. 2017): 14 findings, multi-label classification.
nih_chestxray14_classes = [
    'Atelectasis', 'Cardiomegaly', 'Effusion', 'Infiltration', 'Mass',
    'Nodule', 'Pneumonia', 'Pneumothorax', 'Consolidation', 'Edema',
    'Emphysema', 'Fibrosis', 'Pleural Thickening', 'Hernia'
]
nih_chestxray14 = dict(
    name='NIH-ChestX-ray14', data_root='data/nih_chestxray14', cls=dict(classes=nih_chestxray14_classes))
