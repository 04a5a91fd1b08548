# JSRT with the SCR masks (van Ginneken et al. 2006): heart, lungs, clavicles.
jsrt_classes = ['Heart', 'Lungs', 'Clavicles']
jsrt = dict(name='JSRT', data_root='data/jsrt', seg=dict(classes=jsrt_classes))
