"""The sampler of one training pass: all of a dataset, or a seeded fraction."""
from typing import Iterator, Optional, Sequence, Union

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.registry import DATA_SAMPLERS
from torch.utils.data import Sampler


@DATA_SAMPLERS.register_module()
class PassSampler(Sampler):
    """Sample a pass over ``fraction`` of a dataset, sharded over ranks.

    The subset (a lock pass's random half) depends only on ``seed`` and
    ``subset_key`` -- the cycle, dataset and task -- so it is the same on
    every rank, fresh every cycle, and independent between two datasets of
    the same length or the loc and seg steps of one dataset; the shuffle within it depends on ``seed`` and the epoch (the
    pass index). Each rank takes every ``world_size``-th index of the shuffled
    subset, padded by repetition so all ranks run the same number of
    iterations (as mmengine's DefaultSampler does).

    Args:
        dataset (Dataset): The dataset.
        fraction (float): Share of the dataset in the pass, in (0, 1].
        subset_key (int | Sequence[int]): Which subset (the train loop gives
            the cycle index and a key of the dataset and task).
        shuffle (bool): Shuffle the order within the pass.
        seed (int, optional): Base seed, synchronised over ranks if None.
    """

    def __init__(self, dataset, fraction: float = 1.0,
                 subset_key: Union[int, Sequence[int]] = 0,
                 shuffle: bool = True, seed: Optional[int] = None) -> None:
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f'PassSampler: fraction={fraction} not in (0, 1].')
        self.rank, self.world_size = get_dist_info()
        self.dataset, self.fraction = dataset, fraction
        self.subset_key = [int(k) for k in np.atleast_1d(subset_key)]
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        n = len(dataset)
        self.subset_size = max(1, int(round(n * fraction)))
        self.num_samples = -(-self.subset_size // self.world_size)

    def subset(self) -> np.ndarray:
        """Indices of the pass's subset, sorted (the same on every rank)."""
        n = len(self.dataset)
        if self.subset_size == n:
            return np.arange(n)
        rng = np.random.default_rng([self.seed, *self.subset_key])
        return np.sort(rng.permutation(n)[:self.subset_size])

    def __iter__(self) -> Iterator[int]:
        indices = self.subset()
        if self.shuffle:
            rng = np.random.default_rng([self.seed, *self.subset_key,
                                         self.epoch, 1])
            indices = indices[rng.permutation(len(indices))]
        total = self.num_samples * self.world_size
        indices = np.resize(indices, total)  # repeat to even out the ranks
        return iter(indices[self.rank:total:self.world_size].tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the pass index (reshuffles; the subset stays the cycle's)."""
        self.epoch = epoch
