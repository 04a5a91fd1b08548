# JSRT with the SCR masks (van Ginneken et al. 2006): heart, lungs, clavicles.
jsrt_classes = ['Heart', 'Lungs', 'Clavicles']
jsrt = dict(name='JSRT', seg=dict(classes=jsrt_classes))
