"""Per-column standardization, fitted on training data and saved with the model."""

from __future__ import annotations

import numpy as np
from attrs import cmp_using, define, field

__all__ = ["Standardizer"]


def _stats(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = a.mean(axis=0)
    std = a.std(axis=0)  # population std, as the tutorial
    std[std == 0] = 1  # a constant column stays constant instead of dividing by zero
    return mean, std


_arrays_equal = cmp_using(eq=np.array_equal)


@define
class Standardizer:
    """``(x - mean) / std`` per column for inputs and targets; targets inverted on predict."""

    x_mean: np.ndarray = field(eq=_arrays_equal)
    x_std: np.ndarray = field(eq=_arrays_equal)
    y_mean: np.ndarray = field(eq=_arrays_equal)
    y_std: np.ndarray = field(eq=_arrays_equal)

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray) -> Standardizer:
        """Statistics of ``X (n, in)`` and ``y (n, out)``, in their dtype."""
        return cls(*_stats(X), *_stats(y))

    def transform_x(self, X: np.ndarray) -> np.ndarray:
        return (X - self.x_mean) / self.x_std

    def transform_y(self, y: np.ndarray) -> np.ndarray:
        return (y - self.y_mean) / self.y_std

    def inverse_y(self, y: np.ndarray) -> np.ndarray:
        return y * self.y_std + self.y_mean

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"x_mean": self.x_mean, "x_std": self.x_std,
                "y_mean": self.y_mean, "y_std": self.y_std}
