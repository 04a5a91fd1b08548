"""Loading transforms: radiographs of any format, multi-label masks."""
import os.path as osp
import re
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS

from ..image_io import read_gray


def mask_folder(class_name: str) -> str:
    """The folder of a class's masks in the prepared layout: the class name,
    with characters unsafe in paths replaced (``Nodule/Mass`` ->
    ``Nodule_Mass``)."""
    folder = re.sub(r'[^A-Za-z0-9._ -]+', '_', class_name).strip()
    if not folder or folder in ('.', '..'):
        raise ValueError(f'class name {class_name!r} gives no folder name.')
    return folder


@TRANSFORMS.register_module()
class LoadCXRImage(BaseTransform):
    """Load a chest radiograph as a 3-channel uint8 image.

    PNG (8- or 16-bit), JPEG, DICOM and MHA are read by
    :func:`fx_mm.datasets.image_io.read_gray`; the gray image is repeated
    into three channels, as ImageNet-style backbones expect.

    Required keys: ``img_path``. Added keys: ``img`` (H, W, 3) uint8,
    ``img_shape``, ``ori_shape``.
    """

    def transform(self, results: dict) -> dict:
        gray = read_gray(results['img_path'])
        results['img'] = np.repeat(gray[..., None], 3, axis=2)
        results['img_shape'] = gray.shape[:2]
        results['ori_shape'] = gray.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadMultiLabelMasks(BaseTransform):
    """Load one binary mask per class into an (H, W, C) uint8 array.

    The prepared layout keeps ``<seg_map_dir>/<class folder>/<stem>.png``
    (0 / 255 or 0 / 1) for every image and class, the folder named after the
    class (:func:`mask_folder`). Channels follow the config's class list, so
    class order never depends on a directory listing, and a config may use a
    subset of a dataset's classes (e.g. the heart alone).

    Required keys: ``seg_map_dir``, ``seg_stem``, ``classes``, ``img_shape``.
    Added keys: ``gt_seg_map`` (H, W, C) uint8 in {0, 1}, ``seg_fields``.
    """

    def transform(self, results: dict) -> dict:
        h, w = results['ori_shape'][:2]
        channels = []
        for name in results['classes']:
            path = osp.join(results['seg_map_dir'], mask_folder(name),
                            results['seg_stem'] + '.png')
            mask = read_gray(path)
            if mask.shape != (h, w):
                raise ValueError(
                    f'{path}: mask of class {name!r} is {mask.shape[1]}x'
                    f'{mask.shape[0]}, its image {results["img_path"]} is '
                    f'{w}x{h}.')
            channels.append(mask > 0)
        results['gt_seg_map'] = np.stack(channels, axis=2).astype(np.uint8)
        results.setdefault('seg_fields', []).append('gt_seg_map')
        return results


@TRANSFORMS.register_module()
class ResolveUncertainLabels(BaseTransform):
    """Turn raw classification labels into training targets.

    Raw labels follow the prepared CSVs: 1 positive, 0 negative, -1
    uncertain, NaN missing. Policies for uncertain labels (Irvin et al. 2019;
    LSR as in the Foundation X paper): ``'lsr-ones'`` draws U(low, high) per
    label and sample, ``'ones'``, ``'zeros'``, ``'ignore'`` (left out of the
    loss). Missing labels become ``missing`` (``'ignore'`` or ``'zeros'``).

    The LSR draws come from a generator keyed by (run seed, pass, sample
    index) -- not from a generator state that dataloader workers would copy
    (two workers drawing the same values), that a new pass would start
    afresh (every pass replaying the first) or that a checkpoint would not
    hold (``--resume`` drawing other values). :class:`CyclicTrainLoop` sets
    the run seed and the pass with :meth:`set_pass` before each pass; so a
    sample's soft labels change from pass to pass, and are the same for any
    number of workers and after resuming.

    Required keys: ``gt_raw`` (C,) float; ``sample_idx`` (set by mmengine's
    datasets) for the LSR key. Added keys: ``gt_score`` (C,) float with NaN
    where the loss ignores the label.

    Args:
        uncertain (str): Policy for -1 labels.
        missing (str): Policy for blank labels.
        low (float): Lower end of the LSR interval.
        high (float): Upper end of the LSR interval.
        seed (int, optional): Run seed of the LSR key until :meth:`set_pass`
            sets one (0 if None).
    """

    POLICIES = ('lsr-ones', 'ones', 'zeros', 'ignore')

    def __init__(self, uncertain: str = 'lsr-ones', missing: str = 'ignore',
                 low: float = 0.55, high: float = 0.85,
                 seed: Optional[int] = None) -> None:
        if uncertain not in self.POLICIES:
            raise ValueError(f'uncertain={uncertain!r}; expected one of '
                             f'{self.POLICIES}.')
        if missing not in ('ignore', 'zeros'):
            raise ValueError(f"missing={missing!r}; expected 'ignore' or "
                             "'zeros'.")
        self.uncertain, self.missing = uncertain, missing
        self.low, self.high = low, high
        self.seed, self.pass_index = (0 if seed is None else int(seed)), 0

    def set_pass(self, seed: int, pass_index: int) -> None:
        """Key the LSR draws of the coming pass (called by the train loop)."""
        self.seed, self.pass_index = int(seed), int(pass_index)

    def transform(self, results: dict) -> dict:
        raw = np.asarray(results['gt_raw'], dtype=np.float32)
        score = raw.copy()
        unc = raw == -1
        if self.uncertain == 'lsr-ones':
            if unc.any():
                rng = np.random.default_rng([self.seed, self.pass_index,
                                             int(results.get('sample_idx', 0))])
                score[unc] = rng.uniform(self.low, self.high, int(unc.sum()))
        else:
            score[unc] = dict(ones=1.0, zeros=0.0, ignore=np.nan)[
                self.uncertain]
        if self.missing == 'zeros':
            score[np.isnan(raw)] = 0.0
        results['gt_score'] = score
        return results
