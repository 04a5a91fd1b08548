from .activation_checkpoint import checkpoint_modules, is_checkpointed
from .dataset_routing import (DatasetRoutingMixin, check_dataset_names,
                              dataset_of, num_classes_of)

__all__ = [
    'checkpoint_modules', 'is_checkpointed',
    'DatasetRoutingMixin', 'check_dataset_names', 'dataset_of',
    'num_classes_of'
]
