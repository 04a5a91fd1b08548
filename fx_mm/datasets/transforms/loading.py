"""Loading transforms: radiographs of any format, multi-label masks."""
import os.path as osp
import re
from typing import Dict, Optional

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
    uncertain, NaN missing (a blank cell). Policies for uncertain labels
    (Irvin et al. 2019; LSR as in Pham et al. 2021 and the Foundation X
    paper): ``'lsr-ones'`` draws U(low, high) per label and sample, by
    default U(0.55, 0.85); ``'lsr-zeros'`` the same, by default U(0, 0.3);
    ``'ones'``; ``'zeros'``; ``'ignore'`` (left out of the loss and the
    metrics). Missing labels: ``'ignore'`` or ``'negative'`` (a blank read
    as "not mentioned, so absent", as the CheXpert labeler's output is read
    in the Ark / Foundation X line of work). The dataset table sets these
    per dataset (:mod:`fx_mm.datasets.label_policy`).

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
        uncertain (str): Policy for -1 labels, one of :attr:`POLICIES`.
        missing (str): Policy for blank labels, one of
            :attr:`MISSING_POLICIES` (``'zeros'`` is the older spelling of
            ``'negative'``).
        low (float, optional): Lower end of the LSR interval; None: the
            policy's default (:attr:`LSR_RANGES`).
        high (float, optional): Upper end of the LSR interval; None: the
            policy's default.
        seed (int, optional): Run seed of the LSR key until :meth:`set_pass`
            sets one (0 if None).
    """

    POLICIES = ('lsr-ones', 'lsr-zeros', 'ones', 'zeros', 'ignore')
    MISSING_POLICIES = ('ignore', 'negative', 'zeros')
    # Default intervals of label smoothing (Pham et al. 2021, Sec. 3.3).
    LSR_RANGES = {'lsr-ones': (0.55, 0.85), 'lsr-zeros': (0.0, 0.3)}
    _FIXED = dict(ones=1.0, zeros=0.0, ignore=np.nan)

    def __init__(self, uncertain: str = 'lsr-ones', missing: str = 'ignore',
                 low: Optional[float] = None, high: Optional[float] = None,
                 seed: Optional[int] = None) -> None:
        if uncertain not in self.POLICIES:
            raise ValueError(f'uncertain={uncertain!r}; expected one of '
                             f'{self.POLICIES}.')
        if missing not in self.MISSING_POLICIES:
            raise ValueError(f'missing={missing!r}; expected one of '
                             f'{self.MISSING_POLICIES}.')
        default_low, default_high = self.LSR_RANGES.get(uncertain, (0., 1.))
        low = default_low if low is None else float(low)
        high = default_high if high is None else float(high)
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f'LSR interval low={low}, high={high}; expected '
                             '0 <= low <= high <= 1.')
        self.uncertain, self.missing = uncertain, missing
        self.low, self.high = low, high
        self.seed, self.pass_index = (0 if seed is None else int(seed)), 0

    @property
    def is_lsr(self) -> bool:
        """bool: Whether uncertain labels get drawn (soft) targets."""
        return self.uncertain in self.LSR_RANGES

    def describe(self) -> str:
        """The policy in words, for log lines."""
        uncertain = (f'{self.uncertain} U({self.low:g}, {self.high:g})'
                     if self.is_lsr else self.uncertain)
        missing = 'negative' if self.missing == 'zeros' else self.missing
        return f'uncertain: {uncertain}, blank: {missing}'

    def set_pass(self, seed: int, pass_index: int) -> None:
        """Key the LSR draws of the coming pass (called by the train loop)."""
        self.seed, self.pass_index = int(seed), int(pass_index)

    def _fixed_targets(self, raw: np.ndarray) -> np.ndarray:
        """Targets of every label the policy fixes; uncertain labels under
        an LSR policy are left at -1 for the draw."""
        score = raw.copy()
        if not self.is_lsr:
            score[raw == -1] = self._FIXED[self.uncertain]
        if self.missing != 'ignore':
            score[np.isnan(raw)] = 0.0
        return score

    def count_targets(self, raw: np.ndarray) -> Dict[str, np.ndarray]:
        """Per class, how many labels of a split become which target.

        Args:
            raw (np.ndarray): (N, C) raw labels (1 / 0 / -1 / NaN).

        Returns:
            dict[str, np.ndarray]: (C,) int counts: ``positive`` (target 1),
            ``negative`` (target 0), ``soft`` (an LSR draw), ``ignored``
            (NaN: out of the loss and the metrics), and the raw
            ``uncertain`` and ``blank`` cells they came from.
        """
        raw = np.asarray(raw, dtype=np.float32).reshape(len(raw), -1)
        score = self._fixed_targets(raw)
        soft = score == -1  # only LSR leaves -1 behind
        return dict(positive=(score == 1).sum(0), negative=(score == 0).sum(0),
                    soft=soft.sum(0), ignored=np.isnan(score).sum(0),
                    uncertain=(raw == -1).sum(0), blank=np.isnan(raw).sum(0))

    def transform(self, results: dict) -> dict:
        raw = np.asarray(results['gt_raw'], dtype=np.float32)
        score = self._fixed_targets(raw)
        unc = raw == -1
        if self.is_lsr and unc.any():
            rng = np.random.default_rng([self.seed, self.pass_index,
                                         int(results.get('sample_idx', 0))])
            score[unc] = rng.uniform(self.low, self.high, int(unc.sum()))
        results['gt_score'] = score
        return results
