from .fx_data_preprocessor import FXDataPreprocessor

__all__ = ['FXDataPreprocessor']
