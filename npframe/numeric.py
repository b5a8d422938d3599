"""Fast, allocation-free reductions that components and the training loop share.

Public, so a plugin can use what the built-ins use.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DOT_CHUNK", "all_finite", "sum_of_squares"]

#: Dot products longer than this are split: OpenBLAS runs longer ones on several
#: threads, and waking them for microseconds of work can cost far more than the work
#: on a busy machine (docs/performance.md has the measurements).
DOT_CHUNK = 8192


def sum_of_squares(flat: np.ndarray) -> float:
    """``sum(flat**2)`` of a contiguous array (any order) as BLAS dot products.

    Faster than ``np.einsum`` (docs/performance.md) and allocation-free; chunks of at
    most ``DOT_CHUNK`` keep BLAS on one thread.
    """
    flat = flat.ravel(order="K")
    n = flat.size
    if n <= DOT_CHUNK:
        return float(np.dot(flat, flat))
    rows = -(-n // DOT_CHUNK)
    if n % rows == 0:  # equal rows: one call (e.g. an F-order batch, one row per output)
        head = flat.reshape(rows, n // rows)
        return float(np.add.reduce(np.vecdot(head, head)))
    rows = n // DOT_CHUNK
    head = flat[: rows * DOT_CHUNK].reshape(rows, DOT_CHUNK)
    tail = flat[rows * DOT_CHUNK:]
    return float(np.add.reduce(np.vecdot(head, head)) + np.dot(tail, tail))


def all_finite(flat: np.ndarray) -> bool:
    """Whether every element of the contiguous ``flat`` is finite, in one pass.

    inf or nan anywhere makes the sum of squares non-finite; only when that sum
    overflows on finite values (huge weights) does an exact elementwise check run.
    """
    return math.isfinite(sum_of_squares(flat)) or bool(np.isfinite(flat).all())
