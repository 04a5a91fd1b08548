"""Classification head of one Foundation X dataset."""
from typing import List

import torch
from mmpretrain.models.heads import MultiLabelLinearClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import label_to_onehot
from torch import Tensor


@MODELS.register_module()
class MaskedMultiLabelLinearClsHead(MultiLabelLinearClsHead):
    """mmpretrain's multi-label linear head with soft and missing targets.

    Targets come from ``gt_score`` (float, so CheXpert's uncertain label can be
    a soft U(0.55, 0.85) value) or, failing that, from ``gt_label`` indices. A
    NaN in ``gt_score`` marks a label that is missing or that the uncertainty
    policy ignores: it is left out of the loss. The loss is the configured
    mmpretrain loss (BCE-with-logits by default) per element, averaged over the
    labels that are present -- PyTorch's BCEWithLogitsLoss mean when none is
    missing.

    Args:
        dataset (str, optional): Dataset name, for error messages.
        **kwargs: As mmpretrain's MultiLabelLinearClsHead.
    """

    def __init__(self, *args, dataset: str = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.dataset = dataset

    def forward(self, feats) -> Tensor:
        """mmpretrain's logits, handed on in fp32.

        Under autocast the linear layer computes in fp16 / bf16; its logits
        are cast up so that the soft targets, which take the logits' dtype
        in :meth:`_get_loss`, are not rounded (0.7 is 0.69921875 in bf16)
        and the probabilities are not either (fp16 ties them in steps of
        2**-11 near 1, bf16 ones cannot be read by numpy).

        Returns:
            Tensor: Logits of shape (B, C), fp32 under autocast.
        """
        return super().forward(feats).float()

    def _get_loss(self, cls_score: Tensor, data_samples: List, **kwargs):
        """Masked mean of the element-wise loss.

        Args:
            cls_score (Tensor): Logits of shape (B, C).
            data_samples (list[DataSample]): Samples with ``gt_score`` (B x C
                floats, NaN = ignore) or ``gt_label``.

        Returns:
            dict[str, Tensor]: ``{'loss': scalar}``.
        """
        num_classes = cls_score.size(-1)
        if 'gt_score' in data_samples[0]:
            scores = [s.gt_score for s in data_samples]
            bad = [tuple(s.shape) for s in scores if s.shape[-1] != num_classes]
            if bad:
                raise ValueError(
                    f'Classification dataset {self.dataset!r}: a sample has '
                    f'gt_score of shape {bad[0]}, but the head has '
                    f'{num_classes} classes.')
            target = torch.stack(scores).to(cls_score)
        else:
            labels = [s.gt_label for s in data_samples]
            top = max((int(lbl.max()) for lbl in labels if lbl.numel()),
                      default=-1)
            if top >= num_classes:
                raise ValueError(
                    f'Classification dataset {self.dataset!r}: label index '
                    f'{top} is out of range for a head with {num_classes} '
                    'classes.')
            target = torch.stack([label_to_onehot(lbl, num_classes)
                                  for lbl in labels]).to(cls_score)
        present = ~torch.isnan(target)
        target = torch.nan_to_num(target, nan=0.0)
        per_element = self.loss_module(
            cls_score, target, reduction_override='none', **kwargs)
        loss = (per_element * present).sum() / present.sum().clamp(min=1)
        return dict(loss=loss)
