# NIH Montgomery County (Jaeger et al. 2014): lung masks.
nih_montgomery = dict(name='NIH-Montgomery', data_root='data/nih_montgomery', seg=dict(classes=['Lungs']))
