"""DINO with one shared encoder and one decoder per localization dataset."""
import copy
from typing import Dict, Mapping, Sequence, Tuple, Union

from mmcv.ops import MultiScaleDeformableAttention
from mmdet.models.detectors import DINO
from mmdet.models.layers import CdnQueryGenerator, DinoTransformerDecoder
from mmdet.registry import MODELS
from mmdet.structures import OptSampleList
from torch import Tensor, nn

from ..utils.dataset_routing import (DatasetRoutingMixin, check_dataset_names,
                                     dataset_of, num_classes_of)


def _output_to_fp32(module: nn.Module, inputs: tuple,
                    output: Tensor) -> Tensor:
    """Forward hook: a class or box branch's output continues in fp32."""
    return output.float()


@MODELS.register_module()
class MultiDecoderDINO(DatasetRoutingMixin, DINO):
    """DINO whose decoder side is replicated per localization dataset.

    Shared by all datasets (built once by mmdet's DINO): the backbone, the
    ChannelMapper neck, the positional encoding, the level embeddings and the
    deformable encoder. Per dataset (``per_dataset.<name>``): the DINO decoder,
    the content-query embedding, the two-stage proposal layers
    (``memory_trans_fc`` / ``memory_trans_norm``), the DINO head (class and box
    branches sized by that dataset's class count, losses) and the CDN
    denoising query generator.

    A batch is routed to the dataset named in its samples' metainfo
    (``dataset``); only that dataset's decoder runs, so the other decoders get
    no gradient. Everything else is mmdet's DINO, unchanged.

    DINO's class logits and box outputs are fp32 whatever the autocast
    dtype: each class and box branch of the head (the decoder layers' and
    the proposals') still computes in the autocast dtype, and its output is
    cast up before anything reads it. In fp16 a logit above about 8.3 has a
    sigmoid of exactly 1 and one below about -17.3 exactly 0; mmdet's
    Hungarian matching cost (FocalLossCost, whose eps of 1e-12 is 0 in
    half) then becomes -inf or inf, which scipy's solver refuses, and
    mmcv's focal-loss kernel gives 0 * log(0) = NaN. mmdet adds the fp32
    reference to a box branch's output in place (DeformableDETRHead), so
    the boxes would otherwise stay in half -- rounded before they are
    scaled to the original image, and in bf16 unreadable by numpy (the
    metrics, the per-image results).

    Args:
        datasets (Mapping[str, int | Sequence[str]]): Localization datasets in
            cycle order, each with its class count or class names.
        bbox_head (dict): Config of the DINO head; ``num_classes`` is set per
            dataset and must not be given.
        decoder (dict): Config of each dataset's DinoTransformerDecoder.
        dn_cfg (dict): Config of each dataset's CdnQueryGenerator.
        **kwargs: Everything else mmdet's DINO takes (backbone, neck, encoder,
            positional_encoding, num_queries, with_box_refine, as_two_stage,
            train_cfg, test_cfg, data_preprocessor, init_cfg).
    """

    routed_parts = ('decoder', 'query_embedding', 'memory_trans_fc',
                    'memory_trans_norm', 'bbox_head', 'dn_query_generator')

    def __init__(self, datasets: Mapping[str, Union[int, Sequence[str]]], *,
                 bbox_head: dict, decoder: dict, dn_cfg: dict,
                 **kwargs) -> None:
        num_classes = {name: num_classes_of(spec)
                       for name, spec in dict(datasets).items()}
        names = check_dataset_names(num_classes, 'MultiDecoderDINO')
        if 'num_classes' in bbox_head:
            raise ValueError(
                'MultiDecoderDINO: bbox_head.num_classes is set per dataset '
                'from `datasets`; remove it from the bbox_head config.')
        head_cfg = copy.deepcopy(bbox_head)
        head_cfg['num_classes'] = num_classes[names[0]]
        decoder_cfg = copy.deepcopy(decoder)
        dn_cfg = copy.deepcopy(dn_cfg)
        # mmdet builds the first dataset's parts (and completes head_cfg and
        # dn_cfg in place with the settings it derives); we build the rest
        # from the same completed configs.
        super().__init__(
            bbox_head=head_cfg, decoder=copy.deepcopy(decoder_cfg),
            dn_cfg=dn_cfg, **kwargs)
        parts = {
            name: self._build_dataset_parts(num_classes[name], head_cfg,
                                            decoder_cfg, dn_cfg)
            for name in names[1:]
        }
        self._take_over_parts(names[0], parts)
        self._keep_head_outputs_in_fp32()

    def _keep_head_outputs_in_fp32(self) -> None:
        """Cast every dataset head's class logits and box outputs to fp32
        (class docstring) with a forward hook on each class and box branch.
        A hook, not a head subclass, so that any DINO head the config names
        gets it; it holds no state, so state dicts and copies (the teacher)
        are unchanged."""
        branches = {id(b): b for parts in self.per_dataset.values()
                    for name in ('cls_branches', 'reg_branches')
                    for b in getattr(parts['bbox_head'], name)}
        for branch in branches.values():  # shared layers: one hook each
            branch.register_forward_hook(_output_to_fp32)

    def _build_dataset_parts(self, num_classes: int, head_cfg: dict,
                             decoder_cfg: dict,
                             dn_cfg: dict) -> Dict[str, nn.Module]:
        """The ``routed_parts`` of one more dataset, built as mmdet built the
        first dataset's.

        Args:
            num_classes (int): Classes of the dataset's head.
            head_cfg, decoder_cfg, dn_cfg (dict): The configs mmdet completed
                for the first dataset.

        Returns:
            dict[str, nn.Module]: One module per name in ``routed_parts``.
        """
        return dict(
            decoder=DinoTransformerDecoder(**decoder_cfg),
            query_embedding=nn.Embedding(self.num_queries, self.embed_dims),
            memory_trans_fc=nn.Linear(self.embed_dims, self.embed_dims),
            memory_trans_norm=nn.LayerNorm(self.embed_dims),
            bbox_head=MODELS.build(dict(head_cfg, num_classes=num_classes)),
            dn_query_generator=CdnQueryGenerator(
                **dict(dn_cfg, num_classes=num_classes)))

    @property
    def num_classes(self) -> Dict[str, int]:
        """dict[str, int]: Class count of every localization dataset."""
        return {name: parts['bbox_head'].num_classes
                for name, parts in self.per_dataset.items()}

    def init_weights(self) -> None:
        """Initialise as mmdet's DINO does, every dataset's decoder alike.

        mmdet's ``init_weights`` initialises the shared parts (encoder,
        level embeddings, neck) and every module that has its own
        ``init_weights`` (heads, deformable attention). The per-dataset
        parts then get DINO's initialisation here, dataset by dataset --
        Xavier on the decoder's matrices (then the deformable attention's
        own init, which that Xavier would overwrite), on the two-stage
        projection and on the query embedding -- rather than through
        whichever dataset the parent happens to be routed to.
        """
        super().init_weights()
        for name in self.dataset_names:
            parts = self.per_dataset[name]
            for p in parts['decoder'].parameters():
                if p.dim() > 1:
                    nn.init.xavier_uniform_(p)
            for m in parts['decoder'].modules():
                if isinstance(m, MultiScaleDeformableAttention):
                    m.init_weights()
            nn.init.xavier_uniform_(parts['memory_trans_fc'].weight)
            if 'query_embedding' in parts:  # else shared, initialised above
                nn.init.xavier_uniform_(parts['query_embedding'].weight)

    def encode(self, img_feats: Tuple[Tensor],
               batch_data_samples: OptSampleList) -> Tuple[Dict, Dict]:
        """Run the shared part: pre_transformer and the deformable encoder.

        Args:
            img_feats (tuple[Tensor]): Neck outputs, each (B, 256, H_l, W_l).
            batch_data_samples (list[DetDataSample]): The batch samples.

        Returns:
            tuple[dict, dict]: The encoder outputs (``memory`` of shape
            (B, sum_l H_l * W_l, 256), ``memory_mask``, ``spatial_shapes``) and
            the decoder inputs prepared by ``pre_transformer``.
        """
        encoder_inputs, decoder_inputs = self.pre_transformer(
            img_feats, batch_data_samples)
        return self.forward_encoder(**encoder_inputs), decoder_inputs

    def decode(self, encoder_outputs: Dict, decoder_inputs: Dict,
               batch_data_samples: OptSampleList) -> Dict:
        """Run the routed dataset's part: pre_decoder and its decoder.

        Args:
            encoder_outputs (dict): From :meth:`encode`.
            decoder_inputs (dict): From :meth:`encode`.
            batch_data_samples (list[DetDataSample]): The batch samples; their
                ``dataset`` metainfo picks the decoder.

        Returns:
            dict: The inputs of the dataset's DINO head (``hidden_states``,
            ``references`` and, in training, the encoder outputs and
            ``dn_meta``).
        """
        self.route(dataset_of(batch_data_samples, task='loc'))
        if self.training:
            self._check_labels(batch_data_samples)
        decoder_inputs = dict(decoder_inputs)
        tmp_dec_in, head_inputs = self.pre_decoder(
            **encoder_outputs, batch_data_samples=batch_data_samples)
        decoder_inputs.update(tmp_dec_in)
        head_inputs.update(self.forward_decoder(**decoder_inputs))
        return head_inputs

    def _check_labels(self, batch_data_samples: OptSampleList) -> None:
        """Refuse box labels the routed dataset's head has no class for."""
        num_classes = self.bbox_head.num_classes
        for sample in batch_data_samples:
            labels = sample.gt_instances.labels
            bad = labels[(labels < 0) | (labels >= num_classes)]
            if bad.numel():
                raise ValueError(
                    f'Localization dataset {self.active_dataset!r}: image '
                    f"{sample.metainfo.get('img_path', '?')} has box label "
                    f'{int(bad[0])}, but its head has {num_classes} classes '
                    f'(labels 0..{num_classes - 1}).')

    def forward_transformer(self, img_feats: Tuple[Tensor],
                            batch_data_samples: OptSampleList = None) -> Dict:
        """DINO's transformer, split at the shared/per-dataset boundary."""
        return self.decode(*self.encode(img_feats, batch_data_samples),
                           batch_data_samples)
