from .ema_teacher_hook import EMATeacherHook
from .lock_release_hook import LockReleaseHook
from .random_state_hook import RandomStateHook
from .run_audit_hook import RunAuditHook

__all__ = [
    'EMATeacherHook', 'LockReleaseHook', 'RandomStateHook', 'RunAuditHook'
]
