"""Training and evaluation machinery (registered into mmengine's registries)."""
from .hooks import (EMATeacherHook, LockReleaseHook, RandomStateHook,
                    RunAuditHook)
from .log_processor import FXLogProcessor
from .loops import CyclicTrainLoop, MultiTaskTestLoop, MultiTaskValLoop
from .optimizers import FXOptimWrapper, FXOptimWrapperConstructor
from .pass_sampler import PassSampler

__all__ = [
    'EMATeacherHook', 'LockReleaseHook', 'RandomStateHook', 'RunAuditHook',
    'FXLogProcessor',
    'CyclicTrainLoop', 'MultiTaskTestLoop', 'MultiTaskValLoop',
    'FXOptimWrapper', 'FXOptimWrapperConstructor', 'PassSampler'
]
