"""UPerNet body shared by all segmentation datasets, one classifier each."""
from typing import Dict, List, Mapping, Sequence, Tuple, Union

from mmengine.model import normal_init
from mmseg.models.decode_heads import UPerHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..utils.dataset_routing import (DatasetRoutingMixin, check_dataset_names,
                                     dataset_of, num_classes_of)


@MODELS.register_module()
class MultiHeadUPerHead(DatasetRoutingMixin, UPerHead):
    """mmseg's UPerHead with one 1x1 classifier (``conv_seg``) per dataset.

    The UPerNet body (PPM, FPN, fused bottleneck) is mmseg's and shared; each
    segmentation dataset has its own ``per_dataset.<name>.conv_seg`` with its
    own class count. Classes are independent sigmoids -- a pixel may carry
    several labels (a clavicle over a lung) -- so ground truth is a multi-label
    mask of shape (C, H, W) per image and the losses are per-pixel binary
    losses (soft Dice, optionally BCE), e.g. mmdet's ``DiceLoss`` and
    ``CrossEntropyLoss(use_sigmoid=True)``, which accept same-shape targets.

    Args:
        datasets (Mapping[str, int | Sequence[str]]): Segmentation datasets,
            each with its class count or class names.
        dice_per_class (bool): Compute the losses per (image, class) mask, so a
            small class (a clavicle) weighs as much as a large one (a lung).
            False pools all classes of an image into one Dice term, as mmseg's
            DiceLoss does. Defaults to True.
        threshold (float): Sigmoid probability above which a pixel is
            predicted positive. Defaults to 0.5.
        **kwargs: Everything mmseg's UPerHead takes except num_classes and
            out_channels (set per dataset).
    """

    routed_parts = ('conv_seg', )

    def __init__(self,
                 datasets: Mapping[str, Union[int, Sequence[str]]],
                 dice_per_class: bool = True,
                 threshold: float = 0.5,
                 **kwargs) -> None:
        num_classes = {name: num_classes_of(spec)
                       for name, spec in dict(datasets).items()}
        names = check_dataset_names(num_classes, 'MultiHeadUPerHead')
        for key in ('num_classes', 'out_channels'):
            if key in kwargs:
                raise ValueError(f'MultiHeadUPerHead: {key} is set per dataset '
                                 'from `datasets`; remove it from the config.')
        first = num_classes[names[0]]
        super().__init__(
            num_classes=first, out_channels=first, threshold=threshold,
            **kwargs)
        self.dice_per_class = dice_per_class
        self._take_over_parts(names[0], {
            name: dict(conv_seg=nn.Conv2d(self.channels, n, kernel_size=1))
            for name, n in num_classes.items() if name != names[0]
        })

    @property
    def num_classes_of(self) -> Dict[str, int]:
        """dict[str, int]: Class count of every segmentation dataset."""
        return {name: parts['conv_seg'].out_channels
                for name, parts in self.per_dataset.items()}

    def init_weights(self) -> None:
        """mmseg's init for the body; mmseg's N(0, 0.01) for every classifier.

        mmseg's default init_cfg reaches ``conv_seg`` by name, i.e. only the
        routed dataset's classifier, so every classifier is set here.
        """
        super().init_weights()
        for parts in self.per_dataset.values():
            normal_init(parts['conv_seg'], mean=0, std=0.01, bias=0)

    def loss(self, inputs: Tuple[Tensor], batch_data_samples: List,
             train_cfg: dict) -> dict:
        """Route to the samples' dataset, then mmseg's ``loss``."""
        self.route(dataset_of(batch_data_samples, task='seg'))
        return super().loss(inputs, batch_data_samples, train_cfg)

    def predict(self, inputs: Tuple[Tensor], batch_img_metas: List[dict],
                test_cfg: dict) -> Tensor:
        """Route to the dataset named in the image metas, then mmseg's."""
        names = {meta.get('dataset') for meta in batch_img_metas}
        if len(names) != 1 or None in names:
            raise ValueError('MultiHeadUPerHead.predict needs one dataset name '
                             f"in the image metas' 'dataset', got {names}.")
        self.route(names.pop())
        return super().predict(inputs, batch_img_metas, test_cfg)

    def loss_by_feat(self, seg_logits: Tensor,
                     batch_data_samples: List) -> Dict[str, Tensor]:
        """Multi-label losses of the routed dataset's logits.

        Args:
            seg_logits (Tensor): Logits of shape (B, C, h, w).
            batch_data_samples (list[SegDataSample]): Samples whose
                ``gt_sem_seg.data`` is a 0/1 mask of shape (C, H, W).

        Returns:
            dict[str, Tensor]: One entry per configured loss.
        """
        seg_label = self._stack_batch_gt(batch_data_samples)
        num_classes = seg_logits.shape[1]
        if seg_label.dim() != 4 or seg_label.shape[1] != num_classes:
            raise ValueError(
                f'Segmentation dataset {self.active_dataset!r}: ground-truth '
                f'masks have shape {tuple(seg_label.shape[1:])} per image, '
                f'expected ({num_classes}, H, W) -- one 0/1 channel per class '
                f'of its head ({num_classes} classes).')
        seg_logits = resize(
            seg_logits, size=seg_label.shape[2:], mode='bilinear',
            align_corners=self.align_corners)
        target = seg_label.to(seg_logits.dtype)
        # One row per (image, class) mask, or per image with all classes.
        rows = seg_logits.shape[0] * (num_classes if self.dice_per_class else 1)
        logits, target = seg_logits.reshape(rows, -1), target.reshape(rows, -1)
        losses_decode = self.loss_decode if isinstance(
            self.loss_decode, nn.ModuleList) else [self.loss_decode]
        losses = {}
        for loss_module in losses_decode:
            name = getattr(loss_module, 'loss_name', None) or (
                'loss_' + type(loss_module).__name__.replace('Loss', '').lower())
            value = loss_module(logits, target)
            losses[name] = losses[name] + value if name in losses else value
        return losses

