# VinDr-RibCXR (Nguyen et al. 2021): 20 ribs (L1-L10, R1-R10) for segmentation.
vindr_ribcxr_classes = [f'R{i}' for i in range(1, 11)] + [
    f'L{i}' for i in range(1, 11)
]
vindr_ribcxr = dict(name='VinDr-RibCXR', data_root='data/vindr_ribcxr', seg=dict(classes=vindr_ribcxr_classes))
