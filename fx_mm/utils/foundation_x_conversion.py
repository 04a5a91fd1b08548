"""Foundation X reference checkpoints to fx_mm's key layout, and back.

The authors' code (jlianglab/Foundation_X: an IDEA-Research DINO whose Swin
backbone ``backbone.0`` also carries the classification heads and the
UperNet) saves ``{'model': student, 'teacher_model': EMA teacher,
'optimizer': ..., 'epoch': ...}`` (``'module.'`` before every key when saved
from DDP); a file with ``teacher_model`` alone (an EMA-only release) gives
that network as both student and teacher. A Foundation X+ checkpoint (the
authors' later single-decoder model) is recognised by its keys and refused
(:func:`single_decoder_model`). ``configs/reference/fx_cls_reference.py``
builds the same network in fx_mm, tensor for tensor; this module names each
fx_mm tensor in the reference's terms (:data:`RULES`) and moves weights
between the two layouts.
What is laid out differently, besides the names:

* **Swin patch merging**: the official 2x2 concatenation order, permuted to
  mmpretrain's unfold order by :func:`~.swin_conversion.correct_merge_order`
  (and back by its inverse).
* **Per-dataset modules**: the reference numbers them (``classification_
  heads.{k}``, ``transformer.decoder.{t}``, ``segmentation_heads.{k}``);
  fx_mm keys them by dataset name. The config's ``foundation_x_reference``
  table gives the name of each index.
* **Modules listed under several names**: the reference's decoder box MLP
  and class layer appear under ``transformer.decoder.{t}.bbox_embed.{n}``
  and ``bbox_embed.{t}.{n}`` (one tensor); one fx_mm key takes both, and
  both must hold equal values.
* **Localization class rows** (``loc_class_offset``, per dataset): every
  reference class layer has 14 rows and a box of COCO ``category_id`` c
  trains row c (``datasets/coco.py`` does not remap ids); fx_mm's class k
  (0-based, the dataset table's order) is row k. The authors' annotation
  files are not public; their code shows the ids of two of the six
  localization datasets (jlianglab/Foundation_X):

  - ChestX-Det, 1..13: ``Foundation_X/datasets_medical.py``, class
    ``ChestXDet_cls``, reads the localization annotation file
    (``ChestX_det_{split}_NAD_v2.json``, the same file
    ``Foundation_X+/config/config_datasets.py`` gives its localization
    task) into 13 slots at ``category_id - 1``;
    ``Foundation_X+/util/chestxdet_id2name.json`` names ids 1..13;
  - NODE21, 1: ``util/node21Nodule_id2name.json`` is ``{"1": "Nodule"}``.

  So ChestX-Det and NODE21 default to offset 1 (fx_mm class k <- reference
  row k + 1, the unused row 0 rotated to the end) and the other four, of
  which the code says nothing, to 0 (rows kept). The denoising label
  embedding (``label_enc``) is indexed by the same ids but shared by the
  six datasets, so it has one offset of its own (key ``label_enc``,
  default 1: both datasets whose ids are known number from 1). A rotation
  loses nothing, so any choice converts back exactly.

Buffers the model derives from its own settings (Swin's
``relative_position_index``, an ``attn_mask``) are not taken from the
source; fx_mm's are written instead.
"""
import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch

from .checkpoint_safety import load_weights_only
from .swin_conversion import (BLOCK_RENAMES, DERIVED_BUFFERS,
                              correct_merge_order)

TEACHER_PREFIX = 'teacher.'
# The reference's entries, as its save_model writes them.
STUDENT_ENTRY, TEACHER_ENTRY = 'model', 'teacher_model'
# The class-row offset of each localization dataset whose category ids the
# reference code shows (module docstring); any other dataset defaults to
# 0. LABEL_ENC names the shared denoising label embedding's offset.
LABEL_ENC = 'label_enc'
DEFAULT_LOC_CLASS_OFFSETS = {'ChestX-Det': 1, 'NODE21': 1, LABEL_ENC: 1}


class NotAReferenceCheckpoint(ValueError):
    """The file is not a Foundation X reference checkpoint."""


@dataclass(frozen=True)
class Rule:
    """How one group of fx_mm keys is named in the reference.

    Attributes:
        fx (str): The fx_mm key prefix, with fields: ``{name}`` a dataset,
            other ``{x}`` an index. The rest of the key (``weight``, ...)
            carries over.
        ref (tuple[str]): The reference prefixes (several: one tensor listed
            under several names there; the first is the module's own). Extra
            fields: ``{idx}`` the dataset's reference index, ``{mlp}`` the
            Linear of an IDEA MLP (``layers.{mlp}``) for mmdet's Sequential
            index ``{m}`` (Linear, ReLU, Linear, ...), ``{lvl}`` the input
            projection of neck extra conv ``{e}``.
        reorder (str, optional): 'patch_merging' or 'class_rows'.
        derived (bool): A buffer the model derives (not converted).
        when (str, optional): For a head's branch ``{n}``: 'layer' (n < the
            decoder's layers) or 'proposal' (n == layers).
    """
    fx: str
    ref: Tuple[str, ...]
    reorder: Optional[str] = None
    derived: bool = False
    when: Optional[str] = None


def _rule(fx: str, *ref: str, **kwargs) -> Rule:
    return Rule(fx, tuple(ref), **kwargs)


_B = 'backbone.0.'
_PPN, _FPN = _B + 'segmentation_PPN.', _B + 'segmentation_FPN.'
_LOC = 'loc.per_dataset.{name}.'
_DEC, _REF_DEC = _LOC + 'decoder.', 'transformer.decoder.{idx}.'
_LAYER, _REF_LAYER = _DEC + 'layers.{n}.', _REF_DEC + 'layers.{n}.'

RULES: Tuple[Rule, ...] = (
    # Swin (official layout, merge at the end of stage i as in mmpretrain).
    _rule('backbone.patch_embed.projection.', _B + 'patch_embed.proj.'),
    _rule('backbone.patch_embed.norm.', _B + 'patch_embed.norm.'),
    *(_rule('backbone.stages.{i}.blocks.{j}.' + new,
            _B + 'layers.{i}.blocks.{j}.' + old)
      for old, new in BLOCK_RENAMES),
    _rule('backbone.stages.{i}.blocks.{j}.attn.w_msa.relative_position_index',
          _B + 'layers.{i}.blocks.{j}.attn.relative_position_index',
          derived=True),
    _rule('backbone.stages.{i}.downsample.', _B + 'layers.{i}.downsample.',
          reorder='patch_merging'),
    _rule('backbone.loc_norm{i}.', _B + 'Locnorm{i}.'),
    _rule('backbone.seg_norm{i}.', _B + 'Segnorm{i}.'),
    _rule('backbone.cls_norm.', _B + 'norm.'),
    _rule('backbone.head.', _B + 'head.'),
    _rule('cls_heads.{name}.fc.', _B + 'classification_heads.{idx}.'),
    # UperNet: PSPModule (pool, conv, BN) + FPN_fuse.
    _rule('seg.psp_modules.{k}.1.conv.', _PPN + 'stages.{k}.1.'),
    _rule('seg.psp_modules.{k}.1.bn.', _PPN + 'stages.{k}.2.'),
    _rule('seg.bottleneck.conv.', _PPN + 'bottleneck.0.'),
    _rule('seg.bottleneck.bn.', _PPN + 'bottleneck.1.'),
    _rule('seg.lateral_convs.{k}.conv.', _FPN + 'conv1x1.{k}.'),
    _rule('seg.fpn_convs.{k}.conv.', _FPN + 'smooth_conv.{k}.'),
    _rule('seg.fpn_bottleneck.conv.', _FPN + 'conv_fusion.0.'),
    _rule('seg.fpn_bottleneck.bn.', _FPN + 'conv_fusion.1.'),
    _rule('seg.per_dataset.{name}.conv_seg.',
          _B + 'segmentation_heads.{idx}.'),
    _rule('seg.spare_heads.{k}.', _B + 'segmentation_heads.{k}.'),
    # DINO: shared parts.
    _rule('loc.neck.convs.{l}.conv.', 'input_proj.{l}.0.'),
    _rule('loc.neck.convs.{l}.gn.', 'input_proj.{l}.1.'),
    _rule('loc.neck.extra_convs.{e}.conv.', 'input_proj.{lvl}.0.'),
    _rule('loc.neck.extra_convs.{e}.gn.', 'input_proj.{lvl}.1.'),
    _rule('loc.level_embed', 'transformer.level_embed'),
    _rule('loc.query_embedding.', 'transformer.tgt_embed.'),
    _rule('loc.dn_query_generator.label_embedding.', 'label_enc.',
          reorder='class_rows'),
    _rule('loc.encoder.layers.{n}.self_attn.',
          'transformer.encoder.layers.{n}.self_attn.'),
    _rule('loc.encoder.layers.{n}.norms.0.',
          'transformer.encoder.layers.{n}.norm1.'),
    _rule('loc.encoder.layers.{n}.ffn.layers.0.0.',
          'transformer.encoder.layers.{n}.linear1.'),
    _rule('loc.encoder.layers.{n}.ffn.layers.1.',
          'transformer.encoder.layers.{n}.linear2.'),
    _rule('loc.encoder.layers.{n}.norms.1.',
          'transformer.encoder.layers.{n}.norm2.'),
    # DINO: per dataset. The reference's decoder layer runs self-attention,
    # cross-attention, FFN with norm2, norm1, norm3 after them.
    _rule(_LAYER + 'self_attn.attn.', _REF_LAYER + 'self_attn.'),
    _rule(_LAYER + 'cross_attn.', _REF_LAYER + 'cross_attn.'),
    _rule(_LAYER + 'norms.0.', _REF_LAYER + 'norm2.'),
    _rule(_LAYER + 'norms.1.', _REF_LAYER + 'norm1.'),
    _rule(_LAYER + 'norms.2.', _REF_LAYER + 'norm3.'),
    _rule(_LAYER + 'ffn.layers.0.0.', _REF_LAYER + 'linear1.'),
    _rule(_LAYER + 'ffn.layers.1.', _REF_LAYER + 'linear2.'),
    _rule(_DEC + 'norm.', _REF_DEC + 'norm.'),
    _rule(_DEC + 'ref_point_head.', _REF_DEC + 'ref_point_head.'),
    _rule(_DEC + 'reg_branches.{n}.{m}.',
          _REF_DEC + 'bbox_embed.{n}.layers.{mlp}.',
          'bbox_embed.{idx}.{n}.layers.{mlp}.'),
    _rule(_DEC + 'cls_branches.{n}.', _REF_DEC + 'class_embed.{n}.',
          'class_embed.{idx}.{n}.', reorder='class_rows'),
    _rule(_LOC + 'memory_proj.',
          'transformer.enc_outputMem_LinearProjection.{idx}.'),
    _rule(_LOC + 'memory_trans_fc.', 'transformer.enc_output.{idx}.'),
    _rule(_LOC + 'memory_trans_norm.', 'transformer.enc_output_norm.{idx}.'),
    _rule(_LOC + 'bbox_head.reg_branches.{n}.{m}.',
          'bbox_embed_.{idx}.{n}.layers.{mlp}.', when='layer'),
    _rule(_LOC + 'bbox_head.reg_branches.{n}.{m}.',
          'transformer.enc_out_bbox_embed.{idx}.layers.{mlp}.',
          when='proposal'),
    _rule(_LOC + 'bbox_head.cls_branches.{n}.', 'class_embed_.{idx}.{n}.',
          when='layer', reorder='class_rows'),
    _rule(_LOC + 'bbox_head.cls_branches.{n}.',
          'transformer.enc_out_class_embed.{idx}.', when='proposal',
          reorder='class_rows'),
)

# Which table of ``foundation_x_reference`` numbers a rule's datasets.
_TABLE_OF_TASK = {'cls_heads': 'cls_heads', 'seg': 'seg_heads',
                  'loc': 'loc_decoders'}


def _compile(template: str) -> 're.Pattern':
    pattern = re.escape(template)
    pattern = pattern.replace(r'\{name\}', r'(?P<name>[^.]+)')
    pattern = re.sub(r'\\\{(\w+)\\\}', r'(?P<\1>\\d+)', pattern)
    return re.compile(pattern + r'(?P<tail>.*)')


_COMPILED = [(_compile(rule.fx), rule) for rule in RULES]


@dataclass(frozen=True)
class KeyEntry:
    """One fx_mm key and its reference names (the first is the module's
    own; the others list the same tensor), and the dataset of a
    per-dataset module (None for a shared one)."""
    fx: str
    ref: Tuple[str, ...]
    reorder: Optional[str] = None
    derived: bool = False
    dataset: Optional[str] = None


@dataclass
class ReferenceNames:
    """The config's ``foundation_x_reference`` table: the dataset of each
    reference module index (None: a spare segmentation head)."""
    cls_heads: List[str]
    loc_decoders: List[str]
    seg_heads: List[Optional[str]]

    @classmethod
    def from_config(cls, cfg, config_path: str = 'the config'
                    ) -> 'ReferenceNames':
        table = cfg.get('foundation_x_reference')
        if not table:
            raise ValueError(
                f'{config_path} has no foundation_x_reference table (the '
                'dataset of each reference module index): convert with '
                'configs/reference/fx_cls_reference.py or a config that '
                'inherits it.')
        missing = [k for k in ('cls_heads', 'loc_decoders', 'seg_heads')
                   if k not in table]
        if missing:
            raise ValueError(f'{config_path}: foundation_x_reference lacks '
                             f'{missing}.')
        return cls(list(table['cls_heads']), list(table['loc_decoders']),
                   list(table['seg_heads']))

    def index(self, table: str, name: str) -> int:
        names = getattr(self, table)
        if name not in names:
            raise ValueError(
                f'dataset {name!r} has no reference index in the config\'s '
                f'foundation_x_reference.{table} ({names}).')
        return names.index(name)


def key_table(fx_keys: Sequence[str], names: ReferenceNames
              ) -> Dict[str, KeyEntry]:
    """The reference name(s) of every fx_mm key of the reference network.

    Args:
        fx_keys (Sequence[str]): The student's state-dict keys (no
            ``teacher.``) of a model built from a reference config.
        names (ReferenceNames): The config's dataset table.

    Returns:
        dict[str, KeyEntry]: fx_mm key -> its entry, in ``fx_keys`` order.

    Raises:
        ValueError: A key no rule names (the config is not the reference
            structure), naming the keys.
    """
    layers = {int(m.group(1)) for k in fx_keys
              for m in [re.search(r'\.decoder\.layers\.(\d+)\.', k)] if m}
    num_layers = max(layers) + 1 if layers else 0
    neck_convs = len({m.group(1) for k in fx_keys
                      for m in [re.match(r'loc\.neck\.convs\.(\d+)\.', k)]
                      if m})
    table, unknown = {}, []
    for key in fx_keys:
        entry = None
        for pattern, rule in _COMPILED:
            match = pattern.fullmatch(key)
            if not match:
                continue
            fields = match.groupdict()
            if rule.when:
                n = int(fields['n'])
                if (rule.when == 'layer') != (n < num_layers) or \
                        n > num_layers:
                    continue
            entry = _entry(key, rule, fields, names, neck_convs)
            break
        if entry is None:
            unknown.append(key)
        else:
            table[key] = entry
    if unknown:
        raise ValueError(
            f'{len(unknown)} fx_mm keys have no reference name, e.g. '
            f'{unknown[:5]}: the config does not build the reference '
            'network (use configs/reference/fx_cls_reference.py or one that '
            'inherits it without changing the model).')
    return table


def _entry(key: str, rule: Rule, fields: dict, names: ReferenceNames,
           neck_convs: int) -> KeyEntry:
    tail = fields.pop('tail')
    dataset = fields.get('name')
    if 'name' in fields:
        table = _TABLE_OF_TASK[key.split('.')[0]]
        fields['idx'] = names.index(table, fields['name'])
    if key.startswith('seg.spare_heads.'):
        k = int(fields['k'])
        if k >= len(names.seg_heads) or names.seg_heads[k] is not None:
            raise ValueError(
                f'{key}: spare segmentation head {k} is not a spare (None) '
                f'index of foundation_x_reference.seg_heads '
                f'{names.seg_heads}.')
    if 'm' in fields:
        m = int(fields['m'])
        if m % 2:
            raise ValueError(f'{key}: Sequential index {m} of a box MLP is '
                             'not a Linear layer.')
        fields['mlp'] = m // 2
    if 'e' in fields:
        fields['lvl'] = int(fields['e']) + neck_convs
    return KeyEntry(key, tuple(t.format(**fields) + tail for t in rule.ref),
                    rule.reorder, rule.derived, dataset)


# ------------------------------------------------------------- reorderings
def _merge_permutation(channels: int) -> torch.Tensor:
    """Indices p with ``correct_merge_order(x)[..., j] == x[..., p[j]]``:
    convert_swin's permutation, read off an index vector."""
    return correct_merge_order(torch.arange(channels, dtype=torch.float64)
                               ).long()


def reorder(value: torch.Tensor, kind: Optional[str], offset: int,
            to_fx: bool) -> torch.Tensor:
    """Apply (``to_fx``) or undo a layout difference.

    Args:
        value (Tensor): The tensor.
        kind (str, optional): 'patch_merging' (last dim in the official
            2x2 order <-> mmpretrain's unfold order) or 'class_rows' (dim 0:
            fx_mm row k <-> reference row k + offset, rotating).
        offset (int): The localization class-row offset.
        to_fx (bool): Reference -> fx_mm (else back).
    """
    if kind == 'patch_merging':
        if to_fx:
            return correct_merge_order(value)
        perm = _merge_permutation(value.shape[-1])
        return value[..., torch.argsort(perm)].contiguous()
    if kind == 'class_rows' and offset:
        return torch.roll(value, -offset if to_fx else offset, dims=0)
    return value


# ------------------------------------------------------ class-row offsets
OffsetSpec = Union[None, int, Mapping[str, int]]


def resolve_offsets(spec: OffsetSpec, datasets: Sequence[str]
                    ) -> Dict[str, int]:
    """The class-row offset of every localization dataset and of the shared
    denoising label embedding.

    Args:
        spec (None | int | Mapping[str, int]): None for the defaults
            (:data:`DEFAULT_LOC_CLASS_OFFSETS`, 0 for a dataset it does not
            name), one number for every dataset and ``label_enc``, or
            ``{name: offset}`` over the defaults.
        datasets (Sequence[str]): The config's localization datasets
            (``foundation_x_reference.loc_decoders``).

    Returns:
        dict[str, int]: Each of ``datasets``, then ``'label_enc'`` -> 0 or
        1.

    Raises:
        ValueError: A name that is neither a dataset of ``datasets`` nor
            ``label_enc``, or an offset other than 0 and 1.
    """
    names = list(datasets) + [LABEL_ENC]
    if spec is None or isinstance(spec, Mapping):
        given = dict(spec or {})
        unknown = [k for k in given if k not in names]
        if unknown:
            raise ValueError(
                f'localization class-row offset for {unknown[0]!r}: not a '
                "localization dataset of the config's "
                f'foundation_x_reference.loc_decoders; the names are '
                f'{names}.')
        offsets = {n: given.get(n, DEFAULT_LOC_CLASS_OFFSETS.get(n, 0))
                   for n in names}
    else:
        offsets = dict.fromkeys(names, spec)
    bad = {k: v for k, v in offsets.items()
           if type(v) is not int or v not in (0, 1)}
    if bad:
        raise ValueError(f'a localization class-row offset is 0 or 1, not '
                         f'{bad}.')
    return offsets


def parse_offset_option(values: Optional[Sequence[str]]) -> OffsetSpec:
    """``--loc-class-offset``'s words: one number for every dataset, or
    ``NAME=0|1`` pairs (the rest keep their defaults); None when absent.

    Raises:
        ValueError: Words of neither form, or both forms mixed.
    """
    if not values:
        return None
    if len(values) == 1 and re.fullmatch(r'-?\d+', values[0]):
        return int(values[0])
    pairs = [re.fullmatch(r'([^=]+)=(-?\d+)', v) for v in values]
    if not all(pairs):
        raise ValueError(
            '--loc-class-offset takes one number (0 or 1) for every '
            'localization dataset, or NAME=0|1 pairs (e.g. ChestX-Det=1 '
            f'TBX11K=0), not {" ".join(values)!r}.')
    return {m.group(1): int(m.group(2)) for m in pairs}


def _offset_of(entry: 'KeyEntry', offsets: Union[int, Mapping[str, int]]
               ) -> int:
    """The class-row offset that applies to one key (0 unless it holds
    class rows): its dataset's, or label_enc's for the shared embedding."""
    if entry.reorder != 'class_rows':
        return 0
    if isinstance(offsets, int):
        return offsets
    return offsets[entry.dataset or LABEL_ENC]


# ------------------------------------------------------- reading the file
def strip_module(state: Mapping) -> Tuple[Dict, bool]:
    """Remove DDP's ``module.`` prefix; say whether there was one."""
    prefixed = bool(state) and all(k.startswith('module.') for k in state)
    if not prefixed:
        return dict(state), False
    return {k[len('module.'):]: v for k, v in state.items()}, True


def _is_state_dict(value) -> bool:
    return isinstance(value, Mapping) and bool(value) and all(
        isinstance(k, str) for k in value) and any(
            torch.is_tensor(v) for v in value.values())


def describe_entry(value) -> str:
    """A short description of an ignored checkpoint entry."""
    if isinstance(value, Mapping) and 'param_groups' in value:
        return (f'optimizer state: {len(value.get("state", {}))} parameters '
                f'in {len(value["param_groups"])} groups')
    if isinstance(value, (int, float, str, bool)) or value is None:
        return repr(value)
    if isinstance(value, Mapping):
        return f'{type(value).__name__} of {len(value)} entries'
    if isinstance(value, (list, tuple)):
        return f'{type(value).__name__} of {len(value)} items'
    return type(value).__name__


def what_it_is(keys: Sequence[str]) -> str:
    """Name the kind of checkpoint a key set looks like (for errors)."""
    keys = list(keys)

    def has(prefix):
        return any(k.startswith(prefix) for k in keys)

    if has('backbone.stages.') and (has('cls_heads.') or has('loc.') or
                                    has('seg.') or has('teacher.')):
        return ('an fx_mm checkpoint (backbone.stages.*, cls_heads.* / loc.* '
                '/ seg.* keys): it needs no conversion; pass it to '
                'tools/test.py, tools/infer.py or LoadFoundationXHook as it '
                'is')
    if has('backbone.stages.') or has('stages.0.blocks.'):
        return ('an mmpretrain Swin (stages.* keys), not a Foundation X '
                'model')
    if has('layers.0.blocks.') or has('patch_embed.proj.'):
        return ('an official / timm Swin (layers.*, patch_embed.proj.* '
                'keys), e.g. an ImageNet or Ark backbone: initialise a '
                'backbone from it with tools/convert_swin.py')
    if has('backbone.0.') and not has('transformer.'):
        return ('a reference-style backbone without the localization '
                'transformer (backbone.0.* but no transformer.* keys), not a '
                'whole Foundation X checkpoint')
    return f'keys such as {sorted(keys)[:5]}'


# Foundation X+ (the authors' later model, jlianglab/Foundation_X:
# Foundation_X+/models/dino/deformable_transformer_F6_consolidated.py, built
# by dino_F6_consolidated.py, the model Foundation_X+/models/dino/
# __init__.py selects) consolidates the six localization decoders into one:
# its keys are transformer.decoder.layers.{n}.*, .norm, .ref_point_head
# with no dataset index, the datasets' class / box layers hang under that
# decoder as transformer.decoder.class_embed.{t}.{n} / bbox_embed.{t}.{n},
# the content queries become six embeddings transformer.tgt_embed.{t}, and
# enc_output / enc_output_norm lose their index (no
# enc_outputMem_LinearProjection). Foundation X has
# transformer.decoder.{t}.* only (RULES, and the manifest in
# tests/fixtures/foundation_x_reference/). No Foundation X+ file was at
# hand: the recognition rests on this key layout as read from the code.
_INDEXED_DECODER = re.compile(r'transformer\.decoder\.\d+\.')
_SHARED_DECODER = 'transformer.decoder.layers.'
_PER_DATASET_QUERIES = re.compile(r'transformer\.tgt_embed\.\d+\.weight')


def single_decoder_model(state: Mapping[str, torch.Tensor], path: str,
                         part: str) -> Optional[str]:
    """Why a reference-style state dict is not Foundation X, when its DINO
    decoder has no dataset index (see the comment above); None otherwise.

    Args:
        state (Mapping): Keys (``module.`` removed) -> tensors.
        path (str): The file, for the message.
        part (str): 'student' / 'teacher', for the message.

    Returns:
        str | None: The refusal: Foundation X+ when the content queries are
        per dataset too, else a single-decoder model of unknown origin.
    """
    keys = list(state)
    if not any(k.startswith(_SHARED_DECODER) for k in keys) or \
            any(_INDEXED_DECODER.match(k) for k in keys):
        return None
    if any(_PER_DATASET_QUERIES.fullmatch(k) for k in keys):
        return (
            f"{path} is a Foundation X+ checkpoint (the authors' later "
            f'model): its {part} weights have one DINO decoder shared by '
            'the localization datasets (transformer.decoder.layers.* with '
            'no dataset index) and per-dataset content queries '
            '(transformer.tgt_embed.{t}), where Foundation X has a decoder '
            'per dataset (transformer.decoder.{t}.*). fx_mm does not load '
            "Foundation X+ checkpoints: it builds Foundation X's "
            'decoder-per-dataset network, in which a shared decoder has no '
            'counterpart.')
    return (
        f'{path} is not a Foundation X reference checkpoint: its {part} '
        'weights have one DINO decoder with no dataset index '
        '(transformer.decoder.layers.*) where Foundation X has one per '
        'dataset (transformer.decoder.{t}.*) -- the layout of a '
        "single-decoder model such as Foundation X+ (the authors' later "
        'model) or a plain DINO. fx_mm does not load a single-decoder '
        'model.')


@dataclass
class ReferenceFile:
    """The network state dicts of a reference checkpoint file.

    Attributes:
        student (dict): The ``model`` entry (or the file's only state dict;
            in an EMA-only file, ``teacher_model``), ``module.`` removed.
        teacher (dict, optional): ``teacher_model``, likewise.
        entries (dict): Entry -> what it was used as.
        ignored (dict): Entry -> description (optimizer, epoch, ...).
        module_prefix (bool): Keys came with DDP's ``module.``.
        teacher_only (bool): The file holds ``teacher_model`` and no
            student; ``student`` and ``teacher`` are both that entry.
    """
    student: Dict[str, torch.Tensor]
    teacher: Optional[Dict[str, torch.Tensor]]
    entries: Dict[str, str]
    ignored: Dict[str, str]
    module_prefix: bool = False
    teacher_only: bool = False


def read_reference(checkpoint, path: str = 'the checkpoint') -> ReferenceFile:
    """Find the student and teacher state dicts in a loaded checkpoint.

    Accepts the reference's ``{'model', 'teacher_model', 'optimizer' ...,
    'epoch'}``, one with ``teacher_model`` and no ``model`` (an EMA-only
    release: the teacher serves as both), a ``{'state_dict': ...}`` wrapper
    or a bare state dict.

    Raises:
        NotAReferenceCheckpoint: Naming what the file looks like instead;
            a Foundation X+ (single-decoder) checkpoint is named as such.
    """
    if not isinstance(checkpoint, Mapping):
        raise NotAReferenceCheckpoint(
            f'{path} holds a {type(checkpoint).__name__}, not a checkpoint '
            'dict.')
    entries, ignored = {}, {}
    if _is_state_dict(checkpoint.get(STUDENT_ENTRY)):
        student_key = STUDENT_ENTRY
    elif _is_state_dict(checkpoint.get('state_dict')):
        student_key = 'state_dict'
    elif _is_state_dict(checkpoint.get(TEACHER_ENTRY)):
        student_key = TEACHER_ENTRY
    elif _is_state_dict(checkpoint):
        student_key = None
    else:
        raise NotAReferenceCheckpoint(
            f'{path} is not a Foundation X reference checkpoint: it has no '
            f"'model', 'teacher_model' or 'state_dict' entry of weights "
            f'(entries: {sorted(map(str, checkpoint))[:10]}).')
    teacher_only = student_key == TEACHER_ENTRY
    if student_key is None:
        student, prefixed = strip_module(
            {k: v for k, v in checkpoint.items() if torch.is_tensor(v)})
        entries['(the file itself)'] = 'student'
        ignored.update({k: describe_entry(v) for k, v in checkpoint.items()
                        if not torch.is_tensor(v)})
        teacher = None
    elif teacher_only:
        # An EMA-only release: its one network is the teacher, and the
        # student a training run starts from is that same network.
        student, prefixed = strip_module(checkpoint[TEACHER_ENTRY])
        teacher = student
        entries[TEACHER_ENTRY] = 'student and teacher'
        ignored.update({k: describe_entry(v) for k, v in checkpoint.items()
                        if k not in entries})
    else:
        student, prefixed = strip_module(checkpoint[student_key])
        entries[student_key] = 'student'
        teacher = None
        if _is_state_dict(checkpoint.get(TEACHER_ENTRY)):
            teacher, _ = strip_module(checkpoint[TEACHER_ENTRY])
            entries[TEACHER_ENTRY] = 'teacher'
        ignored.update({k: describe_entry(v) for k, v in checkpoint.items()
                        if k not in entries})
    parts = (('teacher', student),) if teacher_only else (
        ('student', student), ('teacher', teacher))
    for name, state in parts:
        if state is None:
            continue
        if not (any(k.startswith(_B + 'layers.') for k in state) and
                any(k.startswith('transformer.') for k in state)):
            raise NotAReferenceCheckpoint(
                f'{path} is not a Foundation X reference checkpoint (its '
                f'{name} weights have no backbone.0.layers.* and '
                f'transformer.* keys): it looks like {what_it_is(state)}.')
        refusal = single_decoder_model(state, path, name)
        if refusal:
            raise NotAReferenceCheckpoint(refusal)
    return ReferenceFile(student, teacher, entries, ignored, prefixed,
                         teacher_only)


# ------------------------------------------------------------- conversion
@dataclass
class PartReport:
    """What happened to one state dict (student or teacher).

    Attributes:
        source_keys (int): Keys read.
        mapped (int): Source keys renamed onto an fx_mm / reference key
            (several source names of one tensor count each).
        written (int): Keys written.
        derived (list[str]): Source buffers the target model derives (not
            taken from the source).
        unmapped (list[str]): Source keys with no counterpart.
        missing (list[str]): Target keys no source key provides.
        reordered (dict[str, int]): Tensors reordered, by kind.
    """
    source_keys: int = 0
    mapped: int = 0
    written: int = 0
    derived: List[str] = field(default_factory=list)
    unmapped: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    reordered: Dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.unmapped and not self.missing


def _shape_error(src: str, dst: str, got, want) -> str:
    return f'{src} -> {dst}: {tuple(got)} in the file, {tuple(want)} here'


def _raise_shapes(bad: List[str]) -> None:
    raise ValueError(
        f'{len(bad)} tensors do not fit the config\'s model:\n  ' +
        '\n  '.join(bad[:10]) + ('\n  ...' if len(bad) > 10 else '') +
        '\nIs --config the reference config of this checkpoint (Swin-B: '
        'configs/reference/fx_cls_reference.py; tiny: '
        'configs/reference/fx_cls_reference_tiny.py)?')


def to_fx(state: Mapping[str, torch.Tensor], table: Mapping[str, KeyEntry],
          template: Mapping[str, torch.Tensor],
          shared: Sequence[Sequence[str]],
          offsets: Union[int, Mapping[str, int]]
          ) -> Tuple[Dict[str, torch.Tensor], PartReport]:
    """Convert one reference state dict to fx_mm keys.

    Args:
        state (Mapping): Reference keys (``module.`` removed) -> tensors.
        table (Mapping): :func:`key_table`.
        template (Mapping): The fx_mm model's state dict (shapes, derived
            buffers).
        shared (Sequence[Sequence[str]]): Groups of fx_mm keys that are one
            tensor in the model (they must receive equal values).
        offsets (int | Mapping[str, int]): Localization class-row offsets
            (:func:`resolve_offsets`), or one for every dataset.

    Returns:
        tuple: The fx_mm state dict (every template key when the report is
        ok, in the template's order) and the :class:`PartReport`.

    Raises:
        ValueError: A shape that does not fit, or two names of one tensor
            holding different values.
    """
    by_ref = {ref: entry for entry in table.values() for ref in entry.ref}
    report = PartReport(source_keys=len(state))
    out, source_of, bad_shapes = {}, {}, []
    for key, value in state.items():
        entry = by_ref.get(key)
        if entry is None:
            if key.startswith(_B) and key.split('.')[-1] in DERIVED_BUFFERS:
                report.derived.append(key)
            else:
                report.unmapped.append(key)
            continue
        if entry.derived:
            report.derived.append(key)
            continue
        if not torch.is_tensor(value):
            report.unmapped.append(key)
            continue
        offset = _offset_of(entry, offsets)
        value = reorder(value, entry.reorder, offset, to_fx=True)
        want = template[entry.fx].shape
        if value.shape != want:
            bad_shapes.append(_shape_error(key, entry.fx, value.shape, want))
            continue
        report.mapped += 1
        if entry.fx in out:
            if not torch.equal(out[entry.fx], value):
                raise ValueError(
                    f'{source_of[entry.fx]} and {key} are one tensor in the '
                    f'reference model ({entry.fx} in fx_mm) but differ in '
                    'the file: it was not saved from the reference network.')
            continue
        if entry.reorder and (entry.reorder != 'class_rows' or offset):
            report.reordered[entry.reorder] = \
                report.reordered.get(entry.reorder, 0) + 1
        out[entry.fx], source_of[entry.fx] = value, key
    if bad_shapes:
        _raise_shapes(bad_shapes)
    for entry in table.values():
        if entry.derived:
            out[entry.fx] = template[entry.fx].clone()
    report.missing = [k for k in template if k not in out]
    _tie(out, shared, source_of)
    report.written = len(out)
    return {k: out[k] for k in template if k in out}, report


def _tie(out: Dict[str, torch.Tensor], shared: Sequence[Sequence[str]],
         source_of: Mapping[str, str]) -> None:
    """One tensor object for the keys of one model tensor, after checking
    that their sources agree."""
    for group in shared:
        present = [k for k in group if k in out]
        if len(present) < 2:
            continue
        first = out[present[0]]
        for key in present[1:]:
            if not torch.equal(first, out[key]):
                raise ValueError(
                    f'{source_of.get(present[0], present[0])} and '
                    f'{source_of.get(key, key)} are one tensor in the '
                    'reference model but differ in the file: it was not '
                    'saved from the reference network.')
            out[key] = first


def to_reference(state: Mapping[str, torch.Tensor],
                 table: Mapping[str, KeyEntry],
                 template: Mapping[str, torch.Tensor],
                 offsets: Union[int, Mapping[str, int]]
                 ) -> Tuple[Dict[str, torch.Tensor], PartReport]:
    """Convert one fx_mm state dict (no ``teacher.``) to reference keys.

    Every reference name of a tensor is written, as one tensor object (as
    the reference's own state dict lists it); derived buffers are written
    from the fx_mm state dict.

    Raises:
        ValueError: Tensors whose shape is not the config's.
    """
    report = PartReport(source_keys=len(state))
    out, bad_shapes = {}, []
    for key, value in state.items():
        entry = table.get(key)
        if entry is None:
            report.unmapped.append(key)
            continue
        if value.shape != template[key].shape:
            bad_shapes.append(_shape_error(key, entry.ref[0], value.shape,
                                           template[key].shape))
            continue
        report.mapped += 1
        offset = _offset_of(entry, offsets)
        value = reorder(value, entry.reorder, offset, to_fx=False)
        if entry.reorder and (entry.reorder != 'class_rows' or offset):
            report.reordered[entry.reorder] = \
                report.reordered.get(entry.reorder, 0) + 1
        for ref in entry.ref:
            out[ref] = value
    if bad_shapes:
        _raise_shapes(bad_shapes)
    report.missing = [k for k in table if k not in state]
    report.written = len(out)
    return out, report


def shared_groups(model_state: Mapping[str, torch.Tensor]
                  ) -> List[List[str]]:
    """Keys of a ``state_dict(keep_vars=True)`` that are one tensor."""
    groups: Dict[int, List[str]] = {}
    for key, value in model_state.items():
        groups.setdefault(id(value), []).append(key)
    return [keys for keys in groups.values() if len(keys) > 1]


def format_report(name: str, report: PartReport, source: str,
                  target: str, limit: int = 50) -> List[str]:
    """Summary lines of one part."""
    lines = [
        f'{name}: {report.source_keys} {source} keys: {report.mapped} mapped, '
        f'{len(report.derived)} derived buffers (rebuilt by the model), '
        f'{len(report.unmapped)} unmapped; {report.written} {target} keys '
        f'written, {len(report.missing)} missing']
    if report.reordered:
        lines.append('  reordered: ' + ', '.join(
            f'{kind.replace("_", " ")} {n}'
            for kind, n in sorted(report.reordered.items())))
    for title, side, keys in (('unmapped', source, report.unmapped),
                              ('missing', target, report.missing)):
        if keys:
            lines.append(f'  {title} {side} keys:')
            lines += [f'    {k}' for k in keys[:limit]]
            if len(keys) > limit:
                lines.append(f'    ... and {len(keys) - limit} more')
    return lines


# ---------------------------------------------------------------- files
@dataclass
class Template:
    """What a reference config's model looks like, for conversion.

    Attributes:
        state (dict): The student's state dict (shapes, derived buffers).
        table (dict): :func:`key_table`.
        shared (list[list[str]]): Student keys that are one tensor.
        names (ReferenceNames): The config's dataset table.
    """
    state: Dict[str, torch.Tensor]
    table: Dict[str, KeyEntry]
    shared: List[List[str]]
    names: ReferenceNames


def build_template(config: str) -> Template:
    """Build the config's student on the CPU (no weight init: only names,
    shapes and derived buffers are used) and name its keys."""
    from mmengine.config import Config

    from .model_summary import build_model_from_cfg
    cfg = Config.fromfile(config)
    names = ReferenceNames.from_config(cfg, config)
    # The teacher is a copy of the student: its keys are 'teacher.' + the
    # student's, so it need not be built.
    cfg.model.teacher = False
    model = build_model_from_cfg(cfg)
    keep = model.state_dict(keep_vars=True)
    state = {k: v.detach() for k, v in keep.items()}
    return Template(state, key_table(list(state), names), shared_groups(keep),
                    names)


def sha256_of(path: str, chunk: int = 1 << 24) -> str:
    import hashlib
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def load_file(path: str):
    """The reference checkpoint at ``path``, read under ``weights_only``
    (:func:`fx_mm.utils.checkpoint_safety.load_weights_only`)."""
    return load_weights_only(path, keep=(STUDENT_ENTRY, TEACHER_ENTRY))


@dataclass
class FileConversion:
    """A converted checkpoint and what happened.

    Attributes:
        checkpoint (dict): What to save.
        parts (dict[str, PartReport]): 'student' and, if any, 'teacher'.
        lines (list[str]): The printed summary.
    """
    checkpoint: dict
    parts: Dict[str, PartReport]
    lines: List[str]

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.parts.values())


def _offset_lines(offsets: Mapping[str, int], spec: OffsetSpec
                  ) -> List[str]:
    """How the class rows were taken, per dataset, and why."""
    given = set(offsets) if isinstance(spec, int) else set(spec or ())

    def why(name: str) -> str:
        if name in given:
            return '--loc-class-offset'
        if name == LABEL_ENC:
            return ('default: shared by the six, 1 as both datasets whose '
                    'ids are known')
        if name in DEFAULT_LOC_CLASS_OFFSETS:
            return 'default: 1-based ids in the reference code'
        return 'default: no evidence, rows kept'

    lines = ['localization class rows (fx_mm class k <- reference row k + '
             'offset, i.e. COCO category_id k + offset; see '
             '--loc-class-offset):']
    for name, offset in offsets.items():
        label = ('label_enc (denoising label embedding)'
                 if name == LABEL_ENC else name)
        lines.append(f'  {label} {offset} ({why(name)})')
    return lines


def convert_reference_file(src: str, config: str,
                           offsets: OffsetSpec = None) -> FileConversion:
    """Read a reference checkpoint and convert it for ``config``.

    Args:
        src (str): The reference checkpoint.
        config (str): A reference config (``foundation_x_reference``).
        offsets (None | int | Mapping[str, int]): Localization class-row
            offsets, as :func:`resolve_offsets` takes them.

    Returns:
        FileConversion: ``checkpoint`` is ``{'state_dict': student keys and
        'teacher.' + keys, 'meta': {...}}`` -- the format of fx_mm's own
        training checkpoints.

    Raises:
        NotAReferenceCheckpoint: The file is something else (named).
        ValueError: Shapes that do not fit the config, or names of one
            tensor holding different values.
    """
    template = build_template(config)
    resolved = resolve_offsets(offsets, template.names.loc_decoders)
    ref = read_reference(load_file(src), src)
    digest = sha256_of(src)
    state, parts = {}, {}
    if ref.teacher_only:
        # One network, converted once; the student gets its own copy so
        # that the file holds two independent state dicts, as training
        # writes them.
        converted, parts['teacher'] = to_fx(ref.teacher, template.table,
                                            template.state, template.shared,
                                            resolved)
        state.update({k: v.clone() for k, v in converted.items()})
        state.update({TEACHER_PREFIX + k: v for k, v in converted.items()})
    for name, source, prefix in (('student', ref.student, ''),
                                 ('teacher', ref.teacher, TEACHER_PREFIX)):
        if source is None or ref.teacher_only:
            continue
        converted, parts[name] = to_fx(source, template.table,
                                       template.state, template.shared,
                                       resolved)
        state.update({prefix + k: v for k, v in converted.items()})
    lines = [f'Foundation X reference -> fx_mm, for {config}',
             f'source: {src}', f'  sha256 {digest}',
             '  entries: ' + ', '.join(f'{k} ({v})'
                                       for k, v in ref.entries.items()),
             f'  ignored: {len(ref.ignored)} entries' + ''.join(
                 f'\n    {k}: {v}' for k, v in ref.ignored.items()),
             "  'module.' prefix: " + ('removed' if ref.module_prefix
                                       else 'none')]
    lines += _offset_lines(resolved, offsets)
    if ref.teacher_only:
        lines.append("teacher only: the file has no student ('model'), only "
                     "the EMA teacher ('teacher_model'): it is written as "
                     'both the student and the teacher (teacher.*), so the '
                     'tools predict with it and LoadFoundationXHook starts '
                     "from it with use='teacher' or use='student' alike")
    elif ref.teacher is None:
        lines.append('teacher: none in the file (trained without an EMA '
                     'teacher): the student is written alone, and the tools '
                     'predict with it')
    for name, report in parts.items():
        lines += format_report(name, report, 'reference', 'fx_mm')
    meta = dict(
        foundation_x_reference=dict(
            source=src, sha256=digest, config=config,
            entries=dict(ref.entries), ignored=dict(ref.ignored),
            module_prefix=ref.module_prefix, loc_class_offset=resolved,
            teacher=ref.teacher is not None, teacher_only=ref.teacher_only),
        note=f'converted from the Foundation X reference checkpoint {src} '
        f'(sha256 {digest}) by tools/convert_foundation_x.py')
    return FileConversion(dict(state_dict=state, meta=meta), parts, lines)


def convert_fx_file(src: str, config: str,
                    offsets: OffsetSpec = None) -> FileConversion:
    """The reverse: an fx_mm checkpoint of ``config`` in the reference's
    layout, ``{'model': ..., 'teacher_model': ...}`` (the teacher when the
    file has one), class rows moved back by ``offsets``
    (:func:`resolve_offsets`)."""
    from .checkpoint_parts import read_checkpoint
    template = build_template(config)
    resolved = resolve_offsets(offsets, template.names.loc_decoders)
    state, _ = read_checkpoint(src)
    if not any(k.startswith('backbone.stages.') for k in state):
        raise ValueError(f'{src} is not an fx_mm checkpoint: it looks like '
                         f'{what_it_is(state)}.')
    student = {k: v for k, v in state.items()
               if not k.startswith(TEACHER_PREFIX)}
    teacher = {k[len(TEACHER_PREFIX):]: v for k, v in state.items()
               if k.startswith(TEACHER_PREFIX)}
    out, parts = {}, {}
    for name, source, entry in (('student', student, STUDENT_ENTRY),
                                ('teacher', teacher, TEACHER_ENTRY)):
        if not source:
            continue
        out[entry], parts[name] = to_reference(source, template.table,
                                                template.state, resolved)
    lines = [f'fx_mm -> Foundation X reference, for {config}',
             f'source: {src}'] + _offset_lines(resolved, offsets)
    for name, report in parts.items():
        lines += format_report(name, report, 'fx_mm', 'reference')
    return FileConversion(out, parts, lines)
