from .coco_ap40 import CocoAP40Metric, coco_box_ap
from .multilabel_auc import MultiLabelAUC, multilabel_auc
from .multilabel_dice import MultiLabelDice, dice_from_stats, dice_stats

__all__ = [
    'CocoAP40Metric', 'coco_box_ap', 'MultiLabelAUC', 'multilabel_auc',
    'MultiLabelDice', 'dice_from_stats', 'dice_stats'
]
