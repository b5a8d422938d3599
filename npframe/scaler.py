"""Per-column standardization, fitted on training data and saved with the model.

Inputs, targets or both (the spec's ``standardize``); whichever part is absent is the
identity. Statistics are the population mean and standard deviation, as the tutorial
computes them; a constant column gets a standard deviation of 1 so it stays constant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from attrs import cmp_using, define, field

from npframe.sources import as_source, column_moments

__all__ = ["Standardizer", "column_stats"]

_arrays_equal = cmp_using(eq=np.array_equal)
_KEYS = ("x_mean", "x_std", "y_mean", "y_std")


def column_stats(a: Any, dtype: Any = None, where: str = "fit",
                 weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population standard deviation of each column, in ``dtype`` (``a``'s).

    One streaming pass in float64 (``npframe.sources.column_moments``), whether ``a``
    is in memory, a memory map or a Dask array, so the statistics do not depend on how
    the data is stored. With ``weights`` (one per row, >= 0) a row of weight k counts
    as k copies of it (and weight 0 as none), as ``sample_weight`` does in the loss.
    """
    mean, std = column_moments(as_source(a), where, weights)
    std[std == 0] = 1  # a constant column stays constant instead of dividing by zero
    dtype = np.dtype(dtype or a.dtype)
    return mean.astype(dtype), std.astype(dtype)


@define
class Standardizer:
    """``(x - mean) / std`` per column for inputs and/or targets; targets inverted on predict."""

    x_mean: np.ndarray | None = field(default=None, eq=_arrays_equal)
    x_std: np.ndarray | None = field(default=None, eq=_arrays_equal)
    y_mean: np.ndarray | None = field(default=None, eq=_arrays_equal)
    y_std: np.ndarray | None = field(default=None, eq=_arrays_equal)

    @classmethod
    def fit(cls, X: Any, y: Any, dtype: Any = None,
            weights: np.ndarray | None = None) -> Standardizer:
        """Statistics of ``X (n, in)`` and/or ``y (n, out)`` (``None``: not scaled), in
        ``dtype`` (default: the data's), weighted by the per-sample ``weights`` if given."""
        x_mean, x_std = (column_stats(X, dtype, "fit X", weights) if X is not None
                         else (None, None))
        y_mean, y_std = (column_stats(y, dtype, "fit y", weights) if y is not None
                         else (None, None))
        return cls(x_mean, x_std, y_mean, y_std)

    @property
    def scales_inputs(self) -> bool:
        return self.x_mean is not None

    @property
    def scales_targets(self) -> bool:
        return self.y_mean is not None

    def transform_x(self, X: np.ndarray) -> np.ndarray:
        return X if self.x_mean is None else (X - self.x_mean) / self.x_std

    def transform_y(self, y: np.ndarray) -> np.ndarray:
        return y if self.y_mean is None else (y - self.y_mean) / self.y_std

    def inverse_y(self, y: np.ndarray) -> np.ndarray:
        return y if self.y_mean is None else y * self.y_std + self.y_mean

    def state_dict(self) -> dict[str, np.ndarray]:
        """The statistics that exist, by name (``x_mean``, ``x_std``, ``y_mean``, ``y_std``)."""
        return {k: getattr(self, k) for k in _KEYS if getattr(self, k) is not None}

    @classmethod
    def from_state(cls, state: Mapping[str, np.ndarray]) -> Standardizer:
        return cls(**{k: state.get(k) for k in _KEYS})
