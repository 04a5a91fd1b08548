from .dataset_routing import (DatasetRoutingMixin, check_dataset_names,
                              dataset_of, num_classes_of)

__all__ = [
    'DatasetRoutingMixin', 'check_dataset_names', 'dataset_of',
    'num_classes_of'
]
