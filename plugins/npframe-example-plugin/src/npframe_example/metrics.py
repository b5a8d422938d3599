"""A metric: reported during training and by ``evaluate``, never differentiated."""

from __future__ import annotations

import numpy as np
from attrs import frozen

from npframe import Metric

__all__ = ["MaxError"]


@frozen
class MaxError(Metric):
    """The largest absolute error over every sample and output: the worst case."""

    greater_is_better = False

    def __call__(self, y_true, y_pred):
        return float(np.max(np.abs(y_pred - y_true)))
