"""One data preprocessor for classification, detection and segmentation."""
from typing import Sequence

import torch.nn.functional as F
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.registry import MODELS
from mmengine.structures import PixelData


@MODELS.register_module()
class FXDataPreprocessor(DetDataPreprocessor):
    """mmdet's DetDataPreprocessor that also pads mmseg-style masks.

    Normalisation, BGR->RGB, padding to a size divisor and the
    ``batch_input_shape`` / ``pad_shape`` metainfo that DINO needs are mmdet's,
    and work for mmpretrain and mmseg samples alike. mmdet pads masks stored as
    ``gt_sem_seg.sem_seg``; mmseg's PackSegInputs stores them as
    ``gt_sem_seg.data``, here multi-label (C, H, W). This pads either, keeping
    the field name, so a mask stays aligned with its padded image.
    """

    def pad_gt_sem_seg(self, batch_data_samples: Sequence) -> None:
        """Pad each sample's ``gt_sem_seg`` to its ``batch_input_shape``."""
        for sample in batch_data_samples:
            if 'gt_sem_seg' not in sample:
                continue
            field = 'data' if 'data' in sample.gt_sem_seg else 'sem_seg'
            mask = getattr(sample.gt_sem_seg, field)
            h, w = mask.shape[-2:]
            pad_h, pad_w = sample.batch_input_shape
            mask = F.pad(
                mask, pad=(0, max(pad_w - w, 0), 0, max(pad_h - h, 0)),
                mode='constant', value=self.seg_pad_value)
            sample.gt_sem_seg = PixelData(**{field: mask})
