"""MultiDecoderDINO laid out as the Foundation X reference code's DINO."""
import copy
from typing import Dict, Mapping, Optional, Sequence, Union

from mmdet.registry import MODELS
from mmdet.structures import OptSampleList
from mmengine.model import bias_init_with_prob, constant_init
from torch import Tensor, nn

from ..layers import RefiningDinoTransformerDecoder
from ..utils.dataset_routing import num_classes_of
from .multi_decoder_dino import MultiDecoderDINO


@MODELS.register_module()
class ReferenceMultiDecoderDINO(MultiDecoderDINO):
    """The localization branch with the reference checkpoint's structure.

    The Foundation X reference code (``dino_F6.py`` and
    ``deformable_transformer_F6.py`` of jlianglab/Foundation_X) differs from
    :class:`MultiDecoderDINO` (and from the paper) in which parts are shared
    and how wide they are; this class reproduces it at the same seams:

    - **Shared by all datasets**: the content-query embedding (its
      ``transformer.tgt_embed``, 900 x 256) and the denoising label embedding
      (its ``label_enc``, ``dn_labelbook_size + 1`` = 16 rows), besides the
      neck, level embeddings and encoder. MultiDecoderDINO keeps both per
      dataset.
    - **Per dataset, in addition**: a linear projection of the encoder memory
      (``enc_outputMem_LinearProjection``), applied before the two-stage
      proposals; the decoder and the proposals read the projected memory
      (``memory_proj`` here, in :meth:`pre_decoder`).
    - **Box refinement** inside the decoder uses the decoder's own box MLP,
      one for all layers, not the head's output layers
      (:class:`RefiningDinoTransformerDecoder`); the decoder also holds a class
      layer that is never called. The output layers are one class layer and
      one box MLP shared by all decoder layers, plus a separate pair for the
      proposals (:class:`LayerSharedDINOHead`).
    - **Head width**: every dataset's head has ``head_num_classes`` (14 in
      the reference) classes whatever the dataset's own count; predictions
      come from the dataset's own classes only.

    Routed per dataset: ``decoder``, ``memory_proj``, ``memory_trans_fc``,
    ``memory_trans_norm``, ``bbox_head``. Shared (plain submodules):
    ``query_embedding``, ``dn_query_generator``.

    Args:
        datasets (Mapping[str, int | Sequence[str]]): Localization datasets,
            with their own class counts or class names.
        head_num_classes (int, optional): Classes of every head. Defaults to
            each dataset's own count.
        dn_labelbook_size (int, optional): The denoising label embedding gets
            ``dn_labelbook_size + 1`` rows (mmdet: one per class).
        **kwargs: As :class:`MultiDecoderDINO`; ``bbox_head`` should be a
            :class:`LayerSharedDINOHead`.
    """

    routed_parts = ('decoder', 'memory_proj', 'memory_trans_fc',
                    'memory_trans_norm', 'bbox_head')

    def __init__(self, datasets: Mapping[str, Union[int, Sequence[str]]], *,
                 head_num_classes: Optional[int] = None,
                 dn_labelbook_size: Optional[int] = None, **kwargs) -> None:
        own = {name: num_classes_of(spec)
               for name, spec in dict(datasets).items()}
        if head_num_classes is not None:
            wide = {n: c for n, c in own.items() if c > head_num_classes}
            if wide:
                raise ValueError(
                    f'ReferenceMultiDecoderDINO: head_num_classes='
                    f'{head_num_classes} is narrower than the class count of '
                    f'localization datasets {wide}.')
            datasets = {name: head_num_classes for name in own}
        super().__init__(datasets, **kwargs)
        self.dataset_classes = own
        for name, n in own.items():
            self.per_dataset[name]['bbox_head'].num_valid_classes = n
        if dn_labelbook_size is not None:
            self.dn_query_generator.label_embedding = nn.Embedding(
                dn_labelbook_size + 1, self.embed_dims)

    def _init_layers(self) -> None:
        """mmdet's layers, with the refining decoder and the memory
        projection of the first dataset (the others are built by
        :meth:`_build_dataset_parts`)."""
        decoder_cfg = copy.deepcopy(self.decoder)
        super()._init_layers()
        # mmdet builds its plain decoder here; it is replaced by one holding
        # the refinement branches.
        self.decoder = RefiningDinoTransformerDecoder(
            num_classes=self.bbox_head.num_classes, **decoder_cfg)
        self.memory_proj = nn.Linear(self.embed_dims, self.embed_dims)

    def _build_dataset_parts(self, num_classes: int, head_cfg: dict,
                             decoder_cfg: dict,
                             dn_cfg: dict) -> Dict[str, nn.Module]:
        """One more dataset's routed parts (no query embedding or denoising
        generator: those are shared)."""
        return dict(
            decoder=RefiningDinoTransformerDecoder(
                num_classes=num_classes, **decoder_cfg),
            memory_proj=nn.Linear(self.embed_dims, self.embed_dims),
            memory_trans_fc=nn.Linear(self.embed_dims, self.embed_dims),
            memory_trans_norm=nn.LayerNorm(self.embed_dims),
            bbox_head=MODELS.build(dict(head_cfg, num_classes=num_classes)))

    @property
    def num_classes(self) -> Dict[str, int]:
        """dict[str, int]: Every localization dataset's own class count (the
        heads may be wider, see ``head_num_classes``)."""
        return dict(self.dataset_classes)

    def init_weights(self) -> None:
        """MultiDecoderDINO's, then the reference's init of the parts it
        adds: Xavier memory projections, and for each decoder's refinement
        MLP a zero last layer (refinement starts as the identity) and the
        class layer's prior bias."""
        super().init_weights()
        prior = bias_init_with_prob(0.01)
        for name in self.dataset_names:
            parts = self.per_dataset[name]
            nn.init.xavier_uniform_(parts['memory_proj'].weight)
            nn.init.zeros_(parts['memory_proj'].bias)
            decoder = parts['decoder']
            constant_init(decoder.reg_branches[0][-1], 0, bias=0)
            nn.init.constant_(decoder.cls_branches[0].bias, prior)

    def pre_decoder(self, memory: Tensor, memory_mask: Tensor,
                    spatial_shapes: Tensor,
                    batch_data_samples: OptSampleList = None):
        """mmdet's, on the routed dataset's projection of the memory (which
        the decoder then reads too).

        Args:
            memory (Tensor): Encoder output (B, sum_l H_l * W_l, 256).
            memory_mask, spatial_shapes, batch_data_samples: As mmdet's.
        """
        return super().pre_decoder(self.memory_proj(memory), memory_mask,
                                   spatial_shapes, batch_data_samples)
