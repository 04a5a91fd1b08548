"""Deterministic, patient-grouped train / val / test splits."""
import hashlib
from typing import Dict, Mapping, Tuple

import numpy as np


def grouped_split(groups: Mapping[str, str], seed: int = 0,
                  fractions: Tuple[float, float, float] = (0.7, 0.1, 0.2)
                  ) -> Dict[str, list]:
    """Split items into train / val / test without splitting a group.

    Groups (patients) are shuffled with ``seed`` and dealt to the splits in
    order until each has its share of *items*, so proportions hold for
    items, not only for groups. The result depends only on the item -> group
    mapping and the seed, never on input order.

    Args:
        groups (Mapping[str, str]): Item id -> group id (a patient; use the
            item itself where a dataset names no patients).
        seed (int): Shuffle seed.
        fractions (tuple[float, float, float]): Train, val, test shares.

    Returns:
        dict[str, list[str]]: ``train`` / ``val`` / ``test`` item ids, sorted.
    """
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f'split fractions {fractions} do not sum to 1.')
    members: Dict[str, list] = {}
    for item, group in groups.items():
        members.setdefault(group, []).append(item)
    # Sort by a hash first so the shuffle does not depend on dict order.
    ordered = sorted(members, key=lambda g: hashlib.sha1(g.encode()).hexdigest())
    order = np.random.default_rng(seed).permutation(len(ordered))
    total = len(groups)
    bounds = np.cumsum(fractions) * total
    out = dict(train=[], val=[], test=[])
    names = list(out)
    done = 0
    for idx in order:
        group = ordered[idx]
        split = next(i for i, b in enumerate(bounds) if done < b - 1e-9) \
            if done < total else 2
        out[names[split]].extend(members[group])
        done += len(members[group])
    return {k: sorted(v) for k, v in out.items()}

