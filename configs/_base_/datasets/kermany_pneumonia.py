# Kermany et al. 2018 (Mendeley Data doi:10.17632/rscbjbr9sj.2, CC BY 4.0):
# paediatric radiographs, normal / bacterial / viral pneumonia
# (`python -m data_prep kermany_pneumonia --src DOWNLOAD --out
# data/kermany_pneumonia`; a subset is bundled in
# data_prep/bundled/kermany_pneumonia). Every cell is 1 or 0: a normal image
# is negative for both types, so Bacterial / Viral Pneumonia are
# one-vs-rest over all images. A config that wants pneumonia alone sets
# cls=dict(classes=['Pneumonia']) (the CSV columns are read by name).
kermany_pneumonia_classes = [
    'Pneumonia', 'Bacterial Pneumonia', 'Viral Pneumonia'
]
kermany_pneumonia = dict(
    name='KermanyPneumonia', data_root='data/kermany_pneumonia',
    cls=dict(classes=kermany_pneumonia_classes))
