from .formatting import AnnotateDataset, PackMultiLabelSegInputs
from .loading import (LoadCXRImage, LoadMultiLabelMasks,
                      ResolveUncertainLabels, mask_folder)

__all__ = [
    'AnnotateDataset', 'PackMultiLabelSegInputs', 'LoadCXRImage',
    'LoadMultiLabelMasks', 'ResolveUncertainLabels', 'mask_folder'
]
