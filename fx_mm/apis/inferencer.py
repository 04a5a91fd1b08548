"""Run a trained Foundation X on new radiographs (like mmdet's DetInferencer)."""
import copy
import os
import os.path as osp
from typing import List, Optional, Union

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.registry import init_default_scope

from fx_mm.datasets.image_io import ImageReadError, read_gray, to_uint8
from fx_mm.utils import build_initialised_model, build_model_from_cfg
from fx_mm.utils.checkpoint_parts import (checkpoint_state, holds_teacher,
                                          predictor_for, read_checkpoint)

# A classification head whose validation AUC is at most this is reported as
# at chance next to its outputs.
CHANCE_AUC = 0.6

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.dcm', '.dicom', '.mha', '.tif',
                  '.tiff', '.bmp')


def list_inputs(inputs) -> list:
    """Expand folders (sorted, image suffixes only) and wrap single inputs."""
    if isinstance(inputs, (str, np.ndarray)):
        inputs = [inputs]
    items = []
    for item in inputs:
        if isinstance(item, str) and osp.isdir(item):
            items += sorted(
                osp.join(item, f) for f in os.listdir(item)
                if f.lower().endswith(IMAGE_SUFFIXES))
        else:
            items.append(item)
    return items


def load_fitting_checkpoint(model: torch.nn.Module, checkpoint: str,
                            state: Optional[dict] = None) -> None:
    """Load weights that must fit the model exactly; say what does not.

    Args:
        model (nn.Module): The model.
        checkpoint (str): The file (read unless ``state`` is given).
        state (dict, optional): Its state dict, already read.

    Raises:
        ValueError: Naming the checkpoint and the missing, unexpected or
            mis-shaped keys.
    """
    if state is None:
        state = checkpoint_state(checkpoint)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state)
                    if own[k].shape != state[k].shape)
    if missing or unexpected or shapes:
        def few(keys):
            return ', '.join(keys[:5]) + (' ...' if len(keys) > 5 else '')
        raise ValueError(
            f'{checkpoint} does not fit this config: {len(missing)} missing '
            f'keys [{few(missing)}], {len(unexpected)} unexpected keys '
            f'[{few(unexpected)}], {len(shapes)} of another shape '
            f'[{few(shapes)}]. Was it trained with another config?')
    model.load_state_dict(state)


class FXInferencer:
    """Predict every head of a Foundation X on images.

    Args:
        config (str | Config): The model's config.
        checkpoint (str, optional): Weights (the training checkpoint; the
            teacher predicts unless ``predict_with='student'``). None: the
            weights training starts from (initialised with seed 0), for
            tests and timing.
        predict_with (str, optional): 'teacher' or 'student'; None: the
            config's ``model.predict_with`` when the checkpoint holds a
            teacher, else the student.
        device (str, optional): Torch device; None (the default) takes the
            GPU when torch sees one, else the CPU.

    Example:
        >>> infer = FXInferencer('configs/tiny/fx_covid_demo.py', 'work_dirs/demo/epoch_50.pth')
        >>> results = infer(['a.png', 'b.dcm'])
        >>> results[0]['cls']['CovidLungs']['COVID-19']
    """

    def __init__(self, config: Union[str, Config],
                 checkpoint: Optional[str] = None,
                 predict_with: Optional[str] = None,
                 device: Optional[str] = None) -> None:
        cfg = Config.fromfile(config) if isinstance(config, str) else config
        cfg = copy.deepcopy(cfg)
        init_default_scope(cfg.get('default_scope', 'mmdet'))
        self.val_metrics = None
        if checkpoint is not None:
            # Follow the checkpoint: without teacher weights, the student
            # predicts (never an untrained teacher).
            state, meta = read_checkpoint(checkpoint)
            self.val_metrics = meta.get('fx_val_metrics')
            predict_with = predictor_for(
                checkpoint, state, predict_with,
                cfg.model.get('predict_with', 'teacher'))
            if not holds_teacher(state):
                cfg.model.teacher = False
        self.cfg = cfg
        if checkpoint is None:
            # Built but not initialised, some parameters would be whatever
            # memory held (mmdet's DINO makes its level embedding with
            # torch.Tensor(n, c)): NaN boxes now and then. The weights
            # training starts from instead, without touching the caller's
            # generator.
            with torch.random.fork_rng(devices=[]):
                self.model = build_initialised_model(cfg)
        else:
            self.model = build_model_from_cfg(cfg)
        if checkpoint is not None:
            load_fitting_checkpoint(self.model, checkpoint, state)
            del state
        if predict_with is not None:
            self.model.predict_with = predict_with
        if device is None:
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        self.device = device
        self.model.to(device).eval()
        self.classes = {
            task: {e['name']: list(e[task]['classes']) for e in cfg.model.datasets
                   if e.get(task)} for task in ('cls', 'loc', 'seg')}
        self.pipeline = Compose([
            self._resize_of(cfg),
            dict(type='PackDetInputs',
                 meta_keys=('img_path', 'ori_shape', 'img_shape',
                            'scale_factor'))
        ])
        # The same for every image: worked out once.
        self._validation = self.validation()

    def validation(self) -> dict:
        """The checkpoint's validation metrics per head, and cautions.

        Returns:
            dict: ``pass_`` (the pass validated; None when the checkpoint
            has no metrics), ``metrics`` {dataset: {task: {metric: value}}},
            ``at_chance`` {dataset: validation AUC} of the classification
            heads at chance (AUC <= 0.6) and ``cautions`` (one sentence
            each).
        """
        out = dict(pass_=None, metrics={}, at_chance={}, cautions=[])
        if not self.val_metrics:
            return out
        out['pass_'] = self.val_metrics.get('pass_')
        for key, value in self.val_metrics.get('metrics', {}).items():
            parts = key.split('/')
            if len(parts) == 3:  # dataset/task/metric, not per class
                out['metrics'].setdefault(parts[0], {}).setdefault(
                    parts[1], {})[parts[2]] = value
        for dataset in self.classes['cls']:
            auc = out['metrics'].get(dataset, {}).get('cls', {}).get('AUC')
            if auc is not None and auc <= CHANCE_AUC:
                out['at_chance'][dataset] = auc
                out['cautions'].append(
                    f'{dataset}: classification at chance (validation AUC '
                    f'{auc:.2f} at pass {out["pass_"]}); its probabilities '
                    'carry no information')
        return out

    @staticmethod
    def _resize_of(cfg: Config) -> dict:
        """The test-time Resize of the config's pipelines."""
        for t in cfg.get('fx_pipelines', {}).get('loc', {}).get('test', []):
            if t['type'] == 'Resize':
                return dict(t)
        size = cfg.model.backbone.get('img_size', 224)
        return dict(type='Resize', scale=(size, size), keep_ratio=False)

    def _prepare(self, item) -> dict:
        """One input as pipeline results: (H, W, 3) uint8 and its gray."""
        if isinstance(item, np.ndarray):
            gray = item if item.ndim == 2 else item[..., 0]
            gray, path = to_uint8(gray, '<array>'), '<array>'
        else:
            gray, path = read_gray(str(item)), str(item)
        results = dict(img=np.repeat(gray[..., None], 3, axis=2),
                       img_shape=gray.shape, ori_shape=gray.shape,
                       img_path=path)
        return self.pipeline(results), gray

    @torch.no_grad()
    def __call__(self, inputs, batch_size: int = 4) -> List[dict]:
        """Predict.

        Args:
            inputs: A path, an (H, W) array, a folder, or a list of these.
            batch_size (int): Images per forward pass.

        Returns:
            list[dict]: Per image: ``path``, ``image`` (the gray (H, W)
            array), ``cls`` {dataset: {class: probability}}, ``loc``
            {dataset: [{'bbox': [x1, y1, x2, y2], 'score', 'label',
            'class'}]}, ``seg`` {dataset: {class: (H, W) uint8 mask}},
            ``validation`` (the checkpoint's validation metrics and
            cautions, :meth:`validation`); or
            ``path`` and ``error`` for an input that could not be read.
        """
        results, batch = [], []
        for item in list_inputs(inputs):
            try:
                batch.append((item, *self._prepare(item)))
            except (ImageReadError, OSError, ValueError) as e:
                results.append(dict(path=str(item) if isinstance(item, str)
                                    else '<array>', error=str(e)))
                continue
            if len(batch) == batch_size:
                results += self._run(batch)
                batch = []
        if batch:
            results += self._run(batch)
        return results

    def _run(self, batch) -> List[dict]:
        data = dict(inputs=[b[1]['inputs'] for b in batch],
                    data_samples=[b[1]['data_samples'] for b in batch])
        data = self.model.data_preprocessor(data, False)
        preds = self.model.predict_all(data['inputs'], data['data_samples'])
        out = []
        for (item, _, gray), pred in zip(batch, preds):
            result = dict(path=item if isinstance(item, str) else '<array>',
                          image=gray, cls={}, loc={}, seg={},
                          validation=self._validation)
            # One device-to-host copy per output tensor: on a GPU, float()
            # or int() of each value would copy and synchronise once per
            # coordinate, score, label and probability.
            for name, probs in pred['cls'].items():
                result['cls'][name] = dict(zip(self.classes['cls'][name],
                                               _to_host(probs).tolist()))
            for name, inst in pred['loc'].items():
                names = self.classes['loc'][name]
                boxes = _to_host(inst.bboxes).tolist()
                scores = _to_host(inst.scores).tolist()
                labels = _to_host(inst.labels).tolist()
                result['loc'][name] = [
                    {'bbox': [round(v, 1) for v in box], 'score': score,
                     'label': int(label), 'class': names[int(label)]}
                    for box, score, label in zip(boxes, scores, labels)]
            for name, masks in pred['seg'].items():
                result['seg'][name] = dict(zip(self.classes['seg'][name],
                                               _to_host(masks).numpy()))
            out.append(result)
        return out


def _to_host(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor on the CPU, copied in one transfer (itself if there)."""
    return tensor.detach().cpu()
