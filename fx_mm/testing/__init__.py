"""Helpers shared by the tests and the benchmarks."""
from .batches import make_batch

__all__ = ['make_batch']
