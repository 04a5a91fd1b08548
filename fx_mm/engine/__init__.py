"""Training and evaluation machinery (registered into mmengine's registries)."""
from .hooks import (EMATeacherHook, FXRuntimeInfoHook, LoadFoundationXHook,
                    LockReleaseHook, RandomStateHook, RunAuditHook,
                    load_foundation_x)
from .log_processor import FXLogProcessor
from .loops import CyclicTrainLoop, MultiTaskTestLoop, MultiTaskValLoop
from .model_wrappers import PassDistributedDataParallel
from .optimizers import FXOptimWrapper, FXOptimWrapperConstructor
from .pass_sampler import PassSampler

__all__ = [
    'EMATeacherHook', 'LoadFoundationXHook', 'load_foundation_x',
    'LockReleaseHook', 'RandomStateHook', 'RunAuditHook', 'FXRuntimeInfoHook',
    'FXLogProcessor',
    'CyclicTrainLoop', 'MultiTaskTestLoop', 'MultiTaskValLoop',
    'PassDistributedDataParallel',
    'FXOptimWrapper', 'FXOptimWrapperConstructor', 'PassSampler'
]
