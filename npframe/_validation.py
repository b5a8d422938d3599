"""Checks for user arrays: right shape, numeric, finite; errors say what was expected."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["as_inputs", "as_targets", "cast", "check_same_length"]


def _numeric(value: Any, what: str, where: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        msg = f"{where}: {what} could not be read as a numeric array ({exc})"
        raise ValueError(msg) from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number)
                                     or array.dtype == bool):
        msg = f"{where}: {what} must be numeric (got an array of dtype {array.dtype})"
        raise ValueError(msg)
    if np.issubdtype(array.dtype, np.complexfloating):
        msg = f"{where}: {what} must be real, not complex"
        raise ValueError(msg)
    return array


def _position(index: np.ndarray) -> str:
    return f"row {index[0]}" + (f", column {index[1]}" if len(index) > 1 else "")


def _all_finite(array: np.ndarray) -> bool:
    """``np.isfinite(array).all()`` without its temporary (a bool per element).

    inf or nan anywhere makes the sum non-finite; only when the sum of finite values
    overflows does the elementwise check run. One pass, nothing allocated: on
    MNIST-sized data this is faster and keeps the peak memory down (docs/performance.md).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.add.reduce(array, axis=None)
    return bool(np.isfinite(total)) or bool(np.isfinite(array).all())


def _finite(array: np.ndarray, what: str, where: str) -> None:
    if np.issubdtype(array.dtype, np.inexact) and not _all_finite(array):
        bad = np.argwhere(~np.isfinite(array))[0]
        value = array[tuple(bad)]
        msg = (
            f"{where}: {what} contains {value} at {_position(bad)}; "
            "remove or impute non-finite values first"
        )
        raise ValueError(msg)


def cast(array: np.ndarray, dtype: np.dtype, what: str, where: str) -> np.ndarray:
    """``array`` as C-contiguous ``dtype``; a finite value beyond its range is an error.

    Without the check, float64 data of 1e300 would silently become inf in a float32
    network (NumPy only warns), and training would diverge for no visible reason.
    """
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(array, dtype=dtype)
    if (out is not array and np.issubdtype(array.dtype, np.floating)
            and array.dtype.itemsize > out.dtype.itemsize and not np.isfinite(out).all()):
        bad = np.argwhere(~np.isfinite(out))[0]
        msg = (
            f"{where}: {what} holds {array[tuple(bad)]} at {_position(bad)}, "
            f"beyond the range of {out.dtype}; rescale it (or use dtype = \"float64\")"
        )
        raise ValueError(msg)
    return out


def as_inputs(X: Any, n_features: int, dtype: np.dtype, where: str) -> np.ndarray:
    """``X`` as a C-contiguous ``(n, n_features)`` array of ``dtype``, or ``ValueError``."""
    array = _numeric(X, "X", where)
    if array.ndim != 2:
        hint = ""
        if array.ndim == 1 and n_features == 1:
            hint = " (use X.reshape(-1, 1): one feature, one sample per entry)"
        elif array.ndim == 1 and array.shape[0] == n_features:
            hint = f" (use X.reshape(1, -1) for one sample of {n_features} features)"
        elif array.ndim == 1 and array.shape[0] % n_features == 0:
            hint = (f" (use X.reshape(-1, {n_features}) if these are samples of "
                    f"{n_features} features laid end to end)")
        msg = f"{where}: expected X of shape (n_samples, {n_features}), got {array.shape}{hint}"
        raise ValueError(msg)
    if array.shape[1] != n_features:
        msg = f"{where}: expected {n_features} features, got {array.shape[1]}"
        raise ValueError(msg)
    if array.shape[0] == 0:
        raise ValueError(f"{where}: X has no samples")
    _finite(array, "X", where)
    return cast(array, dtype, "X", where)


def as_targets(y: Any, n_outputs: int, dtype: np.dtype, where: str) -> np.ndarray:
    """``y`` as ``(n, n_outputs)``; a 1-D ``y`` is one output."""
    array = _numeric(y, "y", where)
    if array.ndim == 1 and n_outputs == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        msg = f"{where}: expected y of shape (n_samples, {n_outputs}), got {array.shape}"
        raise ValueError(msg)
    if array.shape[1] != n_outputs:
        msg = f"{where}: expected {n_outputs} outputs, got {array.shape[1]}"
        raise ValueError(msg)
    _finite(array, "y", where)
    return cast(array, dtype, "y", where)


def check_same_length(X: np.ndarray, y: np.ndarray, where: str) -> None:
    if X.shape[0] != y.shape[0]:
        msg = f"{where}: X has {X.shape[0]} samples but y has {y.shape[0]}; they must match"
        raise ValueError(msg)
