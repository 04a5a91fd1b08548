# A tiny Foundation X for tests and CPU demos: the same classes and code paths
# as the Swin-B model, with a small Swin (32..256 channels, window 4), a short
# DINO (1 encoder and 2 decoder layers, FFN 256, 30 queries) and a narrow
# UPerNet (32 channels), for 64-128 px inputs. The DINO stays 256 wide: mmdet
# 3.3's DINO decoder encodes reference points with a fixed 128 features per
# coordinate, so it only works at embed_dims=256.
_base_ = ['./foundation_x_swin-b.py']

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
