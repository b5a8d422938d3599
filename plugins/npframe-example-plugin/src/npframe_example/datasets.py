"""A dataset factory: ``[train] dataset = { name = "sine_wave", n_samples = 500 }``."""

from __future__ import annotations

import math

import numpy as np

from npframe import Dataset

__all__ = ["sine_wave"]


def sine_wave(n_samples: int = 256, noise: float = 0.05, test_fraction: float = 0.25,
              seed: int = 0) -> Dataset:
    """``x`` uniform in ``[-pi, pi)``, target ``sin(x)`` plus Gaussian noise of std ``noise``.

    Drawn from ``np.random.default_rng(seed)``, so the same parameters give the same
    data; the last ``test_fraction`` of the samples are the test split.
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 4:
        msg = f"'n_samples' must be an int >= 4 (got {n_samples!r})"
        raise ValueError(msg)
    if not 0.0 < test_fraction < 1.0:
        msg = f"'test_fraction' must be in (0, 1) (got {test_fraction!r})"
        raise ValueError(msg)
    if noise < 0:
        msg = f"'noise' must be >= 0 (got {noise!r})"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-math.pi, math.pi, (n_samples, 1))
    y = np.sin(x) + rng.standard_normal((n_samples, 1)) * noise
    n_train = n_samples - max(1, round(n_samples * test_fraction))
    return Dataset(
        X=x[:n_train], y=y[:n_train], X_test=x[n_train:], y_test=y[n_train:],
        feature_names=("x",), target_names=("sin(x)",),
        description=f"sin(x) on [-pi, pi) with Gaussian noise of std {noise}",
    )
