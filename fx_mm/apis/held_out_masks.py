"""Redo the test of a few segmentation images, for drawing their masks.

The per-image results of ``tools/test.py`` keep each image's Dice counts, not
its masks (a test split's masks would be gigabytes). A report that draws a
head's worst images predicts those few again, the way the test did: the
test's config (as it ran, from the results file), its checkpoint and
predictor, the dataset's test pipeline and the model's ``test_step`` -- so
the masks drawn are the masks that were scored, with the true masks the
same pipeline loaded.
"""
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS

from fx_mm.datasets.dataset_table import dataset_cfg, find_entry
from .inferencer import FXInferencer


def _index_of_paths(dataset, paths: Sequence[str]) -> Dict[str, int]:
    """Index of each wanted image in a built dataset (by absolute path)."""
    wanted, found = {osp.abspath(p) for p in paths}, {}
    for i in range(len(dataset)):
        path = osp.abspath(dataset.get_data_info(i)['img_path'])
        if path in wanted:
            found[path] = i
    return found


def predict_seg_masks(
        config: Config, checkpoint: str, split: str,
        images: Dict[str, Sequence[str]],
        predict_with: Optional[str] = None, device: Optional[str] = None,
        batch_size: int = 4) -> Dict[Tuple[str, str],
                                     Tuple[np.ndarray, np.ndarray]]:
    """Predicted and true masks of some test images, as the test made them.

    Args:
        config (Config): The config the test ran with.
        checkpoint (str): Its checkpoint.
        split (str): The split evaluated ('test' or 'val').
        images (dict): {dataset: image paths} of segmentation cases.
        predict_with (str, optional): 'teacher' or 'student', as the test.
        device (str, optional): Torch device; default: the GPU when torch
            sees one, else the CPU.
        batch_size (int): Images per forward pass.

    Returns:
        dict: {(dataset, absolute image path): (pred, truth)}, each (C, H, W)
        uint8 at the original size; an image the split no longer lists is
        left out.
    """
    infer = FXInferencer(config, checkpoint, predict_with=predict_with,
                         device=device)
    cfg = infer.cfg
    table = (cfg.get('test_cfg') or {}).get('datasets') or cfg.fx_datasets
    pipeline = cfg.fx_pipelines['seg']['test']
    out = {}
    with torch.no_grad():  # mmengine's test_step leaves grad mode as it is
        _predict_into(out, infer, table, pipeline, images, split, batch_size)
    return out


def _predict_into(out, infer, table, pipeline, images, split, batch_size):
    """Fill ``out`` with ``(pred, gt)`` masks of ``images`` (see
    :func:`predict_seg_masks`)."""
    for dataset, paths in images.items():
        built = DATASETS.build(dataset_cfg(find_entry(table, dataset), 'seg',
                                           split, pipeline))
        index = _index_of_paths(built, paths)
        items = list(index.items())
        for start in range(0, len(items), batch_size):
            chunk = items[start:start + batch_size]
            batch = pseudo_collate([built[i] for _, i in chunk])
            for (path, _), sample in zip(chunk,
                                         infer.model.test_step(batch)):
                out[(dataset, path)] = (
                    sample.pred_sem_seg.data.cpu().numpy().astype(np.uint8),
                    sample.gt_sem_seg.data.cpu().numpy().astype(np.uint8))
