"""A parameter-free 'backbone' for branches that run on shared features."""
from typing import Sequence, Tuple

from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor


@MODELS.register_module()
class SelectFeatures(BaseModule):
    """Pick levels from features computed by a backbone that lives elsewhere.

    Foundation X computes the Swin features once and hands them to every
    branch. Giving the localization branch (an mmdet detector, which must have
    a backbone) this module as its backbone lets mmdet's own ``extract_feat``,
    ``loss`` and ``predict`` run unchanged on the shared features.

    Args:
        in_index (Sequence[int]): Which levels of the shared features to pass
            on, e.g. ``(1, 2, 3)`` for Swin stages 1..3 (strides 8/16/32).
    """

    def __init__(self, in_index: Sequence[int], init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_index = tuple(in_index)

    def forward(self, feats: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Select levels.

        Args:
            feats (Sequence[Tensor]): Shared multi-level features, each
                (B, C_i, H_i, W_i).

        Returns:
            tuple[Tensor]: ``feats[i]`` for ``i`` in ``in_index``.
        """
        if not isinstance(feats, (tuple, list)):
            raise TypeError(
                'SelectFeatures expects the tuple of shared backbone features, '
                f'got {type(feats).__name__}; the localization branch inside '
                'FoundationX does not take images.')
        return tuple(feats[i] for i in self.in_index)
