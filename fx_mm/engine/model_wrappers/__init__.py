"""Model wrappers for distributed training (registered in MODEL_WRAPPERS)."""
from .pass_distributed_data_parallel import PassDistributedDataParallel

__all__ = ['PassDistributedDataParallel']
