"""Build a Foundation X model from a config and count its parameters."""
from typing import List, Tuple

from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn


def build_model_from_cfg(cfg: Config) -> nn.Module:
    """Build ``cfg.model`` in the config's default scope (no data needed)."""
    from mmdet.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    return MODELS.build(cfg.model)


def build_initialised_model(cfg: Config, seed: int = 0,
                            **model_overrides) -> nn.Module:
    """Build ``cfg.model`` (with overrides), initialise its weights with
    ``seed`` and make the teacher, if any, a copy of the student -- the
    state training starts from."""
    import copy

    import torch
    cfg = copy.deepcopy(cfg)
    cfg.model.update(model_overrides)
    torch.manual_seed(seed)
    model = build_model_from_cfg(cfg)
    model.init_weights()
    if getattr(model, 'teacher', None) is not None:
        model.sync_teacher()
    return model


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def component_param_counts(model: nn.Module) -> List[Tuple[str, int]]:
    """Parameter counts of a FoundationX model, component by component.

    The rows follow paper Table 9 (backbone, classification heads,
    localization encoder, each localization decoder, segmentation decoder,
    segmentation heads), plus the localization neck and level embeddings,
    which the table does not list. The rows add up to the student's total;
    the teacher is excluded.

    Args:
        model (FoundationX): The model.

    Returns:
        list[tuple[str, int]]: ``(component, parameter count)`` rows.
    """
    rows = [('backbone', _count(model.backbone))]
    if model.cls_heads is not None:
        rows.append((f'classification heads ({len(model.cls_heads)})',
                     _count(model.cls_heads) + _count(model.cls_neck)))
    if model.loc is not None:
        loc = model.loc
        encoder = _count(loc.encoder)
        decoders = [(name, _count(parts))
                    for name, parts in loc.per_dataset.items()]
        rest = _count(loc) - encoder - sum(n for _, n in decoders)
        rows.append(('localization neck + level embeddings', rest))
        rows.append(('localization encoder', encoder))
        rows += [(f'localization decoder {name}', n) for name, n in decoders]
    if model.seg is not None:
        heads = _count(model.seg.per_dataset)
        rows.append(('segmentation decoder', _count(model.seg) - heads))
        rows.append((f'segmentation heads ({len(model.seg.per_dataset)})',
                     heads))
    return rows
