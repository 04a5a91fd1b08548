from .central_crop import CentralCrop
from .formatting import AnnotateDataset, PackMultiLabelSegInputs
from .loading import (LoadCXRImage, LoadMultiLabelMasks,
                      ResolveUncertainLabels, mask_folder)

__all__ = [
    'CentralCrop', 'AnnotateDataset', 'PackMultiLabelSegInputs', 'LoadCXRImage',
    'LoadMultiLabelMasks', 'ResolveUncertainLabels', 'mask_folder'
]
