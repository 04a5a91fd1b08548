"""Foundation X: one Swin backbone, classification / localization / segmentation
branches with per-dataset heads, and an EMA teacher for feature consistency."""
import copy
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.model import BaseModel, ModuleDict
from mmengine.structures import PixelData
from torch import Tensor, nn

from ..utils.activation_checkpoint import checkpoint_modules
from ..utils.dataset_routing import (check_dataset_names, dataset_of,
                                     num_classes_of)

TASKS = ('cls', 'loc', 'seg')

# Feature places where student and teacher are compared (paper Sec. 3.3).
CONSISTENCY_PLACES = ('backbone', 'loc_encoder', 'seg_decoder')

# Parts whose blocks activation checkpointing can cover.
CHECKPOINT_PARTS = ('backbone', 'loc_encoder', 'loc_decoder')


def classes_by_task(datasets: Sequence[Mapping]) -> Dict[str, Dict[str, list]]:
    """Split a dataset table into the class lists of each task.

    Args:
        datasets (Sequence[Mapping]): The config's dataset table: entries like
            ``dict(name='SIIM-ACR', cls=dict(classes=[...]), loc=dict(...),
            seg=dict(...))``; a task a dataset has no labels for is absent.

    Returns:
        dict: ``{task: {dataset name: class names}}`` in table order.

    Raises:
        ValueError: On an entry without a name or a task without classes.
    """
    table = {task: {} for task in TASKS}
    for i, entry in enumerate(datasets):
        name = entry.get('name')
        if not name:
            raise ValueError(f'Dataset table entry {i} has no name: {entry}.')
        for task in TASKS:
            if entry.get(task) is None:
                continue
            classes = entry[task].get('classes')
            if not classes:
                raise ValueError(
                    f"Dataset {name!r}, task {task!r}: no 'classes' given.")
            table[task][name] = list(classes)
    return table


def task_of(batch_data_samples: Sequence) -> str:
    """The one task (``cls`` / ``loc`` / ``seg``) a batch's samples carry.

    Raises:
        ValueError: If a sample has no task, an unknown task, or the batch
            mixes tasks.
    """
    if not batch_data_samples:
        raise ValueError('Foundation X got an empty batch.')
    tasks = {s.metainfo.get('task') for s in batch_data_samples}
    if len(tasks) > 1:
        raise ValueError(f'A batch mixes tasks {sorted(map(str, tasks))}; '
                         'Foundation X trains one (dataset, task) per batch.')
    task = tasks.pop()
    if task not in TASKS:
        raise ValueError(
            f"A data sample's 'task' metainfo is {task!r}; expected one of "
            f'{TASKS} (set by the AnnotateDataset transform).')
    return task


@MODELS.register_module()
class FoundationX(BaseModel):
    """The Foundation X multitask model.

    A Swin backbone (stages 0..3) feeds three optional branches; which are
    present makes the model X-C, X-L, X-S, X-CL, X-LS or X-CLS:

    - ``classification``: one linear head per dataset on the globally pooled,
      normed last stage (``cls_heads.<dataset>``).
    - ``localization``: a :class:`MultiDecoderDINO` -- ChannelMapper neck and
      deformable encoder shared, one DINO decoder per dataset
      (``loc.per_dataset.<dataset>``) -- on stages 1..3.
    - ``segmentation``: a :class:`MultiHeadUPerHead` -- UPerNet body shared,
      one 1x1 classifier per dataset (``seg.per_dataset.<dataset>``) -- on
      stages 0..3.

    Each batch carries one ``(dataset, task)`` in its samples' metainfo and is
    routed to that branch and head. The teacher (``teacher.*``) is a copy of
    the four student parts, never trained by gradient: it is updated by EMA
    (:meth:`update_teacher`, called by the training hooks), runs in eval mode
    without autograd, and gives the consistency targets: MSE between student
    and teacher at the backbone output (all stages), the localization encoder
    memory and the segmentation decoder's fused features. Predictions come
    from the teacher unless ``predict_with='student'``.

    Args:
        backbone (dict): Backbone config, e.g. ``mmpretrain.SwinTransformer``
            with ``out_indices=(0, 1, 2, 3)``.
        datasets (Sequence[dict], optional): The dataset table (see
            :func:`classes_by_task`). When given, it sets the ``datasets`` of
            every branch; a branch whose task no dataset has is left out, so
            the same base config serves X-C ... X-CLS. Building needs only
            the class lists, never the data.
        classification (dict, optional): ``datasets`` (name -> class names or
            count), ``head`` (config of one head, ``num_classes`` filled per
            dataset) and ``neck`` (pooling). None for no classification.
        localization (dict, optional): Config of the localization branch
            (a MultiDecoderDINO whose backbone is ``SelectFeatures``).
        segmentation (dict, optional): Config of the segmentation branch
            (a MultiHeadUPerHead).
        teacher (bool): Keep an EMA teacher. Defaults to True.
        consistency (dict, optional): ``places`` (subset of
            ``('backbone', 'loc_encoder', 'seg_decoder')``), ``weight`` of the
            consistency term and ``task_weight`` of the task loss (paper and
            reference code: 0.5 and 0.5), ``normalize`` (default True: the
            compared features are L2-normalised over channels first, as the
            reference code does, so the term does not depend on the
            features' scale). The loss is ``task_weight * task + weight *
            mean over the pass's trainable places of MSE``, with the same
            task weight in every pass (a lock pass, whose places are all
            frozen, adds no consistency term but keeps the weight).
            Ignored without a teacher. None or empty ``places`` turns it
            off; the task loss then has weight 1.
        predict_with (str): ``'teacher'`` or ``'student'``.
        frozen (Sequence[str]): Student parts frozen for the whole run, by
            name prefix (e.g. ``('backbone', 'loc.encoder', 'loc.neck')`` for
            head-only fine-tuning, paper Fig. 3). Frozen before the
            optimizer is built, they get no optimizer group and no gradient.
        activation_checkpointing (bool | Sequence[str]): Blocks whose
            activations are recomputed in backward instead of kept: any of
            ``('backbone', 'loc_encoder', 'loc_decoder')`` -- the Swin blocks,
            the deformable encoder layers, every dataset's decoder layers --
            or True for all. Less memory for one more forward of those
            blocks; weights, names and results are unchanged (see
            :mod:`fx_mm.models.utils.activation_checkpoint`). Defaults to ().
        data_preprocessor (dict, optional): E.g. mmdet's DetDataPreprocessor
            (it handles images, boxes and, with ``pad_seg``, masks).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 datasets: Optional[Sequence[dict]] = None,
                 classification: Optional[dict] = None,
                 localization: Optional[dict] = None,
                 segmentation: Optional[dict] = None,
                 teacher: bool = True,
                 consistency: Optional[dict] = None,
                 predict_with: str = 'teacher',
                 frozen: Sequence[str] = (),
                 activation_checkpointing: Union[bool, Sequence[str]] = (),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if datasets is not None:
            table = classes_by_task(datasets)
            classification, localization, segmentation = (
                dict(cfg, datasets=table[task]) if cfg and table[task] else None
                for cfg, task in ((classification, 'cls'),
                                  (localization, 'loc'), (segmentation, 'seg')))
        if not (classification or localization or segmentation):
            raise ValueError('FoundationX needs at least one of '
                             'classification, localization, segmentation.')
        self.backbone = MODELS.build(backbone)
        self.cls_heads = self.cls_neck = self.loc = self.seg = None
        if classification:
            self.cls_neck = MODELS.build(classification.get(
                'neck', dict(type='mmpretrain.GlobalAveragePooling')))
            self.cls_heads = self._build_cls_heads(classification)
        if localization:
            self.loc = MODELS.build(localization)
        if segmentation:
            self.seg = MODELS.build(segmentation)

        consistency = dict(consistency or {})
        places = tuple(consistency.get('places', ()))
        unknown = sorted(set(places) - set(CONSISTENCY_PLACES))
        if unknown:
            raise ValueError(f'consistency.places: unknown {unknown}; choose '
                             f'from {CONSISTENCY_PLACES}.')
        self.consistency_places = places if teacher else ()
        self.consistency_weight = float(consistency.get('weight', 0.5))
        self.task_weight = float(consistency.get('task_weight', 0.5)) \
            if self.consistency_places else 1.0
        self.consistency_normalize = bool(consistency.get('normalize', True))
        if predict_with not in ('teacher', 'student'):
            raise ValueError("predict_with must be 'teacher' or 'student', "
                             f'got {predict_with!r}.')
        self.predict_with = predict_with if teacher else 'student'

        self.frozen = tuple(frozen)
        self._freeze(self.frozen)
        # Norm layers kept in eval mode while training (set_frozen_norms).
        self._frozen_norms: Tuple[nn.Module, ...] = ()
        self.activation_checkpointing = self._checkpoint_blocks(
            activation_checkpointing)

        self.teacher = None
        if teacher:
            self.teacher = ModuleDict({
                name: copy.deepcopy(part)
                for name, part in self.student_parts().items()
            })
            self.teacher.requires_grad_(False)
            self.teacher.eval()
            # Teacher tensors are not reduced or broadcast by DDP.
            self._ddp_params_and_buffers_to_ignore = [
                f'teacher.{name}'
                for name, _ in self.teacher.named_parameters()
            ] + [f'teacher.{name}' for name, _ in self.teacher.named_buffers()]

    # ----------------------------------------------------------------- build
    @staticmethod
    def _build_cls_heads(cfg: dict) -> ModuleDict:
        """One head per classification dataset, keyed by dataset name."""
        datasets = dict(cfg['datasets'])
        check_dataset_names(datasets, 'FoundationX.classification')
        heads = {}
        for name, spec in datasets.items():
            heads[name] = MODELS.build(dict(
                cfg['head'], num_classes=num_classes_of(spec), dataset=name))
        return ModuleDict(heads)

    def _checkpoint_blocks(
            self, parts: Union[bool, Sequence[str]]) -> Tuple[str, ...]:
        """Turn on activation checkpointing for the blocks of ``parts``
        (before the teacher copy, which keeps the switch but never records a
        graph). Returns the parts checkpointed."""
        if parts is True:
            parts = CHECKPOINT_PARTS
        parts = tuple(parts or ())
        unknown = sorted(set(parts) - set(CHECKPOINT_PARTS))
        if unknown:
            raise ValueError(f'activation_checkpointing: unknown {unknown}; '
                             f'choose from {CHECKPOINT_PARTS} or True.')
        if 'backbone' in parts:
            stages = getattr(self.backbone, 'stages', None)
            if stages is None or not all(hasattr(s, 'blocks') for s in stages):
                raise ValueError(
                    'activation_checkpointing: the backbone '
                    f'{type(self.backbone).__name__} has no stages[i].blocks '
                    "(as mmpretrain's SwinTransformer has).")
            checkpoint_modules(b for s in stages for b in s.blocks)
        if {'loc_encoder', 'loc_decoder'} & set(parts) and self.loc is None:
            raise ValueError('activation_checkpointing: no localization '
                             f'branch for {parts}.')
        if 'loc_encoder' in parts:
            checkpoint_modules(self.loc.encoder.layers)
        if 'loc_decoder' in parts:
            checkpoint_modules(layer for dataset in self.loc.per_dataset.values()
                               for layer in dataset['decoder'].layers)
        return parts

    def student_parts(self) -> Dict[str, nn.Module]:
        """dict[str, nn.Module]: The trainable parts, by name (no teacher)."""
        parts = dict(backbone=self.backbone)
        for name in ('cls_neck', 'cls_heads', 'loc', 'seg'):
            if getattr(self, name) is not None:
                parts[name] = getattr(self, name)
        return parts

    def _freeze(self, prefixes: Sequence[str]) -> None:
        """Turn off gradients of the student parameters under ``prefixes``."""
        names = dict(self.named_parameters())
        for prefix in prefixes:
            hit = [n for n in names if n == prefix or n.startswith(prefix + '.')]
            if not hit:
                raise ValueError(f'frozen: no parameters under {prefix!r}; '
                                 'top-level parts are '
                                 f'{sorted(self.student_parts())}.')
            for n in hit:
                names[n].requires_grad_(False)

    def student_parameters(self):
        """Iterate the student's parameters (everything but the teacher)."""
        for part in self.student_parts().values():
            yield from part.parameters()

    def head_of(self, task: str, dataset: str) -> nn.Module:
        """The per-dataset part of ``task`` for ``dataset``: what trains in a
        lock pass (a classification head, a whole DINO decoder set or a
        segmentation classifier)."""
        self._require(task, dataset)
        if task == 'cls':
            return self.cls_heads[dataset]
        if task == 'loc':
            return self.loc.per_dataset[dataset]
        return self.seg.per_dataset[dataset]

    def parts(self, teacher: bool = False) -> Dict[str, nn.Module]:
        """The student's or the teacher's parts, by name."""
        if not teacher:
            return self.student_parts()
        if self.teacher is None:
            raise RuntimeError('This FoundationX was built with teacher=False.')
        return dict(self.teacher.items())

    @property
    def datasets(self) -> Dict[str, List[str]]:
        """dict[str, list[str]]: The datasets each task's heads serve."""
        return dict(
            cls=list(self.cls_heads.keys()) if self.cls_heads else [],
            loc=self.loc.dataset_names if self.loc else [],
            seg=self.seg.dataset_names if self.seg else [])

    def set_frozen_norms(self, modules: Sequence[nn.Module]) -> None:
        """Keep these normalisation layers in eval mode while training.

        A frozen BatchNorm would otherwise still move its running statistics
        in train mode -- a "locked" part changing after all -- and normalise
        with batch statistics it no longer learns from. As mmseg's
        ``norm_eval``: they use and keep their running statistics. Called
        with the frozen ones at every pass by LockReleaseHook.

        Args:
            modules (Sequence[nn.Module]): Student norm layers (replaces the
                previous set).
        """
        self._frozen_norms = tuple(modules)
        if self.training:
            for m in self._frozen_norms:
                m.eval()

    def train(self, mode: bool = True) -> 'FoundationX':
        """Set train mode on the student, except its frozen norm layers;
        the teacher always stays in eval."""
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        if mode:
            for m in self._frozen_norms:
                m.eval()
        return self

    # --------------------------------------------------------------- teacher
    @torch.no_grad()
    def update_teacher(self, momentum: float) -> None:
        """EMA: ``teacher = momentum * teacher + (1 - momentum) * student``.

        Floating-point parameters and buffers (BatchNorm statistics) are
        averaged; integer buffers (``num_batches_tracked``) are copied.

        Args:
            momentum (float): Weight of the old teacher, in [0, 1].
        """
        if self.teacher is None:
            raise RuntimeError('This FoundationX was built with teacher=False.')
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f'EMA momentum must be in [0, 1], got {momentum}.')
        floats_t, floats_s = [], []
        for name, student in self.student_parts().items():
            teacher = self.teacher[name]
            # parameters() / buffers() list a tensor shared by several
            # modules (layers shared by the decoder layers of the reference
            # config) once, so it is averaged once; the teacher is a deep
            # copy, so both sides list the same tensors in the same order.
            pairs = list(zip(teacher.parameters(), student.parameters())) + \
                list(zip(teacher.buffers(), student.buffers()))
            for t, s in pairs:
                if t.is_floating_point():
                    floats_t.append(t)
                    floats_s.append(s.detach())
                else:
                    t.copy_(s)
        # One multi-tensor update for the whole model: per tensor, with the
        # module traversal of state_dict(), the update took ~9 ms of every
        # step of the CPU demo (EMA per iteration). Same arithmetic, same
        # result: t * momentum, then + (1 - momentum) * s.
        if floats_t:
            torch._foreach_mul_(floats_t, momentum)
            torch._foreach_add_(floats_t, floats_s, alpha=1.0 - momentum)

    @torch.no_grad()
    def sync_teacher(self) -> None:
        """Make the teacher an exact copy of the student."""
        self.update_teacher(momentum=0.0)

    # ------------------------------------------------------------- features
    def extract_feat(self, inputs: Tensor,
                     teacher: bool = False) -> Tuple[Tensor, ...]:
        """Backbone features.

        Args:
            inputs (Tensor): Images of shape (B, 3, H, W).
            teacher (bool): Use the teacher's backbone.

        Returns:
            tuple[Tensor]: One map per Swin stage, (B, C_i, H / 2^(i+2),
            W / 2^(i+2)).
        """
        return tuple(self.parts(teacher)['backbone'](inputs))

    def _require(self, task: str, dataset: str) -> None:
        """Check that a branch and a head exist for (task, dataset)."""
        known = self.datasets[task]
        if not known:
            raise ValueError(
                f'Dataset {dataset!r} asks for task {task!r}, but this '
                f'FoundationX has no {task} branch (branches: '
                f'{[t for t in TASKS if self.datasets[t]]}).')
        if dataset not in known:
            raise KeyError(
                f'Unknown {task} dataset {dataset!r}; this FoundationX knows '
                f'{known}.')

    # ----------------------------------------------------------------- loss
    def loss(self, inputs: Tensor, data_samples: Sequence) -> Dict[str, Tensor]:
        """Losses of one (dataset, task) batch, plus consistency terms.

        Args:
            inputs (Tensor): Images of shape (B, 3, H, W).
            data_samples (list): Samples of one dataset and task (mmpretrain
                DataSample for cls, DetDataSample for loc, SegDataSample for
                seg), with ``dataset`` and ``task`` in their metainfo.

        Returns:
            dict[str, Tensor]: The task losses as the toolbox's head names
            them, prefixed by the task (``cls.loss_cls``, ``loc.d0.loss_iou``,
            ``seg.loss_dice``; weighted by ``task_weight`` when consistency is
            on), and ``loss_cons_<place>`` for each consistency place used
            (places whose student features are frozen are skipped).
        """
        task = task_of(data_samples)
        dataset = dataset_of(data_samples, task)
        self._require(task, dataset)
        feats = self.extract_feat(inputs)
        if task == 'cls':
            losses = self.cls_heads[dataset].loss(
                self.cls_neck(feats[-1:]), data_samples)
            losses = dict(loss_cls=losses['loss'])
            student = dict(backbone=feats)
        elif task == 'loc':
            losses, memory = self._loc_loss(self.loc, feats, data_samples)
            student = dict(backbone=feats, loc_encoder=memory)
        else:
            self.seg.route(dataset)
            fused = self.seg._forward_feature(feats)
            losses = self.seg.loss_by_feat(self.seg.cls_seg(fused),
                                           data_samples)
            student = dict(backbone=feats, seg_decoder=fused)

        # Task losses keep the toolbox's names under the task's prefix
        # ('loc.d0.loss_bbox'), so logs tell tasks and consistency apart.
        # The task weight is the same in every pass, with or without
        # consistency terms in it.
        losses = {f'{task}.{k}': self._scale(v, self.task_weight)
                  for k, v in losses.items()}
        # A term whose student feature has no gradient (its part is frozen,
        # e.g. in a lock pass) is a constant: skip it and the teacher's
        # forward pass it would need.
        places = [p for p in self.consistency_places
                  if p in student and _requires_grad(student[p])]
        if not places:
            return losses
        teacher = self._teacher_features(inputs, task, data_samples, places)
        # weight * mean over places, logged per place (the logged terms add
        # up to the consistency loss).
        for place in places:
            losses[f'loss_cons_{place}'] = self.consistency_weight / len(
                places) * consistency_mse(student[place], teacher[place],
                                          place, self.consistency_normalize)
        return losses

    @staticmethod
    def _scale(value, weight: float):
        """Scale a loss (or a list of per-level losses) by ``weight``."""
        if isinstance(value, (list, tuple)):
            return type(value)(v * weight for v in value)
        return value * weight

    @staticmethod
    def _loc_loss(loc: nn.Module, feats: Tuple[Tensor],
                  data_samples: Sequence) -> Tuple[Dict, Tensor]:
        """DINO losses of the routed dataset, and the encoder memory.

        Returns:
            tuple[dict, Tensor]: mmdet's DINO loss dict and the encoder memory
            of shape (B, sum_l H_l * W_l, 256).
        """
        encoder_outputs, decoder_inputs = loc.encode(
            loc.extract_feat(feats), data_samples)
        head_inputs = loc.decode(encoder_outputs, decoder_inputs, data_samples)
        losses = loc.bbox_head.loss(
            **head_inputs, batch_data_samples=data_samples)
        return losses, encoder_outputs['memory']

    @torch.no_grad()
    def _teacher_features(self, inputs: Tensor, task: str,
                          data_samples: Sequence,
                          places: Sequence[str]) -> Dict[str, object]:
        """Teacher features at the requested places (no autograd)."""
        teacher = self.parts(teacher=True)
        feats = tuple(teacher['backbone'](inputs))
        out = dict(backbone=feats)
        if 'loc_encoder' in places:
            encoder_outputs, _ = teacher['loc'].encode(
                teacher['loc'].extract_feat(feats), data_samples)
            out['loc_encoder'] = encoder_outputs['memory']
        if 'seg_decoder' in places:
            out['seg_decoder'] = teacher['seg']._forward_feature(feats)
        return out

    # -------------------------------------------------------------- predict
    def predict(self, inputs: Tensor, data_samples: Sequence) -> List:
        """Predict one (dataset, task) batch, in the toolbox's sample format.

        Classification sets ``pred_score`` (per-class sigmoid) on mmpretrain
        DataSamples; localization sets mmdet's ``pred_instances`` (boxes in the
        original image's pixels); segmentation sets ``pred_sem_seg`` (a 0/1
        mask per class, (C, H, W) at the original size) and ``seg_logits``.

        Args:
            inputs (Tensor): Images of shape (B, 3, H, W).
            data_samples (list): Samples with ``dataset`` and ``task``.

        Returns:
            list: The samples, with predictions.
        """
        task = task_of(data_samples)
        dataset = dataset_of(data_samples, task)
        self._require(task, dataset)
        use_teacher = self.predict_with == 'teacher'
        parts = self.parts(use_teacher)
        feats = self.extract_feat(inputs, teacher=use_teacher)
        if task == 'cls':
            return parts['cls_heads'][dataset].predict(
                parts['cls_neck'](feats[-1:]), data_samples)
        if task == 'loc':
            return parts['loc'].predict(feats, data_samples, rescale=True)
        seg = parts['seg']
        logits = seg.predict(feats, [s.metainfo for s in data_samples],
                             test_cfg=None)
        return self._seg_postprocess(logits, data_samples, seg.threshold)

    @torch.no_grad()
    def predict_all(self, inputs: Tensor, data_samples: Sequence) -> List[dict]:
        """Every head's prediction from one backbone pass (inference).

        The backbone runs once, the localization encoder and the UPerNet
        body once; then each dataset's classification head, DINO decoder and
        segmentation classifier runs on the shared features -- what makes
        one Foundation X cheaper than a model per task.

        Args:
            inputs (Tensor): Images (B, 3, H, W), preprocessed.
            data_samples (list): One sample per image with ``img_shape``,
                ``ori_shape``, ``scale_factor`` and ``batch_input_shape``
                (e.g. from PackDetInputs and the data preprocessor).

        Returns:
            list[dict]: Per image: ``cls`` {dataset: (C,) probabilities},
            ``loc`` {dataset: InstanceData with bboxes (original pixels),
            scores, labels}, ``seg`` {dataset: (C, H, W) uint8 masks at the
            original size}.
        """
        use_teacher = self.predict_with == 'teacher'
        parts = self.parts(use_teacher)
        feats = self.extract_feat(inputs, teacher=use_teacher)
        out = [dict(cls={}, loc={}, seg={}) for _ in data_samples]
        if self.cls_heads is not None:
            pooled = parts['cls_neck'](feats[-1:])
            for name, head in parts['cls_heads'].items():
                probs = head(pooled).sigmoid()
                for result, p in zip(out, probs):
                    result['cls'][name] = p
        if self.loc is not None:
            loc = parts['loc']
            encoder_outputs, decoder_inputs = loc.encode(
                loc.extract_feat(feats), data_samples)
            for name in loc.dataset_names:
                samples = [copy.deepcopy(s) for s in data_samples]
                for s in samples:
                    s.set_metainfo(dict(dataset=name, task='loc'))
                head_inputs = loc.decode(encoder_outputs, decoder_inputs,
                                         samples)
                preds = loc.bbox_head.predict(
                    **head_inputs, rescale=True, batch_data_samples=samples)
                for result, pred in zip(out, preds):
                    result['loc'][name] = pred
        if self.seg is not None:
            seg = parts['seg']
            fused = seg._forward_feature(feats)
            metas = [s.metainfo for s in data_samples]
            for name in seg.dataset_names:
                seg.route(name)
                logits = seg.predict_by_feat(seg.cls_seg(fused), metas)
                samples = self._seg_postprocess(
                    logits, [copy.deepcopy(s) for s in data_samples],
                    seg.threshold)
                for result, s in zip(out, samples):
                    result['seg'][name] = s.pred_sem_seg.data
        return out

    @staticmethod
    def _seg_postprocess(logits: Tensor, data_samples: Sequence,
                         threshold: float) -> List:
        """Crop the padding, resize to the original size, threshold.

        Args:
            logits (Tensor): (B, C, H_pad, W_pad) logits at the padded size.
            data_samples (list[SegDataSample]): With ``img_shape`` and
                ``ori_shape`` metainfo.
            threshold (float): Sigmoid threshold.
        """
        for logit, sample in zip(logits, data_samples):
            h, w = sample.metainfo['img_shape'][:2]
            # fp32 whatever the autocast dtype: resized and kept in
            # seg_logits, which numpy cannot read in bf16.
            logit = logit[None, :, :h, :w].float()
            if sample.metainfo.get('flip', False):
                dims = (3, ) if sample.metainfo.get(
                    'flip_direction', 'horizontal') == 'horizontal' else (2, )
                logit = logit.flip(dims)
            logit = F.interpolate(
                logit, size=tuple(sample.metainfo['ori_shape'][:2]),
                mode='bilinear', align_corners=False)[0]
            sample.seg_logits = PixelData(data=logit)
            sample.pred_sem_seg = PixelData(
                data=(logit.sigmoid() > threshold).to(torch.uint8))
        return list(data_samples)

    def _forward(self, inputs: Tensor, data_samples=None) -> Tuple[Tensor]:
        """Tensor mode: the backbone features."""
        return self.extract_feat(inputs)

    def forward(self, inputs: Tensor, data_samples=None, mode: str = 'tensor'):
        """mmengine's entry point: ``loss``, ``predict`` or ``tensor`` mode."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'Invalid mode {mode!r}; use loss, predict or tensor.')


def _requires_grad(feature: Union[Tensor, Sequence[Tensor]]) -> bool:
    """Whether a feature (or any level of a multi-level one) has a graph."""
    if isinstance(feature, (tuple, list)):
        return any(f.requires_grad for f in feature)
    return feature.requires_grad


# Channel dimension of the compared features: backbone maps and the fused
# UPerNet map are (B, C, H, W); the encoder memory is (B, N, C).
CHANNEL_DIM = dict(backbone=1, loc_encoder=-1, seg_decoder=1)


def consistency_mse(student: Union[Tensor, Sequence[Tensor]],
                    teacher: Union[Tensor, Sequence[Tensor]], place: str,
                    normalize: bool = True) -> Tensor:
    """MSE between student and teacher features at one place.

    Multi-level features (the backbone's stages) are averaged over levels.
    With ``normalize`` each feature vector is L2-normalised over its
    channels first (the reference code's choice): the term then lies in
    [0, 4 / C] per element and does not grow with the features' scale.
    Computed in fp32: under mixed precision the features come out in
    fp16/bf16, whose squared differences lose precision or overflow.

    Args:
        student, teacher (Tensor | Sequence[Tensor]): (B, C, H, W) maps or
            (B, N, C) tokens, or a sequence of such (one per level).
        place (str): One of :data:`CONSISTENCY_PLACES` (gives the channel
            dimension).
        normalize (bool): L2-normalise over channels before the MSE.

    Returns:
        Tensor: A scalar.
    """
    if isinstance(student, (tuple, list)):
        return sum(consistency_mse(s, t, place, normalize)
                   for s, t in zip(student, teacher)) / len(student)
    student, teacher = student.float(), teacher.float()
    if normalize:
        student = F.normalize(student, dim=CHANNEL_DIM[place])
        teacher = F.normalize(teacher, dim=CHANNEL_DIM[place])
    return F.mse_loss(student, teacher)
