"""The Foundation X reference code's UPerNet variant, one classifier per
dataset."""
from typing import List, Mapping, Optional, Sequence, Tuple, Union

import torch
from mmcv.cnn import ConvModule
from mmengine.model import ModuleDict, normal_init
from mmseg.models.decode_heads.psp_head import PPM
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor, nn

from .multi_head_uper_head import MultiHeadUPerHead


@MODELS.register_module()
class ReferenceUPerHead(MultiHeadUPerHead):
    """UPerNet as the reference code builds it, at MultiHeadUPerHead's seams.

    The reference (``PSPModule`` / ``FPN_fuse`` in
    ``swin_transformer_CyclicSegmentation.py`` of jlianglab/Foundation_X)
    differs from mmseg's UPerHead in layout, not in kind; with mmseg's
    ``PPM`` and ``ConvModule`` (C = ``channels`` = ``in_channels[0]``,
    T = ``in_channels[-1]``):

    - PPM on the last stage with pool scales (1, 2, 4, 6), each branch
      1x1 T -> T/4 + BN + ReLU; its bottleneck is 3x3 2T -> T + BN + ReLU,
      followed by Dropout2d(0.1) (mmseg: branches and bottleneck at C).
    - Laterals only for stages 1..3 (the PPM output for stage 3): 1x1 convs
      with bias, no norm or activation; stage 0 enters as it is, which is why
      C must equal its channels.
    - Top-down path not cumulative: level i gets level i+1's *lateral*
      upsampled and added (mmseg adds the already-merged map).
    - One 3x3 conv with bias (no norm) smooths levels 0..2: the reference's
      ``smooth_conv`` is one module listed three times, so is ``fpn_convs``
      here (one set of weights, three state-dict entries).
    - Fusion 3x3 4C -> C + BN + ReLU; interpolations inside the body use
      ``align_corners=True``; the logits are resized with ``align_corners``
      (False, as the reference's final upsampling).
    - Classifiers are 3x3 convs C -> C_d (``kernel_size``).

    With Swin-B (C = 128, T = 1024) the body has 20,894,464 parameters
    (paper Table 9) and a head 1,153 per class.

    Args:
        datasets (Mapping[str, int | Sequence[str]]): Segmentation datasets.
        pool_scales (Sequence[int]): PPM pooling sizes.
            Defaults to (1, 2, 4, 6).
        psp_dropout (float): Dropout2d after the PPM bottleneck.
            Defaults to 0.1.
        body_align_corners (bool): ``align_corners`` of the body's
            interpolations. Defaults to True.
        kernel_size (int): Kernel of the classifiers. Defaults to 3.
        spare_heads (Mapping[str, int], optional): Classifiers held for the
            checkpoint but serving no dataset (name -> classes), in
            ``spare_heads``; the released reference has six heads of which
            pretraining uses three.
        **kwargs: MultiHeadUPerHead's arguments (``dropout_ratio`` before the
            classifier should be 0: the reference has none).
    """

    def __init__(self,
                 datasets: Mapping[str, Union[int, Sequence[str]]],
                 pool_scales: Sequence[int] = (1, 2, 4, 6),
                 psp_dropout: float = 0.1,
                 body_align_corners: bool = True,
                 kernel_size: int = 3,
                 spare_heads: Optional[Mapping[str, int]] = None,
                 **kwargs) -> None:
        # UPerHead's __init__ builds mmseg's body; it is replaced below.
        super().__init__(datasets, pool_scales=tuple(pool_scales), **kwargs)
        channels, top = self.channels, self.in_channels[-1]
        if self.in_channels[0] != channels:
            raise ValueError(
                f'ReferenceUPerHead: channels ({channels}) must equal the '
                f'first stage\'s in_channels ({self.in_channels[0]}): the '
                'reference feeds that stage to the FPN without a lateral '
                'conv.')
        self.body_align_corners = body_align_corners
        conv = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg)
        plain = dict(conv_cfg=self.conv_cfg, norm_cfg=None, act_cfg=None)
        psp_channels = top // len(pool_scales)
        self.psp_modules = PPM(tuple(pool_scales), top, psp_channels,
                               align_corners=body_align_corners, **conv)
        self.bottleneck = ConvModule(
            top + len(pool_scales) * psp_channels, top, 3, padding=1, **conv)
        self.psp_dropout = nn.Dropout2d(psp_dropout)
        self.lateral_convs = nn.ModuleList(
            ConvModule(c, channels, 1, **plain) for c in self.in_channels[1:])
        fpn_conv = ConvModule(channels, channels, 3, padding=1, **plain)
        self.fpn_convs = nn.ModuleList([fpn_conv] * (len(self.in_channels) - 1))
        self.fpn_bottleneck = ConvModule(
            len(self.in_channels) * channels, channels, 3, padding=1, **conv)

        def classifier(n: int) -> nn.Conv2d:
            return nn.Conv2d(channels, n, kernel_size,
                             padding=kernel_size // 2)

        for name, n in self.num_classes_of.items():
            self.per_dataset[name]['conv_seg'] = classifier(n)
        self.spare_heads = ModuleDict({
            str(k): classifier(n) for k, n in dict(spare_heads or {}).items()
        }) if spare_heads else None
        self.route(self.dataset_names[0])

    def init_weights(self) -> None:
        """MultiHeadUPerHead's init, and the same for the spare heads."""
        super().init_weights()
        for head in (self.spare_heads or {}).values():
            normal_init(head, mean=0, std=0.01, bias=0)

    def psp_forward(self, inputs: List[Tensor]) -> Tensor:
        """PPM on the last stage: (B, T, h, w) -> (B, T, h, w)."""
        x = inputs[-1]
        out = self.bottleneck(torch.cat([x, *self.psp_modules(x)], dim=1))
        return self.psp_dropout(out)

    def _forward_feature(self, inputs: Tuple[Tensor]) -> Tensor:
        """The fused map the classifiers read.

        Args:
            inputs (tuple[Tensor]): Backbone features; ``in_index`` picks the
                four stages, (B, C_i, H_i, W_i).

        Returns:
            Tensor: (B, channels, H_0, W_0).
        """
        inputs = self._transform_inputs(inputs)
        tops = list(inputs[1:-1]) + [self.psp_forward(inputs)]
        laterals = [inputs[0]] + [
            conv(x) for conv, x in zip(self.lateral_convs, tops)]
        outs = [
            self.fpn_convs[i](laterals[i] + self._resize(
                laterals[i + 1], laterals[i].shape[2:]))
            for i in range(len(laterals) - 1)
        ] + [laterals[-1]]
        size = outs[0].shape[2:]
        outs = [outs[0]] + [self._resize(x, size) for x in outs[1:]]
        return self.fpn_bottleneck(torch.cat(outs, dim=1))

    def _resize(self, x: Tensor, size) -> Tensor:
        return resize(x, size=size, mode='bilinear',
                      align_corners=self.body_align_corners)
