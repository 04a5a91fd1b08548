"""Swin Transformer weights from the official / timm key layout to mmpretrain's.

Ark-6 and most Swin-B checkpoints are published in the key layout of the
official Swin repository (``layers.{i}.blocks.{j}.attn.qkv``,
``layers.{i}.downsample`` at the *end* of stage ``i``) or of timm >= 0.9 (the
same block names, but ``layers.{i}.downsample`` at the *start* of stage ``i``
and ``head.fc``). mmpretrain's ``SwinTransformer`` names the same tensors
differently and differs in two numeric details handled here:

* **Patch merging order.** The official and timm PatchMerging concatenate the
  four pixels of each 2x2 window as (row, col) = (0,0), (1,0), (0,1), (1,1),
  channel blocks after each other: feature index ``k * C + c``. mmpretrain
  gathers them with ``nn.Unfold``, whose order is channel-major and then
  (0,0), (0,1), (1,0), (1,1): index ``c * 4 + k'``. The reduction weight's
  input columns and the merge norm's parameters are permuted accordingly;
  loading them unpermuted gives a model that runs but is wrong.
* **Relative-position tables** are ``(2 * window - 1) ** 2`` rows; a
  checkpoint trained with another window size is resized bicubically in its
  2-D layout.

Buffers derived from the window size (``relative_position_index``,
``attn_mask``) are not weights and are rebuilt by the target model.
"""
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F

# Buffers the target model rebuilds from its own window / input size.
DERIVED_BUFFERS = ('relative_position_index', 'attn_mask')

# The four pixels of a 2x2 merge window in the official / timm order, listed
# by their position in mmpretrain's unfold order (0,0), (0,1), (1,0), (1,1).
_UNFOLD_FROM_OFFICIAL = [0, 2, 1, 3]

BLOCK_RENAMES = [
    ('attn.qkv.', 'attn.w_msa.qkv.'),
    ('attn.proj.', 'attn.w_msa.proj.'),
    ('attn.relative_position_bias_table',
     'attn.w_msa.relative_position_bias_table'),
    ('mlp.fc1.', 'ffn.layers.0.0.'),
    ('mlp.fc2.', 'ffn.layers.1.'),
    ('norm1.', 'norm1.'),
    ('norm2.', 'norm2.'),
]


@dataclass
class SwinConversion:
    """The converted weights and what happened to every key.

    Attributes:
        state_dict (dict): mmpretrain ``SwinTransformer`` keys -> tensors.
        layout (str): ``official`` or ``timm``, as detected or given.
        resized (list[str]): Target keys whose table was resized, with shapes.
        unmatched (list[str]): Source keys with no mmpretrain counterpart
            (classification head, projectors, ...), left out.
        derived (list[str]): Source buffers dropped because the target
            rebuilds them.
        missing (list[str]): Target weights the source did not provide; they
            keep the target's own initialisation.
    """
    state_dict: Dict[str, torch.Tensor]
    layout: str
    resized: List[str] = field(default_factory=list)
    unmatched: List[str] = field(default_factory=list)
    derived: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)

    def report(self) -> str:
        """A human-readable summary of the conversion."""
        lines = [f'layout: {self.layout}; converted {len(self.state_dict)} '
                 f'tensors']
        for title, keys in (('resized', self.resized),
                            ('unmatched source keys (left out)',
                             self.unmatched),
                            ('derived buffers (rebuilt by the model)',
                             self.derived),
                            ('target weights not in the source (keep their '
                             'initialisation)', self.missing)):
            lines.append(f'{title}: {len(keys)}')
            lines.extend(f'  {k}' for k in keys)
        return '\n'.join(lines)


def unwrap_state_dict(checkpoint: dict, key: Optional[str] = None
                      ) -> Dict[str, torch.Tensor]:
    """The Swin weights inside a checkpoint file's dict.

    Args:
        checkpoint (dict): What ``torch.load`` returned.
        key (str, optional): The entry holding the weights (``teacher`` for
            Ark's teacher). By default the first of ``state_dict``, ``model``,
            ``teacher`` that exists, else the dict itself.

    Returns:
        dict: Tensors with ``module.`` / ``backbone.`` / ``encoder.``
        prefixes (DDP and wrapper models) removed.
    """
    if key is not None:
        if key not in checkpoint:
            raise KeyError(f'checkpoint has no entry {key!r} (entries: '
                           f'{sorted(checkpoint)[:20]}).')
        state = checkpoint[key]
    else:
        state = next((checkpoint[k] for k in ('state_dict', 'model', 'teacher')
                      if isinstance(checkpoint.get(k), dict)), checkpoint)
    out = {}
    for name, value in state.items():
        if not torch.is_tensor(value):
            continue
        for prefix in ('module.', 'backbone.', 'encoder.'):
            if name.startswith(prefix):
                name = name[len(prefix):]
        out[name] = value
    return out


def detect_layout(state: Dict[str, torch.Tensor]) -> str:
    """``official`` (merge at the end of a stage) or ``timm`` (at the start).

    Raises:
        ValueError: If the keys are not a Swin in either layout.
    """
    stages = {int(m.group(1)) for k in state
              for m in [re.match(r'layers\.(\d+)\.downsample\.', k)] if m}
    if not any(k.startswith('layers.') for k in state):
        raise ValueError('no layers.* keys: not an official / timm Swin '
                         f'checkpoint (first keys: {sorted(state)[:5]}).')
    if not stages or 0 in stages:
        return 'official'
    return 'timm'


def correct_merge_order(tensor: torch.Tensor) -> torch.Tensor:
    """Permute a patch-merging tensor from official / timm to unfold order.

    Args:
        tensor (Tensor): The reduction weight (out, 4C) or a norm parameter
            (4C,), in the official layout (index ``k * C + c``).

    Returns:
        Tensor: The same values at mmpretrain's index ``c * 4 + k'``.
    """
    lead = tensor.shape[:-1]
    channels = tensor.shape[-1] // 4
    blocks = tensor.reshape(*lead, 4, channels)[..., _UNFOLD_FROM_OFFICIAL, :]
    return blocks.transpose(-1, -2).reshape(*lead, 4 * channels)


def resize_relative_position_table(table: torch.Tensor, rows: int
                                   ) -> torch.Tensor:
    """Resize a ((2w-1)^2, heads) bias table to ``rows`` rows bicubically."""
    src_side = int(round(table.shape[0] ** 0.5))
    dst_side = int(round(rows ** 0.5))
    if src_side ** 2 != table.shape[0] or dst_side ** 2 != rows:
        raise ValueError(f'relative-position tables must be square: '
                         f'{table.shape[0]} -> {rows} rows.')
    heads = table.shape[1]
    grid = table.T.reshape(1, heads, src_side, src_side).float()
    grid = F.interpolate(grid, size=(dst_side, dst_side), mode='bicubic',
                         align_corners=False)
    return grid.reshape(heads, rows).T.to(table.dtype)


def _target_name(name: str, layout: str, num_stages: int) -> Optional[str]:
    """The mmpretrain name of an official / timm key (None: no counterpart)."""
    if name.startswith('patch_embed.proj.'):
        return name.replace('patch_embed.proj.', 'patch_embed.projection.')
    if name.startswith('patch_embed.norm.') or name == 'absolute_pos_embed':
        return name
    if name.startswith('norm.'):
        return f'norm{num_stages - 1}.' + name[len('norm.'):]
    match = re.match(r'layers\.(\d+)\.downsample\.(.*)', name)
    if match:
        stage = int(match.group(1))
        # timm moved the merge to the start of the next stage.
        stage = stage - 1 if layout == 'timm' else stage
        return f'stages.{stage}.downsample.{match.group(2)}'
    match = re.match(r'layers\.(\d+)\.blocks\.(\d+)\.(.*)', name)
    if match:
        stage, block, rest = match.groups()
        for old, new in BLOCK_RENAMES:
            if rest.startswith(old):
                return f'stages.{stage}.blocks.{block}.' + new + \
                    rest[len(old):]
    return None


def convert_swin(state: Dict[str, torch.Tensor],
                 target: Dict[str, torch.Tensor],
                 layout: Optional[str] = None) -> SwinConversion:
    """Convert official / timm Swin weights to mmpretrain's names and shapes.

    Args:
        state (dict): Source weights (see :func:`unwrap_state_dict`).
        target (dict): ``state_dict()`` of the mmpretrain SwinTransformer the
            weights are for: gives the names that exist and the table sizes.
        layout (str, optional): ``official`` or ``timm``; detected if None.

    Returns:
        SwinConversion: Weights and the key report.

    Raises:
        ValueError: If a converted tensor's shape does not fit the target
            (another architecture), naming the key and both shapes.
    """
    layout = layout or detect_layout(state)
    stage_ids = {int(k.split('.')[1]) for k in target
                 if k.startswith('stages.')}
    result = SwinConversion(state_dict={}, layout=layout)
    for name, value in sorted(state.items()):
        if name.split('.')[-1] in DERIVED_BUFFERS:
            result.derived.append(name)
            continue
        new = _target_name(name, layout, len(stage_ids))
        if new is None or new not in target:
            result.unmatched.append(name)
            continue
        if '.downsample.' in new:
            value = correct_merge_order(value)
        if new.endswith('relative_position_bias_table') and \
                value.shape != target[new].shape:
            result.resized.append(f'{new}: {tuple(value.shape)} -> '
                                  f'{tuple(target[new].shape)}')
            value = resize_relative_position_table(value,
                                                   target[new].shape[0])
        if value.shape != target[new].shape:
            raise ValueError(f'{name} -> {new}: shape {tuple(value.shape)} '
                             f'does not fit the target '
                             f'{tuple(target[new].shape)}; is the config\'s '
                             'Swin arch the checkpoint\'s?')
        result.state_dict[new] = value.clone()
    result.missing = sorted(
        k for k in target if k not in result.state_dict and
        k.split('.')[-1] not in DERIVED_BUFFERS)
    return result


def target_template(backbone_cfg: dict) -> Tuple[torch.nn.Module, dict]:
    """Build the config's mmpretrain backbone; return it and its state dict.

    The class is taken from mmpretrain directly: through a registry, the
    default scope of the moment (mmdet, mmseg) could pick their Swin.
    """
    from mmpretrain.models import SwinTransformer
    cfg = dict(backbone_cfg)
    kind = cfg.pop('type')
    if kind.split('.')[-1] != 'SwinTransformer':
        raise ValueError(f'model.backbone is {kind}, not an mmpretrain '
                         'SwinTransformer.')
    cfg.pop('init_cfg', None)
    model = SwinTransformer(**cfg)
    return model, model.state_dict()
