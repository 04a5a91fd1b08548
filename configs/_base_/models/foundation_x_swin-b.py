# Foundation X with a Swin-B backbone at 224 px (paper Table 9).
#
# The experiment config supplies `model.datasets`, the dataset table that sizes
# every per-dataset head; a branch with no dataset of its task is left out.
custom_imports = dict(imports=['fx_mm'], allow_failed_imports=False)
default_scope = 'mmdet'

embed_dims = 256  # DINO width
model = dict(
    type='FoundationX',
    datasets=[],
    data_preprocessor=dict(
        type='FXDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32,
        pad_seg=True,
        seg_pad_value=0),
    backbone=dict(
        type='mmpretrain.SwinTransformer',
        arch='base',
        img_size=224,
        window_size=7,
        drop_path_rate=0.2,
        # Pads feature maps smaller than a window (inputs below 224 px)
        # instead of refusing them; no effect at 224 px.
        pad_small_map=True,
        out_indices=(0, 1, 2, 3)),
    classification=dict(
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(
            type='mmpretrain.MaskedMultiLabelLinearClsHead',
            in_channels=1024,
            thr=0.5,
            # The scope prefix matters: under default_scope='mmdet' a bare
            # 'CrossEntropyLoss' would resolve to mmdet's class.
            loss=dict(type='mmpretrain.CrossEntropyLoss', use_sigmoid=True))),
    localization=dict(
        type='MultiDecoderDINO',
        # Runs on the shared Swin features: stages 1..3 (256/512/1024 ch).
        backbone=dict(type='SelectFeatures', in_index=(1, 2, 3)),
        num_queries=900,
        with_box_refine=True,
        as_two_stage=True,
        num_feature_levels=4,
        neck=dict(
            type='ChannelMapper',
            in_channels=[256, 512, 1024],
            kernel_size=1,
            out_channels=embed_dims,
            act_cfg=None,
            norm_cfg=dict(type='GN', num_groups=32),
            num_outs=4),
        encoder=dict(
            num_layers=6,
            layer_cfg=dict(
                self_attn_cfg=dict(
                    embed_dims=embed_dims, num_levels=4, dropout=0.0),
                ffn_cfg=dict(
                    embed_dims=embed_dims,
                    feedforward_channels=2048,
                    ffn_drop=0.0))),
        decoder=dict(
            num_layers=6,
            return_intermediate=True,
            layer_cfg=dict(
                self_attn_cfg=dict(
                    embed_dims=embed_dims, num_heads=8, dropout=0.0),
                cross_attn_cfg=dict(
                    embed_dims=embed_dims, num_levels=4, dropout=0.0),
                ffn_cfg=dict(
                    embed_dims=embed_dims,
                    feedforward_channels=2048,
                    ffn_drop=0.0)),
            post_norm_cfg=None),
        positional_encoding=dict(
            num_feats=embed_dims // 2,
            normalize=True,
            offset=0.0,
            temperature=20),
        bbox_head=dict(
            type='DINOHead',
            sync_cls_avg_factor=True,
            loss_cls=dict(
                type='FocalLoss',
                use_sigmoid=True,
                gamma=2.0,
                alpha=0.25,
                loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=5.0),
            loss_iou=dict(type='GIoULoss', loss_weight=2.0)),
        dn_cfg=dict(
            label_noise_scale=0.5,
            box_noise_scale=1.0,
            group_cfg=dict(dynamic=True, num_groups=None, num_dn_queries=100)),
        train_cfg=dict(
            assigner=dict(
                type='HungarianAssigner',
                match_costs=[
                    dict(type='FocalLossCost', weight=2.0),
                    dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
                    dict(type='IoUCost', iou_mode='giou', weight=2.0)
                ])),
        test_cfg=dict(max_per_img=300)),
    segmentation=dict(
        type='mmseg.MultiHeadUPerHead',
        in_channels=[128, 256, 512, 1024],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        threshold=0.5,
        dice_per_class=True,
        # Multi-label (per-class sigmoid) losses on (C, H, W) masks: mmdet's
        # Dice and BCE accept same-shape targets.
        loss_decode=[
            dict(type='mmdet.DiceLoss', use_sigmoid=True, naive_dice=True,
                 loss_weight=1.0),
            dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True,
                 loss_weight=1.0)
        ]),
    teacher=True,
    consistency=dict(
        places=('backbone', 'loc_encoder', 'seg_decoder'),
        weight=0.5,
        task_weight=0.5),
    predict_with='teacher',
    # Recompute block activations in backward instead of keeping them:
    # ('backbone', 'loc_encoder', 'loc_decoder') or True for all (the
    # reference code trained with checkpointing). Same results, less memory,
    # one more forward of those blocks; `tools/benchmark.py memory` measures.
    activation_checkpointing=())
