# RSNA Pneumonia Detection (2018): 3 classes from the detailed class file,
# pneumonia (lung opacity) boxes.
rsna_pneumonia_classes = [
    'Normal', 'No Lung Opacity / Not Normal', 'Lung Opacity'
]
rsna_pneumonia = dict(
    name='RSNA-Pneumonia', data_root='data/rsna_pneumonia',
    cls=dict(classes=rsna_pneumonia_classes),
    loc=dict(classes=['Pneumonia']))
