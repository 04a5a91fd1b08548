"""The backbone checkpoint format shared by export_backbone and convert_swin."""
import os
import os.path as osp
from typing import Dict

import torch


def save_backbone_checkpoint(path: str,
                             backbone_weights: Dict[str, torch.Tensor],
                             backbone_cfg: dict, **meta) -> None:
    """Write ``backbone_weights`` as an mmpretrain-style backbone checkpoint.

    The file holds ``state_dict`` with ``backbone.*`` keys, which a config
    loads with ``init_cfg=dict(type='Pretrained', checkpoint=path,
    prefix='backbone.')``, and ``meta.backbone``: the backbone config with a
    bare type name (``SwinTransformer``), enough to rebuild it in plain
    PyTorch.

    Args:
        path (str): File to write (its folder is created).
        backbone_weights (dict): Backbone state dict, without a prefix.
        backbone_cfg (dict): ``model.backbone`` of the config.
        **meta: More entries for ``meta`` (source, weights used, ...).
    """
    backbone_cfg = dict(backbone_cfg)
    backbone_cfg['type'] = backbone_cfg['type'].split('.')[-1]
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    torch.save(dict(state_dict={f'backbone.{k}': v
                                for k, v in backbone_weights.items()},
                    meta=dict(backbone=backbone_cfg, **meta)), path)
