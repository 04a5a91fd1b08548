"""Multi-label segmentation dataset of the prepared layout."""
import os.path as osp
from typing import List

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS


@DATASETS.register_module()
class CXRSegDataset(BaseSegDataset):
    """Images with one binary mask per class, from a prepared ``seg/*.txt``.

    The split file lists image file names (relative to ``img_path``); each
    image has a mask per class at ``<seg_map_path>/<class>/<stem>.png``.
    :class:`LoadMultiLabelMasks` stacks them into one (H, W, C) map, since a
    pixel may carry several classes (a clavicle over a lung).

    Args:
        ann_file (str): The split list, relative to ``data_root``.
        classes (Sequence[str]): Class names in head order.
        data_root (str): The prepared dataset folder.
        data_prefix (dict): ``img_path`` and ``seg_map_path`` folders.
        **kwargs: As mmseg's BaseSegDataset.
    """

    def __init__(self, ann_file: str, classes, data_root: str = '',
                 data_prefix: dict = dict(
                     img_path='images', seg_map_path='seg/masks'),
                 **kwargs) -> None:
        super().__init__(
            ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
            metainfo=dict(classes=tuple(classes)), **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the split list."""
        img_dir = self.data_prefix['img_path']
        mask_dir = self.data_prefix['seg_map_path']
        with open(self.ann_file) as f:
            names = [line.strip() for line in f if line.strip()]
        if not names:
            raise ValueError(f'{self.ann_file}: no images listed.')
        classes = list(self.metainfo['classes'])
        return [
            dict(img_path=osp.join(img_dir, name), seg_map_dir=mask_dir,
                 seg_stem=osp.splitext(name)[0], classes=classes,
                 seg_map_path=None, label_map=None, reduce_zero_label=False,
                 seg_fields=[]) for name in names
        ]
