"""Training data that need not fit in memory: arrays, memory maps and Dask arrays.

A ``RowSource`` hands out rows in contiguous blocks (``read``) and says where its
natural blocks are (``blocks``: a Dask array's chunks, fixed-size windows elsewhere).
``fit`` streams such sources instead of materializing them: the standardization
statistics come from one pass over the blocks (``column_moments``), and shuffled
minibatches are gathered from one block window at a time (``training.Batches``), so
peak memory is bounded by the batch and block sizes, not by the data set.

Dask is optional: a Dask array is recognized by duck typing (``chunks`` and
``compute``) and nothing imports Dask here; its statistics pass runs wherever its
scheduler runs (a ``distributed`` cluster included).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["RowSource", "as_source", "column_moments", "is_streamed", "window_rows"]

#: Values per block of the statistics pass, and per shuffle window: fixed numbers (not
#: the machine's memory), so the same data gives the same statistics and the same
#: shuffle everywhere. 2**21 float64 values are 16 MB; 2**22 rows x columns per window.
STATS_VALUES = 2**21
WINDOW_VALUES = 2**22


def is_dask(array: Any) -> bool:
    return hasattr(array, "chunks") and hasattr(array, "compute") and hasattr(array, "dask")


def is_streamed(array: Any) -> bool:
    """Whether ``array`` should be streamed rather than loaded: a memory map or Dask array."""
    return isinstance(array, np.memmap) or is_dask(array)


def window_rows(width: int, batch: int) -> int:
    """Rows per shuffle window by default: ``WINDOW_VALUES`` values, at least a batch."""
    return max(batch, WINDOW_VALUES // max(1, width), 1)


class RowSource:
    """Rows of a 2-D array (or a 1-D one, as a column), read in contiguous blocks."""

    def __init__(self, array: Any) -> None:
        if array.ndim not in (1, 2):
            msg = f"expected a 1-D or 2-D array (got shape {array.shape})"
            raise ValueError(msg)
        self.array = array
        self.n = int(array.shape[0])
        self.width = int(array.shape[1]) if array.ndim == 2 else 1
        self.dtype = np.dtype(array.dtype)
        self.dask = is_dask(array)

    def blocks(self, values: int = STATS_VALUES) -> list[tuple[int, int]]:
        """``[(start, stop), ...]`` of about ``values`` values each, covering the rows."""
        rows = max(1, values // self.width)
        return [(s, min(s + rows, self.n)) for s in range(0, self.n, rows)]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` in memory, as a 2-D array of the source's dtype."""
        block = self.array[start:stop]
        if self.dask:
            block = block.compute()
        block = np.asarray(block)
        return block.reshape(-1, 1) if block.ndim == 1 else block


def as_source(array: Any) -> RowSource:
    return RowSource(array)


def column_moments(source: RowSource, where: str,
                   weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and population standard deviation in one streaming pass.

    Chan et al.'s pairwise update merges each block's mean and sum of squared
    deviations in float64 (blocks of a fixed number of values, so the same data gives
    the same statistics however it is stored).
    Every block is also checked for non-finite values (the message names the row).
    A Dask source computes both reductions on its scheduler instead. ``weights`` (one
    per row, in memory) make every moment a weighted one: a row of weight k counts as k
    copies of it.
    """
    if source.dask and weights is None:
        import dask.array as da  # the caller has Dask: it passed a Dask array

        array = source.array if source.array.ndim == 2 else source.array.reshape(-1, 1)
        array = array.astype(np.float64)
        finite, mean, std = da.compute(da.isfinite(array).all(), array.mean(axis=0),
                                       array.std(axis=0))
        if not finite:
            msg = f"{where}: the data holds NaN or inf; remove or impute non-finite values first"
            raise ValueError(msg)
        return np.asarray(mean), np.asarray(std)
    count = 0.0
    mean = np.zeros(source.width)
    m2 = np.zeros(source.width)
    for start, stop in source.blocks():
        # contiguous: the arithmetic (BLAS's included) must not depend on how it is stored
        block = np.ascontiguousarray(source.read(start, stop), dtype=np.float64)
        if not np.isfinite(block).all():
            bad = np.argwhere(~np.isfinite(block))[0]
            msg = (f"{where}: row {start + int(bad[0])}, column {int(bad[1])} holds "
                   f"{block[tuple(bad)]}; remove or impute non-finite values first")
            raise ValueError(msg)
        if weights is None:
            k = float(block.shape[0])
            block_mean = block.mean(axis=0)
            block_m2 = ((block - block_mean) ** 2).sum(axis=0)
        else:
            w = np.asarray(weights[start:stop], dtype=np.float64)
            k = float(w.sum())
            if k == 0.0:
                continue
            block_mean = (w @ block) / k
            block_m2 = w @ ((block - block_mean) ** 2)
        delta = block_mean - mean
        total = count + k
        mean = mean + delta * (k / total)
        m2 = m2 + block_m2 + delta**2 * (count * k / total)
        count = total
    return mean, np.sqrt(m2 / max(count, 1e-300))
