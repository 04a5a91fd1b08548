from .cyclic_train_loop import CyclicTrainLoop, Pass, build_schedule
from .multi_task_eval_loop import MultiTaskTestLoop, MultiTaskValLoop

__all__ = [
    'CyclicTrainLoop', 'Pass', 'build_schedule', 'MultiTaskTestLoop',
    'MultiTaskValLoop'
]
