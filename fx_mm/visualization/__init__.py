from .fx_visualizer import FXVisualizer, require_tensorboard
from .overlay import draw_overlay

__all__ = ['FXVisualizer', 'draw_overlay', 'require_tensorboard']
