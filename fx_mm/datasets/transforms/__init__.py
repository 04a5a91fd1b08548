from .formatting import AnnotateDataset, PackMultiLabelSegInputs
from .loading import LoadCXRImage, LoadMultiLabelMasks, ResolveUncertainLabels

__all__ = [
    'AnnotateDataset', 'PackMultiLabelSegInputs', 'LoadCXRImage',
    'LoadMultiLabelMasks', 'ResolveUncertainLabels'
]
