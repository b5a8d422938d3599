"""Built-in metrics: ``metric(y_true, y_pred) -> float`` on ``(n, outputs)`` arrays.

Metrics are reported, never differentiated: they are computed in float64 whatever
the network's dtype, and ``Network`` hands them targets and predictions on the raw
target scale (after undoing ``standardize``). A 1-D array is one output. Each says
through ``greater_is_better`` which direction is an improvement (``EarlyStopping``
and ``ReduceLROnPlateau`` use it in ``mode="auto"``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from attrs import field, frozen

from npframe import Metric

__all__ = [
    "Accuracy",
    "MeanAbsoluteErrorMetric",
    "MeanSquaredErrorMetric",
    "R2Score",
    "RootMeanSquaredError",
]


def _pair(y_true: Any, y_pred: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Both as float64 ``(n, k)`` arrays of the same shape, or ``ValueError``."""
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    t = t.reshape(-1, 1) if t.ndim == 1 else t
    p = p.reshape(-1, 1) if p.ndim == 1 else p
    if t.ndim != 2 or t.shape != p.shape:
        msg = (
            f"metric {name!r}: y_true {np.shape(y_true)} and y_pred {np.shape(y_pred)} must "
            "have the same (n_samples, n_outputs) shape"
        )
        raise ValueError(msg)
    if t.shape[0] == 0:
        raise ValueError(f"metric {name!r}: no samples")
    return t, p


@frozen
class MeanAbsoluteErrorMetric(Metric):
    """``mean(|y_pred - y_true|)`` over samples and outputs."""

    greater_is_better: ClassVar[bool] = False

    def __call__(self, y_true, y_pred):
        t, p = _pair(y_true, y_pred, "mae")
        return float(np.mean(np.abs(p - t)))


@frozen
class MeanSquaredErrorMetric(Metric):
    """``mean((y_pred - y_true)**2)`` over samples and outputs (the ``mse`` loss's formula)."""

    greater_is_better: ClassVar[bool] = False

    def __call__(self, y_true, y_pred):
        t, p = _pair(y_true, y_pred, "mse")
        return float(np.mean((p - t) ** 2))


@frozen
class RootMeanSquaredError(Metric):
    """``sqrt(mean((y_pred - y_true)**2))``: the root of the mean over samples *and* outputs.

    (Keras' ``RootMeanSquaredError``; not the average of per-output RMSEs.)
    """

    greater_is_better: ClassVar[bool] = False

    def __call__(self, y_true, y_pred):
        t, p = _pair(y_true, y_pred, "rmse")
        return math.sqrt(float(np.mean((p - t) ** 2)))


@frozen
class R2Score(Metric):
    """Coefficient of determination, the mean over outputs of each output's R^2.

    Per output ``j``: ``1 - sum((y_j - p_j)**2) / sum((y_j - mean(y_j))**2)``; 1 is a
    perfect fit, 0 is as good as predicting the mean, and it can be negative. A
    constant target column scores 1 when predicted exactly, else 0. This is
    scikit-learn's ``r2_score`` with ``multioutput="uniform_average"``.
    """

    greater_is_better: ClassVar[bool] = True

    def __call__(self, y_true, y_pred):
        t, p = _pair(y_true, y_pred, "r2")
        residual = np.sum((t - p) ** 2, axis=0)
        total = np.sum((t - t.mean(axis=0)) ** 2, axis=0)
        constant = total == 0
        scores = np.where(constant, (residual == 0).astype(np.float64),
                          1.0 - residual / np.where(constant, 1.0, total))
        return float(np.mean(scores))


@frozen
class Accuracy(Metric):
    """Fraction of samples classified correctly.

    Several output columns: the class is the ``argmax`` of a row, for ``y_pred``
    (probabilities or logits alike) and for ``y_true`` (one-hot). One column: binary
    labels, both ``y_true`` and ``y_pred`` read as ``value > threshold`` (0.5 for
    probabilities; use ``threshold = 0`` with logits).
    """

    greater_is_better: ClassVar[bool] = True
    threshold: float = field(default=0.5, converter=float)

    @threshold.validator
    def _finite(self, attribute, value):
        if not math.isfinite(value):
            raise ValueError(f"'threshold' must be finite (got {value!r})")

    def __call__(self, y_true, y_pred):
        t, p = _pair(y_true, y_pred, "accuracy")
        if t.shape[1] == 1:
            correct = (p[:, 0] > self.threshold) == (t[:, 0] > self.threshold)
        else:
            correct = np.argmax(p, axis=1) == np.argmax(t, axis=1)
        return float(np.mean(correct))


REGISTRY = [
    ("metric", "mae", MeanAbsoluteErrorMetric),
    ("metric", "mse", MeanSquaredErrorMetric),
    ("metric", "rmse", RootMeanSquaredError),
    ("metric", "r2", R2Score),
    ("metric", "accuracy", Accuracy),
]
