# The reference structure of fx_cls_reference.py at tiny sizes, for CPU tests
# and synthetic checkpoints (tests/fixtures/foundation_x_reference/
# manifest_tiny.json is its reference state dict): the same heads -- 11
# classification, 6 localization decoders of 14 classes with the shared
# queries, 6 segmentation classifiers (3 spare) -- the same key patterns, on
# a small Swin (32..256 channels, window 4), a short DINO (1 encoder and 2
# decoder layers, FFN 256, 30 queries; the DINO stays 256 wide, see
# _base_/models/foundation_x_tiny.py) and a 32-channel UperNet. The dataset
# table is the paper's 11 datasets (building needs only their classes).
_base_ = ['./fx_cls_reference.py']

model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=32,
            depths=[2, 2, 2, 2],
            num_heads=[1, 2, 4, 8]),
        img_size=128,
        window_size=4,
        drop_path_rate=0.0),
    classification=dict(head=dict(in_channels=256)),
    localization=dict(
        num_queries=30,
        neck=dict(in_channels=[64, 128, 256]),
        encoder=dict(
            num_layers=1,
            layer_cfg=dict(ffn_cfg=dict(feedforward_channels=256))),
        decoder=dict(
            num_layers=2,
            layer_cfg=dict(ffn_cfg=dict(feedforward_channels=256))),
        dn_cfg=dict(group_cfg=dict(num_dn_queries=10)),
        test_cfg=dict(max_per_img=30)),
    segmentation=dict(in_channels=[32, 64, 128, 256], channels=32))

# The rows of Table 9 (see fx_cls_reference.py), against the tiny reference
# state dict (tests/fixtures/foundation_x_reference/manifest_tiny.json).
param_table = dict(
    title='reference',
    rows=[
        dict(name='backbone', prefixes=['backbone.'], paper=2_280_991),
        dict(name='classification heads', prefixes=['cls_heads.', 'cls_neck.'],
             paper=17_733),
        dict(name='localization input projections + level embeddings',
             prefixes=['loc.neck.', 'loc.level_embed'], paper=708_608),
        dict(name='localization shared queries + denoising label embedding',
             prefixes=['loc.query_embedding.', 'loc.dn_query_generator.'],
             paper=11_776),
        dict(name='localization encoder', prefixes=['loc.encoder.'],
             paper=362_880),
        dict(name='localization decoder {dataset}', task='loc',
             prefixes=['loc.per_dataset.{dataset}.decoder.'],
             paper=1_586_962),
        dict(name='localization proposal + output layers {dataset}',
             task='loc', prefixes=['loc.per_dataset.{dataset}.'],
             paper=404_516),
        dict(name='segmentation heads',
             prefixes=['seg.per_dataset.', 'seg.spare_heads.'], paper=5_202),
        dict(name='segmentation decoder', prefixes=['seg.'],
             paper=1_306_816),
    ])
