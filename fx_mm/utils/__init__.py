from .checkpoint_safety import register_checkpoint_safe_globals
from .model_summary import (build_initialised_model, build_model_from_cfg,
                            component_param_counts)

__all__ = [
    'build_initialised_model', 'build_model_from_cfg',
    'component_param_counts',
    'register_checkpoint_safe_globals'
]
