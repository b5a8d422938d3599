"""Built-in datasets, referenced from a spec's ``[train] dataset = ...``."""

from __future__ import annotations

from npframe import Dataset
from npframe_builtins import tutorial as _tutorial

__all__ = ["tutorial"]


def tutorial(n_samples: int = 10_000, train_fraction: float = 0.7, seed: int = 42) -> Dataset:
    """The tutorial's data: a, b uniform in [0, 100); targets a+b, a-b, |a-b|.

    Drawn exactly as the tutorial does (``rand(2, n) * 100`` from a legacy generator
    seeded with 42), but from a local ``RandomState``, never NumPy's global one; the
    first ``train_fraction`` of the samples train, the rest test. One implementation
    serves both this dataset and ``npframe.tutorial``.
    """
    return _tutorial.dataset(n_samples, train_fraction, seed)


REGISTRY = [("dataset", "tutorial", tutorial)]
