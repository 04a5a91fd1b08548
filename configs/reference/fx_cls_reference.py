# Foundation X X-CLS with the exact structure of the authors' reference code
# (jlianglab/Foundation_X: Foundation_X/main.py, foundation_x3_pretraining
# with config/DINO/DINO_4scale_swinBASE.py; models/dino/dino_F6.py,
# deformable_transformer_F6.py, swin_transformer_CyclicSegmentation.py), so
# that a released Foundation X checkpoint maps onto it tensor for tensor.
# tools/analysis/param_table.py prints its parts beside paper Table 9, whose
# rows it reproduces exactly (tests/models/test_reference_architecture.py);
# tests/fixtures/foundation_x_reference/manifest_full.json is the reference
# state dict this model corresponds to.
#
# Where the reference code differs from the paper (and from fx_mm's default
# configs, which follow the paper), this config follows the CODE -- the
# checkpoint's shapes win. These choices stay out of the default configs:
#
# - Backbone: the reference Swin holds task-specific output norms --
#   Locnorm1..3 for localization, `norm` for classification, raw stages for
#   segmentation -- plus Segnorm0..3 and a 1-output `head` that no forward
#   pass uses. ReferenceSwinTransformer keeps them all (Table 9's backbone
#   row, 86,751,673, counts them) and returns every branch's input at once:
#   raw stages 0..3, localization-normed 1..3, classification-normed 3.
# - Localization: every decoder is built with 14 classes whatever the
#   dataset (SPEC defect 6; predictions use the dataset's own classes); the
#   900-query content embedding (`tgt_embed`) and the denoising label
#   embedding (`label_enc`, 16 rows) are shared by the six datasets; each
#   dataset has an extra linear projection of the encoder memory; the
#   decoder refines boxes with its own box MLP (one for all layers, plus an
#   unused class layer: Table 9's 9,608,978 per decoder) while the outputs
#   come from another shared pair, and the proposals from a third pair; the
#   neck's convolutions have biases.
# - Segmentation: the reference UperNet (ReferenceUPerHead: PPM at T/4 with
#   scales 1/2/4/6, non-cumulative FPN at 128 channels with one shared
#   smoothing conv: 20,894,464) with 3x3 classifiers, and six of them
#   (20,754): CANDID-PTX, ChestX-Det and SIIM-ACR are the reference's heads
#   2, 4 and 5; heads 0, 1 and 3 (one class each) serve no pretraining
#   dataset and are kept as `spare_heads`.
# - Classification: as the default (one Linear(1024, C) per dataset) on the
#   classification-normed, pooled last stage.
_base_ = ['../fx_cls.py']

# Which reference module index serves which dataset of the table (from the
# reference main.py's head_number / task_DetHead per dataset), for
# tools/convert_foundation_x.py. None: a spare head (seg.spare_heads.<index>).
foundation_x_reference = dict(
    cls_heads=['TBX11K', 'NODE21', 'CANDID-PTX', 'RSNA-Pneumonia',
               'ChestX-Det', 'SIIM-ACR', 'CheXpert', 'NIH-ChestX-ray14',
               'VinDr-CXR', 'NIH-Shenzhen', 'MIMIC-CXR'],
    loc_decoders=['TBX11K', 'NODE21', 'CANDID-PTX', 'RSNA-Pneumonia',
                  'ChestX-Det', 'SIIM-ACR'],
    seg_heads=[None, None, 'CANDID-PTX', None, 'ChestX-Det', 'SIIM-ACR'])

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.ReferenceSwinTransformer',
        arch='base',
        img_size=224,
        window_size=7,
        drop_path_rate=0.2,
        pad_small_map=True,  # the reference pads maps to whole windows
        loc_out_indices=(1, 2, 3),
        seg_norm_indices=(0, 1, 2, 3),
        head_classes=1),
    localization=dict(
        type='ReferenceMultiDecoderDINO',
        # Outputs 4..6 of ReferenceSwinTransformer: Locnorm1..3(stage 1..3).
        backbone=dict(type='SelectFeatures', in_index=(4, 5, 6)),
        head_num_classes=14,
        dn_labelbook_size=15,
        neck=dict(bias=True),
        bbox_head=dict(type='LayerSharedDINOHead')),
    segmentation=dict(
        _delete_=True,
        type='mmseg.ReferenceUPerHead',
        in_channels=[128, 256, 512, 1024],
        in_index=[0, 1, 2, 3],  # the raw stages
        pool_scales=(1, 2, 4, 6),
        channels=128,
        psp_dropout=0.1,
        dropout_ratio=0.0,
        kernel_size=3,
        spare_heads={'0': 1, '1': 1, '3': 1},
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        body_align_corners=True,
        threshold=0.5,
        dice_per_class=True,
        loss_decode=[
            dict(type='mmdet.DiceLoss', use_sigmoid=True, naive_dice=True,
                 loss_weight=1.0),
            dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True,
                 loss_weight=1.0)
        ]))

# tools/analysis/param_table.py: the rows of paper Table 9 (supplement),
# each as the parameter-name prefixes it counts (first matching row wins;
# `{dataset}` repeats a row per dataset of that task). `paper` is Table 9's
# figure; None marks parts the table does not list.
param_table = dict(
    title='Table 9',
    rows=[
        dict(name='backbone', prefixes=['backbone.'], paper=86_751_673),
        dict(name='classification heads', prefixes=['cls_heads.', 'cls_neck.'],
             paper=70_725),
        dict(name='localization input projections + level embeddings',
             prefixes=['loc.neck.', 'loc.level_embed'], paper=None),
        dict(name='localization shared queries + denoising label embedding',
             prefixes=['loc.query_embedding.', 'loc.dn_query_generator.'],
             paper=None),
        dict(name='localization encoder', prefixes=['loc.encoder.'],
             paper=7_693_056),
        dict(name='localization decoder {dataset}', task='loc',
             prefixes=['loc.per_dataset.{dataset}.decoder.'],
             paper=9_608_978),
        dict(name='localization proposal + output layers {dataset}',
             task='loc', prefixes=['loc.per_dataset.{dataset}.'],
             paper=None),
        dict(name='segmentation heads',
             prefixes=['seg.per_dataset.', 'seg.spare_heads.'],
             paper=20_754),
        dict(name='segmentation decoder', prefixes=['seg.'],
             paper=20_894_464),
    ])
