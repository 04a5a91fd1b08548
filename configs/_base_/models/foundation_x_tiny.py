# A tiny Foundation X for tests and CPU demos: the same classes and code paths
# as the Swin-B model, with a small Swin (32..256 channels, window 4), a narrow
# DINO (64 wide, 1 encoder and 2 decoder layers, 30 queries) and a narrow
# UPerNet (32 channels), for 64-128 px inputs.
_base_ = ['./foundation_x_swin-b.py']

embed_dims = 64
model = dict(
    backbone=dict(
        arch=dict(embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8]),
        img_size=128,
        window_size=4,
        drop_path_rate=0.0),
    classification=dict(head=dict(in_channels=256)),
    localization=dict(
        num_queries=30,
        neck=dict(
            in_channels=[64, 128, 256],
            out_channels=embed_dims,
            norm_cfg=dict(type='GN', num_groups=8)),
        encoder=dict(
            num_layers=1,
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=embed_dims, num_heads=4),
                ffn_cfg=dict(
                    embed_dims=embed_dims, feedforward_channels=128))),
        decoder=dict(
            num_layers=2,
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=embed_dims, num_heads=4),
                cross_attn_cfg=dict(embed_dims=embed_dims, num_heads=4),
                ffn_cfg=dict(
                    embed_dims=embed_dims, feedforward_channels=128))),
        positional_encoding=dict(num_feats=embed_dims // 2),
        dn_cfg=dict(group_cfg=dict(num_dn_queries=10)),
        test_cfg=dict(max_per_img=30)),
    segmentation=dict(in_channels=[32, 64, 128, 256], channels=32))
