"""Built-in losses. ``y_true`` and ``y_pred`` are ``(n, outputs)``."""

from __future__ import annotations

import numpy as np
from attrs import frozen

from npframe import Loss

__all__ = ["MeanSquaredError"]


@frozen
class MeanSquaredError(Loss):
    """``mean((y_pred - y_true)**2)`` over samples *and* outputs (PyTorch, Keras)."""

    def value(self, y_true, y_pred):
        diff = y_pred - y_true
        return float(np.vdot(diff, diff) / diff.size)

    def gradient(self, y_true, y_pred):
        diff = y_pred - y_true
        diff *= 2.0 / diff.size
        return diff

    def value_and_gradient(self, y_true, y_pred):
        diff = y_pred - y_true
        value = float(np.vdot(diff, diff) / diff.size)
        diff *= 2.0 / diff.size
        return value, diff


REGISTRY = [("loss", "mse", MeanSquaredError)]
