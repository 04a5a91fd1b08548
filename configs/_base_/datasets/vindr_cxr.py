# VinDr-CXR (Nguyen et al. 2022): 6 global labels for classification; the 14
# local lesions are localized only when fine-tuning (paper Fig. 3).
vindr_cxr_classes = [
    'PE', 'Lung tumor', 'Pneumonia', 'Tuberculosis', 'Other diseases',
    'No finding'
]
vindr_cxr_lesion_classes = [
    'Aortic enlargement', 'Atelectasis', 'Calcification', 'Cardiomegaly',
    'Consolidation', 'ILD', 'Infiltration', 'Lung Opacity', 'Nodule/Mass',
    'Other lesion', 'Pleural effusion', 'Pleural thickening', 'Pneumothorax',
    'Pulmonary fibrosis'
]
vindr_cxr = dict(name='VinDr-CXR', data_root='data/vindr_cxr', cls=dict(classes=vindr_cxr_classes))
vindr_cxr_lesions = dict(
    name='VinDr-CXR-lesions', data_root='data/vindr_cxr', loc=dict(classes=vindr_cxr_lesion_classes))
