# NIH Montgomery County (Jaeger et al. 2014): lung masks.
nih_montgomery = dict(name='NIH-Montgomery', seg=dict(classes=['Lungs']))
