"""Metrics of the paper (registered into mmengine's METRICS) and reports."""
from .metrics import *  # noqa: F401,F403
from .report import metrics_table, per_class_table, write_report  # noqa: F401
