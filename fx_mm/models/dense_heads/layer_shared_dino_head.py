"""DINO head whose decoder-layer branches are one shared pair of layers."""
from typing import Optional

import torch
from mmdet.models.dense_heads import DINOHead
from mmdet.registry import MODELS
from mmengine.structures import InstanceData
from torch import Tensor, nn


@MODELS.register_module()
class LayerSharedDINOHead(DINOHead):
    """mmdet's DINO head with one class and one box layer for all decoder
    layers, and its own pair for the two-stage proposals.

    With box refinement mmdet gives each decoder layer (and the proposal
    stage) its own ``cls_branches[i]`` / ``reg_branches[i]``. The Foundation X
    reference code (IDEA DINO with ``dec_pred_*_embed_share=True`` and
    ``two_stage_*_embed_share=False``) shares one ``Linear`` and one box MLP
    over the decoder layers (its ``class_embed_`` / ``bbox_embed_``) and keeps
    a separate pair for the proposals (``enc_out_class_embed`` /
    ``enc_out_bbox_embed``). Here ``cls_branches[0..L-1]`` are one module
    (the state dict lists it under every index, as the reference's does) and
    ``cls_branches[L]`` is the proposal layer; the same for ``reg_branches``.
    The box refinement inside the decoder uses the decoder's own branches
    (:class:`RefiningDinoTransformerDecoder`), not these.

    Attributes:
        num_valid_classes (int, optional): The dataset's own class count when
            the head is wider (the reference builds every head with 14
            classes); predictions are drawn from the first
            ``num_valid_classes`` classes only. None: all of them.
    """

    num_valid_classes: Optional[int] = None

    def _init_layers(self) -> None:
        """mmdet's branches, the decoder-layer ones then tied together."""
        super()._init_layers()
        num_layers = self.num_pred_layer - (1 if self.as_two_stage else 0)

        def tie(branches: nn.ModuleList) -> nn.ModuleList:
            return nn.ModuleList([branches[0]] * num_layers +
                                 list(branches[num_layers:]))

        self.cls_branches = tie(self.cls_branches)
        self.reg_branches = tie(self.reg_branches)

    def _predict_by_feat_single(self, cls_score: Tensor, bbox_pred: Tensor,
                                img_meta: dict,
                                rescale: bool = True) -> InstanceData:
        """mmdet's, with the classes beyond ``num_valid_classes`` left out.

        Args:
            cls_score (Tensor): Logits (num_queries, num_classes).
            bbox_pred (Tensor): Boxes (num_queries, 4), normalised cxcywh.
            img_meta (dict): Image meta info.
            rescale (bool): Boxes in the original image's pixels.
        """
        n = self.num_valid_classes
        if n is not None and n < cls_score.shape[-1]:
            cls_score = cls_score.clone()
            cls_score[:, n:] = -torch.inf  # sigmoid 0: ranked last
        return super()._predict_by_feat_single(cls_score, bbox_pred, img_meta,
                                               rescale)
