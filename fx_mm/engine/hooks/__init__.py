from .ema_teacher_hook import EMATeacherHook
from .label_counts_hook import LabelCountsHook
from .load_foundation_x_hook import LoadFoundationXHook, load_foundation_x
from .lock_release_hook import LockReleaseHook
from .per_image_results_hook import PerImageResultsHook
from .random_state_hook import RandomStateHook
from .run_audit_hook import RunAuditHook
from .runtime_info_hook import FXRuntimeInfoHook, scalars_not_updated
from .val_metrics_hook import ValMetricsInCheckpointHook

__all__ = [
    'EMATeacherHook', 'LabelCountsHook', 'LoadFoundationXHook',
    'load_foundation_x', 'LockReleaseHook', 'PerImageResultsHook',
    'RandomStateHook', 'RunAuditHook',
    'FXRuntimeInfoHook', 'scalars_not_updated', 'ValMetricsInCheckpointHook'
]
