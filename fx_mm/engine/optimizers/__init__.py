from .fx_optim_constructor import FXOptimWrapperConstructor
from .fx_optim_wrapper import FXAmpOptimWrapper, FXOptimWrapper

__all__ = ['FXAmpOptimWrapper', 'FXOptimWrapperConstructor', 'FXOptimWrapper']
