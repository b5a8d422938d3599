"""A robust loss. ``y_true`` and ``y_pred`` are ``(n, outputs)``."""

from __future__ import annotations

import math

import numpy as np
from attrs import frozen

from npframe import Loss

__all__ = ["LogCosh"]

_LOG2 = math.log(2.0)


def _log_cosh(d: np.ndarray) -> np.ndarray:
    """``log(cosh(d))`` as ``|d| + log1p(exp(-2|d|)) - log 2``: ``cosh`` overflows at 710."""
    ad = np.abs(d)
    return ad + np.log1p(np.exp(ad * -2.0)) - _LOG2


@frozen
class LogCosh(Loss):
    """Mean of ``log(cosh(y_pred - y_true))``: squared error near 0, absolute error far out.

    Like Huber, but smooth everywhere; its gradient ``tanh(d) / size`` is bounded, so
    outliers cannot dominate a batch.
    """

    def value(self, y_true, y_pred):
        return float(np.mean(_log_cosh(y_pred - y_true)))

    def gradient(self, y_true, y_pred):
        d = y_pred - y_true
        return np.tanh(d) * (1.0 / d.size)

    def value_and_gradient(self, y_true, y_pred):
        d = y_pred - y_true
        return float(np.mean(_log_cosh(d))), np.tanh(d) * (1.0 / d.size)
