from .cyclic_train_loop import CyclicTrainLoop, Pass
from .multi_task_eval_loop import MultiTaskTestLoop, MultiTaskValLoop

__all__ = ['CyclicTrainLoop', 'Pass', 'MultiTaskTestLoop', 'MultiTaskValLoop']
