"""Column blocks of a memory-mapped ``.npy`` file that pickle as a reference to it.

A ``np.memmap`` pickles as a copy of its data, so sending one to a worker process (a
sweep's trial, a Dask task) would ship the whole data set, or fail when it is larger
than memory. A ``MappedColumns`` array pickles as ``(path, first column, stop)``
instead: the worker maps the same file itself and the operating system shares the
pages. Arrays sliced from it are ordinary memory-map views and pickle as data, as
usual; the workers of a cluster need the file at the same path (a shared file system).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

from npframe.archive import read_npy
from npframe.errors import DataError

__all__ = ["MappedColumns", "map_npy", "open_columns"]

#: Files kept mapped for reuse; a mapping costs address space, not memory.
_KEPT = 8


class MappedColumns(np.memmap):
    """Columns ``start:stop`` of the 2-D array in a ``.npy`` file, mapped read-only."""

    #: ``(path, start, stop)`` on the block ``open_columns`` made; ``None`` on the
    #: arrays NumPy derives from it (slices, results), which pickle as their data.
    reopen: tuple[str, int, int] | None = None

    def __reduce__(self) -> str | tuple[Any, ...]:
        if self.reopen is not None:
            return (open_columns, self.reopen)
        return np.asarray(self).__reduce__()


def open_columns(path: str, start: int, stop: int) -> MappedColumns:
    """Map ``path`` (its header checked as ``npframe.archive`` checks every ``.npy``)
    and return the view of columns ``start:stop``. The blocks of one file share one
    mapping (inputs and targets, say), so its pages are counted once."""
    whole = map_npy(path)
    if whole.ndim != 2:
        raise DataError(f"{path}: expected a 2-D array (samples, columns), got shape "
                        f"{whole.shape}")
    block = whole[:, start:stop].view(MappedColumns)
    block.reopen = (str(path), start, stop)
    return block


def map_npy(path: str | os.PathLike[str]) -> np.ndarray:
    """The array of a ``.npy`` file, memory-mapped read-only after ``npframe.archive``
    checked its header; one mapping per file, reused until the file changes."""
    info = os.stat(path)
    return _mapping(os.path.realpath(path), info.st_size, info.st_mtime_ns)


@functools.lru_cache(maxsize=_KEPT)
def _mapping(path: str, size: int, mtime_ns: int) -> np.ndarray:
    """The whole file, mapped; a file rewritten since (size, time) is mapped anew."""
    return read_npy(path, error=DataError, max_bytes=None, mmap=True)
