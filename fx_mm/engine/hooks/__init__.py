from .ema_teacher_hook import EMATeacherHook
from .lock_release_hook import LockReleaseHook
from .random_state_hook import RandomStateHook

__all__ = ['EMATeacherHook', 'LockReleaseHook', 'RandomStateHook']
