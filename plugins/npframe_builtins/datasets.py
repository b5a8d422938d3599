"""Built-in datasets, referenced from a spec's ``[train] dataset = ...``."""

from __future__ import annotations

import numpy as np

from npframe.dataset import Dataset

__all__ = ["tutorial"]


def tutorial(n_samples: int = 10_000, train_fraction: float = 0.7, seed: int = 42) -> Dataset:
    """The tutorial's data: a, b uniform in [0, 100); targets a+b, a-b, |a-b|.

    Drawn exactly as the tutorial does (``rand(2, n) * 100`` from a legacy generator
    seeded with 42), but from a local ``RandomState``, never NumPy's global one; the
    first ``train_fraction`` of the samples train, the rest test.
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
        msg = f"'n_samples' must be an int >= 2 (got {n_samples!r})"
        raise ValueError(msg)
    if not 0.0 < float(train_fraction) < 1.0:
        msg = f"'train_fraction' must be in (0, 1) (got {train_fraction!r})"
        raise ValueError(msg)
    rs = np.random.RandomState(seed)
    ab = rs.rand(2, n_samples) * 100
    a, b = ab
    X = ab.T.copy()
    y = np.column_stack([a + b, a - b, np.abs(a - b)])
    n_train = int(train_fraction * n_samples)
    return Dataset(
        X=X[:n_train], y=y[:n_train], X_test=X[n_train:], y_test=y[n_train:],
        feature_names=("a", "b"), target_names=("a+b", "a-b", "|a-b|"),
        description="The tutorial's synthetic data: a, b in [0, 100); a+b, a-b, |a-b|.",
    )


REGISTRY = [("dataset", "tutorial", tutorial)]
