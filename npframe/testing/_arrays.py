"""Checks on what components return, and read-only inputs to hand them.

``frozen`` copies an input and marks it read-only, so any write into it raises at the
writing line, even a write that leaves the values as they were (a clip that clips
nothing). ``differences`` describes how two arrays that should be bit-identical are
not, at full precision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from npframe.testing._messages import index, number

__all__ = [
    "Order",
    "check_array",
    "check_finite",
    "check_unchanged",
    "differences",
    "frozen",
    "same_bits",
    "scalar",
]

__tracebackhide__ = True  # the kit's frames stay out of pytest's failure reports

#: A memory order: samples x features (``"C"``), features x samples (``"F"``), or kept.
Order = Literal["C", "F", "K"]


def frozen(array: np.ndarray, order: Order = "K") -> np.ndarray:
    """A read-only copy of ``array`` (in memory order ``order``)."""
    copy = np.array(array, order=order, copy=True)
    copy.flags.writeable = False
    return copy


def check_array(what: str, value: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An output is an ndarray of ``shape`` and ``dtype`` with finite values."""
    if not isinstance(value, np.ndarray):
        raise AssertionError(f"{what} returned a {type(value).__name__}, not a numpy array")
    if value.shape != shape:
        raise AssertionError(f"{what} returned shape {value.shape}, expected {shape}")
    if value.dtype != dtype:
        hint = (
            " (a NumPy float64 scalar or a float64 array mixed in upcasts; scale by Python "
            "floats, e.g. math.sqrt rather than np.sqrt of a scalar)"
            if dtype == np.float32 else ""
        )
        msg = f"{what} returned {value.dtype} for {dtype} input{hint}"
        raise AssertionError(msg)
    check_finite(what, value)
    return value


def check_finite(what: str, value: np.ndarray, inputs: np.ndarray | None = None) -> None:
    bad = ~np.isfinite(value)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        at = f" where the input is {number(inputs[idx])}" if inputs is not None else ""
        msg = (
            f"{what} returned {int(bad.sum())} non-finite value(s), first at index "
            f"{index(idx)}{at}: {number(value[idx])}"
        )
        raise AssertionError(msg)


def check_unchanged(what: str, names: Sequence[str], before: Sequence[np.ndarray],
                    after: Sequence[np.ndarray]) -> None:
    """Each ``after[i]`` still holds exactly ``before[i]`` (for inputs passed writable)."""
    for name, b, a in zip(names, before, after, strict=True):
        if same_bits(a, b):
            continue
        where = ""
        if b.shape == a.shape:
            changed = np.argwhere(~((a == b) | (np.isnan(a) & np.isnan(b))) | (
                np.signbit(a) != np.signbit(b)))
            if len(changed):
                idx = tuple(changed[0])
                where = (f": {len(changed)} entries changed, first at index {index(idx)} "
                         f"from {number(b[idx])} to {number(a[idx])}")
        msg = (
            f"{what} mutated its input {name!r}{where}; components must never write "
            "into their inputs (npframe reuses those buffers): compute into new arrays"
        )
        raise AssertionError(msg)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape, dtype and bits, whatever the memory order."""
    return (a.shape == b.shape and a.dtype == b.dtype
            and np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes())


def differences(got: Any, want: np.ndarray, got_name: str, want_name: str) -> str:
    """How ``got`` differs from ``want`` (empty when bit-identical), at full precision."""
    if not isinstance(got, np.ndarray):
        return f"{got_name} returned a {type(got).__name__}, not a numpy array"
    if got.shape != want.shape:
        return f"{got_name} has shape {got.shape}, {want_name} {want.shape}"
    if got.dtype != want.dtype:
        return f"{got_name} has dtype {got.dtype}, {want_name} {want.dtype}"
    if same_bits(got, want):
        return ""
    g = np.asarray(got, np.float64)
    w = np.asarray(want, np.float64)
    unequal = ~((g == w) | (np.isnan(g) & np.isnan(w))) | (np.signbit(g) != np.signbit(w))
    idx = tuple(np.argwhere(unequal)[0])
    gap = np.abs(g - w)
    gap[~np.isfinite(gap)] = math.inf
    return (
        f"{int(unequal.sum())} of {got.size} entries differ, the first at index {index(idx)} "
        f"({got_name} {number(got[idx])}, {want_name} {number(want[idx])}); largest "
        f"difference {number(np.max(gap))}"
    )


def scalar(what: str, value: Any) -> float:
    """One finite real number, as a float."""
    if isinstance(value, bool) or np.ndim(value) != 0 or not isinstance(
            value, int | float | np.integer | np.floating):
        msg = f"{what} returned {type(value).__name__} {value!r}, not a single real number"
        raise AssertionError(msg)
    if not math.isfinite(float(value)):
        raise AssertionError(f"{what} returned a non-finite value: {value!r}")
    return float(value)
