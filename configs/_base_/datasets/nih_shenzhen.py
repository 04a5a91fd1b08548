# NIH Shenzhen (Jaeger et al. 2014): tuberculosis vs normal.
nih_shenzhen_classes = ['Tuberculosis']
nih_shenzhen = dict(name='NIH-Shenzhen', data_root='data/nih_shenzhen', cls=dict(classes=nih_shenzhen_classes))
