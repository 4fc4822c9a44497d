"""Pure scoring functions shared by rewards and benchmark scorers (no torch)."""

from spatialladder.metrics.core import (
    MRA_CONFIDENCES,
    box_iou,
    exact_match,
    mean_relative_accuracy,
    parse_number,
    to_float,
)

__all__ = [
    "MRA_CONFIDENCES",
    "box_iou",
    "exact_match",
    "mean_relative_accuracy",
    "parse_number",
    "to_float",
]
