"""Synthetic batches in the toolboxes' sample formats.

For model unit tests and compute benchmarks: tensors of the real shapes and
formats with random content. Training tests and data benchmarks use the real
dataset classes and pipelines on real radiographs instead.
"""
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData, PixelData
from mmpretrain.structures import DataSample
from mmseg.structures import SegDataSample


def make_batch(task: str, dataset: str, num_classes: int, size: int = 64,
               batch_size: int = 2, seed: int = 0, num_boxes: int = 2) -> dict:
    """A batch as a dataloader gives it: uint8 images and data samples.

    Args:
        task (str): 'cls', 'loc' or 'seg'.
        dataset (str): Dataset name written into the metainfo.
        num_classes (int): Classes of the dataset's head.
        size (int): Image side in pixels.
        batch_size (int): Number of images.
        seed (int): Seed of the random content.
        num_boxes (int): Boxes per image (localization).

    Returns:
        dict: ``inputs`` (list of (3, size, size) uint8 tensors) and
        ``data_samples``.
    """
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(batch_size):
        inputs.append(torch.randint(0, 256, (3, size, size), generator=g,
                                    dtype=torch.uint8))
        meta = dict(dataset=dataset, task=task, img_shape=(size, size),
                    ori_shape=(size, size), scale_factor=(1.0, 1.0),
                    img_path=f'synthetic_{dataset}.png')
        if task == 'cls':
            sample = DataSample(metainfo=meta)
            sample.set_gt_score(
                (torch.rand(num_classes, generator=g) > 0.5).float())
        elif task == 'loc':
            sample = DetDataSample(metainfo=meta)
            xy = torch.rand(num_boxes, 2, generator=g) * size / 2
            wh = torch.rand(num_boxes, 2, generator=g) * size / 3 + 4
            sample.gt_instances = InstanceData(
                bboxes=torch.cat([xy, xy + wh], dim=1),
                labels=torch.randint(0, num_classes, (num_boxes, ),
                                     generator=g))
        else:
            sample = SegDataSample(metainfo=meta)
            sample.gt_sem_seg = PixelData(data=(torch.rand(
                num_classes, size, size, generator=g) > 0.5).to(torch.uint8))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
