"""mmpretrain's Swin with the task-specific output norms of the Foundation X
reference code."""
from typing import Sequence, Tuple

from mmpretrain.models.backbones import SwinTransformer
from mmpretrain.registry import MODELS
from torch import Tensor, nn


def _channel_norm(norm: nn.Module, x: Tensor) -> Tensor:
    """Apply a LayerNorm over the channels of a (B, C, H, W) map."""
    return norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).contiguous()


@MODELS.register_module()
class ReferenceSwinTransformer(SwinTransformer):
    """Swin whose outputs are normed per task, as in the reference code.

    The reference backbone (``swin_transformer_CyclicSegmentation.py`` of
    jlianglab/Foundation_X) gives each branch differently normed features of
    the same four stages: the localization branch ``Locnorm1..3`` on stages
    1..3, the classification branch ``norm`` on the last stage, and the
    segmentation branch the raw stage outputs. It also holds tensors no
    forward pass uses -- ``Segnorm0..3`` (their call is commented out there)
    and ``head`` (a ``Linear(C_3, num_classes)`` classifier, 1 output in the
    released training) -- which are part of its checkpoint and of paper
    Table 9's backbone row (86,751,673 = Swin-B 86,741,176 + these 10,497).

    Here the Swin body is mmpretrain's, unchanged; its per-stage ``norm{i}``
    are identities and the task norms are extra modules. One forward pass
    returns every branch's input, so FoundationX keeps computing the backbone
    once::

        (raw_0, raw_1, raw_2, raw_3,              # segmentation (in_index 0..3)
         loc_1, loc_2, loc_3,                     # localization (4, 5, 6)
         cls_3)                                   # classification (last)

    Args:
        loc_out_indices (Sequence[int]): Stages normed for localization
            (``loc_norm{i}``). Defaults to (1, 2, 3).
        seg_norm_indices (Sequence[int]): Stages with an (unused) segmentation
            norm ``seg_norm{i}``. Defaults to (0, 1, 2, 3).
        head_classes (int): Outputs of the unused ``head``; 0 for none.
            Defaults to 1 (the released checkpoint).
        **kwargs: mmpretrain's SwinTransformer arguments, except
            ``out_indices`` (always all stages) and ``norm_cfg`` (the stage
            outputs are raw).
    """

    def __init__(self,
                 loc_out_indices: Sequence[int] = (1, 2, 3),
                 seg_norm_indices: Sequence[int] = (0, 1, 2, 3),
                 head_classes: int = 1,
                 **kwargs) -> None:
        for key in ('out_indices', 'norm_cfg'):
            if key in kwargs:
                raise ValueError(
                    f'ReferenceSwinTransformer: {key} is fixed (every stage, '
                    'un-normed; the task norms are loc_out_indices and the '
                    f'classification norm); remove {key} from the config.')
        super().__init__(out_indices=(0, 1, 2, 3), norm_cfg=None, **kwargs)
        self.loc_out_indices = tuple(loc_out_indices)
        self.seg_norm_indices = tuple(seg_norm_indices)
        for i in self.loc_out_indices:
            self.add_module(f'loc_norm{i}', nn.LayerNorm(self.num_features[i]))
        for i in self.seg_norm_indices:
            self.add_module(f'seg_norm{i}', nn.LayerNorm(self.num_features[i]))
        self.cls_norm = nn.LayerNorm(self.num_features[-1])
        self.head = nn.Linear(self.num_features[-1], head_classes) \
            if head_classes > 0 else None

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Stage features for every branch.

        Args:
            x (Tensor): Images of shape (B, 3, H, W).

        Returns:
            tuple[Tensor]: The four raw stage maps (B, C_i, H_i, W_i), then
            the localization-normed maps of ``loc_out_indices``, then the
            classification-normed last stage.
        """
        raw = super().forward(x)
        loc = tuple(_channel_norm(getattr(self, f'loc_norm{i}'), raw[i])
                    for i in self.loc_out_indices)
        return raw + loc + (_channel_norm(self.cls_norm, raw[-1]), )
