"""``Dataset``: arrays plus the names that make them printable, as datasets return."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from attrs import field, frozen

__all__ = ["Dataset"]


def _optional_array(value: object) -> np.ndarray | None:
    return None if value is None else np.asarray(value)


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@frozen(kw_only=True)
class Dataset:
    """Training arrays ``X (n, features)``, ``y (n, outputs)``, and an optional test split.

    Arrays are on the raw scale: standardization is the network's job (``standardize``
    in the spec), so the statistics end up in the saved model.
    """

    # asanyarray: a memory map stays one, so that fit streams it
    X: np.ndarray = field(converter=np.asanyarray, eq=False)
    y: np.ndarray = field(converter=np.asanyarray, eq=False)
    X_test: np.ndarray | None = field(default=None, converter=_optional_array, eq=False)
    y_test: np.ndarray | None = field(default=None, converter=_optional_array, eq=False)
    feature_names: tuple[str, ...] = field(default=(), converter=_names)
    target_names: tuple[str, ...] = field(default=(), converter=_names)
    #: One weight per training sample (``fit``'s ``sample_weight``), or ``None``.
    sample_weight: np.ndarray | None = field(default=None, converter=_optional_array, eq=False)
    #: A few inputs ``(k, features)`` worth showing predictions for, raw scale;
    #: ``npframe train`` prints the trained network's answers to them.
    examples: np.ndarray | None = field(default=None, converter=_optional_array, eq=False)
    description: str = ""
