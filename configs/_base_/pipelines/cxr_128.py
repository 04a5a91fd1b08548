# Training and test pipelines of every task at 128 x 128 px. The loops append
# AnnotateDataset(dataset, task) to each. No flips: left and right (lungs,
# boxes) are labels here.
img_size = 128
_load = dict(type='LoadCXRImage')
_resize = dict(type='Resize', scale=(img_size, img_size), keep_ratio=False)
fx_pipelines = dict(
    # ResolveUncertainLabels here is the label policy of a dataset whose
    # table entry sets none; an entry's cls.uncertain / missing (train) and
    # eval_uncertain / eval_missing (test) replace it for that dataset
    # (fx_mm/datasets/label_policy.py).
    cls=dict(
        train=[
            _load, _resize,
            dict(type='ResolveUncertainLabels', uncertain='lsr-ones',
                 missing='ignore', low=0.55, high=0.85),
            dict(type='mmpretrain.PackInputs')
        ],
        # By default AUC is computed on the labels that are known.
        test=[
            _load, _resize,
            dict(type='ResolveUncertainLabels', uncertain='ignore',
                 missing='ignore'),
            dict(type='mmpretrain.PackInputs')
        ]),
    loc=dict(
        train=[
            _load,
            dict(type='LoadAnnotations', with_bbox=True), _resize,
            dict(type='PackDetInputs')
        ],
        # Boxes loaded after resizing stay in original pixels, where the
        # predictions are rescaled to.
        test=[
            _load, _resize,
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='PackDetInputs',
                 meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                            'scale_factor'))
        ]),
    seg=dict(
        train=[
            _load,
            dict(type='LoadMultiLabelMasks'), _resize,
            dict(type='PackMultiLabelSegInputs')
        ],
        # Masks loaded after resizing: Dice is measured at the original size.
        test=[
            _load, _resize,
            dict(type='LoadMultiLabelMasks'),
            dict(type='PackMultiLabelSegInputs')
        ]))
