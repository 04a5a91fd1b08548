"""The run's seed, the same on every rank, when each rank seeds apart."""
from mmengine.dist import broadcast_object_list


def shared_seed(runner) -> int:
    """The seed of what every rank must draw alike.

    With ``randomness=dict(seed=s, diff_rank_seed=True)`` mmengine seeds rank
    ``r``'s generators with ``s + r`` (and ``runner.seed`` is that), so that
    drop-path masks, DINO's denoising noise and augmentations differ between
    GPUs. What the ranks must agree on -- a lock pass's random half, the
    shuffle the ranks split between them, the soft labels keyed by sample --
    is keyed by this seed instead: rank 0's, which is ``s`` with or without
    ``diff_rank_seed`` (and the synchronised random seed when ``s`` is None).

    A collective: every rank calls it (the train loop does, when it is built).

    Args:
        runner (Runner): The runner, its randomness set.

    Returns:
        int: Rank 0's seed.
    """
    seed = [runner.seed]
    broadcast_object_list(seed, src=0)
    return int(seed[0])
