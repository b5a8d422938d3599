"""Reading training data from files: CSV with a header row, ``.npy`` and ``.npz``.

``load_data(path, targets=...)`` returns an ``npframe.Dataset`` on the raw scale
(standardization is the network's job). Every problem is a ``DataError`` whose
message starts with where it is, ``data.csv:3:2: could not convert 'abc' to a
number``, so a command line can print it as it is.

Which columns are targets:

- ``targets`` names them, by header name or by 0-based index (negative counts from
  the end), as a list or a comma-separated string: ``"sum,diff"``, ``"2,3"``, ``-1``.
- Otherwise, with ``n_features`` (what the network takes), the first ``n_features``
  columns are the inputs and the rest are targets.
- Otherwise every column is an input and ``y`` has shape ``(n, 0)``.

An ``.npz`` file holds ``X`` and (optionally) ``y`` members itself.

Files are read by ``npframe.csvfile`` and ``npframe.archive``: nothing is unpickled,
pipes and devices are refused, and ``.npy``/``.npz`` headers are checked against the
file and against a memory budget (half of what this process can get, counting the
float64 copy) before any array is allocated.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from npframe._names import unknown
from npframe.archive import HeaderCheck, list_npz, read_npy, read_npz
from npframe.csvfile import read_csv
from npframe.dataset import Dataset
from npframe.errors import DataError
from npframe.memory import format_bytes, memory_budget

__all__ = ["SUFFIXES", "Targets", "load_data", "parse_targets"]

#: File types ``load_data`` reads, by suffix.
SUFFIXES = (".csv", ".npy", ".npz")

#: A target selection: column names and/or indices, or a comma-separated string of them.
Targets = str | int | Sequence[str | int] | None

_INDEX = re.compile(r"[+-]?\d+")


def parse_targets(targets: Targets) -> list[str | int] | None:
    """``"a, 2"`` -> ``["a", 2]``; ints stay ints, digit strings become ints."""
    if targets is None:
        return None
    items: list[Any]
    if isinstance(targets, str):
        items = targets.split(",")
    elif isinstance(targets, int | np.integer) and not isinstance(targets, bool):
        items = [int(targets)]
    elif isinstance(targets, Sequence):
        items = list(targets)
    else:
        msg = (
            "targets must be column names or indices (a list, or a comma-separated string), "
            f"got {type(targets).__name__} {targets!r}"
        )
        raise DataError(msg)
    out: list[str | int] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int | np.integer):
            msg = f"targets: each entry must be a column name or an index (got {item!r})"
            raise DataError(msg)
        if isinstance(item, str):
            item = item.strip()
            if not item:
                msg = f"targets: empty column name in {targets!r}"
                raise DataError(msg)
        out.append(int(item) if isinstance(item, np.integer) else item)
    if not out:
        raise DataError("targets: no columns given")
    return out


def load_data(
    path: str | os.PathLike,
    targets: Targets = None,
    *,
    n_features: int | None = None,
    delimiter: str = ",",
) -> Dataset:
    """Read ``path`` into a ``Dataset`` with ``X (n, features)`` and ``y (n, targets)``.

    ``n_features`` is how many inputs the network takes: it picks the targets when
    ``targets`` is not given and is checked when it is. Values are ``float64``, finite.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        kind = path.suffix or "(none)"
        msg = f"{path}: unsupported data file type {kind!r}; use .csv, .npy or .npz"
        raise DataError(msg)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a file")
    if suffix == ".npz":
        if targets is not None:
            msg = (
                f"{path}: targets apply to .csv and .npy files; an .npz file holds its "
                "targets in its 'y' member"
            )
            raise DataError(msg)
        X, y = _read_npz(path)
        _check_n_features(path, X.shape[1], n_features, ())
        return Dataset(X=X, y=y, description=str(path))
    if suffix == ".npy":
        table = _read_npy(path)
        header: list[str] = []
    else:
        csv_table = read_csv(path, delimiter=delimiter)
        header, table = list(csv_table.header), csv_table.numbers
    return _split(path, header, table, parse_targets(targets), n_features)


# -- NumPy files ---------------------------------------------------------------------------
def _fits_as_float64(path: Path, budget: int) -> HeaderCheck:
    """A header check: the arrays, and their float64 copies, must fit in ``budget``.

    Run before each array is allocated, so a header declaring terabytes is refused there.
    """
    used = 0

    def check(name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        nonlocal used
        n = math.prod(shape)
        used += n * dtype.itemsize + (0 if dtype == np.float64 else 8 * n)
        if used > budget:
            what = f"member {name!r}" if path.suffix.lower() == ".npz" else "the array"
            msg = (f"{path}: {what} (shape {shape} of {dtype}) needs {format_bytes(used)} "
                   f"as float64 data, more than the {format_bytes(budget)} a data file may "
                   "take here (half of the memory this process can get)")
            raise DataError(msg)

    return check


def _numeric(path: Path, array: np.ndarray, what: str) -> np.ndarray:
    if not isinstance(array, np.ndarray) or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
        or array.dtype == bool
    ):
        dtype = getattr(array, "dtype", type(array).__name__)
        msg = f"{path}: {what} must hold real numbers (got dtype {dtype})"
        raise DataError(msg)
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        where = f"row {bad[0]}" + (f", column {bad[1]}" if len(bad) > 1 else "")
        msg = f"{path}: {what}, {where}: {array[tuple(bad)]} is not a finite number"
        raise DataError(msg)
    return array


def _read_npy(path: Path) -> np.ndarray:
    budget = memory_budget()
    array = read_npy(path, error=DataError, max_bytes=budget,
                     check_header=_fits_as_float64(path, budget))
    array = _numeric(path, array, "the array")
    if array.ndim != 2:
        msg = f"{path}: expected a 2-D array (samples, columns), got shape {array.shape}"
        raise DataError(msg)
    if array.shape[0] == 0:
        raise DataError(f"{path}: the array has no rows")
    return array


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    budget = memory_budget()
    arrays = read_npz(path, error=DataError, max_total_bytes=budget,
                      member_ok={"X", "y"}.__contains__,
                      check_header=_fits_as_float64(path, budget))
    if "X" not in arrays:
        members = [m.name for m in list_npz(path, error=DataError)]
        msg = (
            f"{path}: missing member 'X' (members: {', '.join(members) or '(none)'}); "
            "save with np.savez(path, X=X, y=y)"
        )
        raise DataError(msg)
    X = _numeric(path, arrays["X"], "member 'X'")
    y = _numeric(path, arrays["y"], "member 'y'") if "y" in arrays else None
    if X.ndim != 2:
        msg = f"{path}: member 'X' must be 2-D (samples, features), got shape {X.shape}"
        raise DataError(msg)
    if X.shape[0] == 0:
        raise DataError(f"{path}: member 'X' has no rows")
    if y is None:
        y = np.empty((X.shape[0], 0))
    elif y.ndim == 1:
        y = y.reshape(-1, 1)
    if y.ndim != 2 or y.shape[0] != X.shape[0]:
        msg = (
            f"{path}: member 'y' must be (samples,) or (samples, outputs) with "
            f"{X.shape[0]} samples like 'X', got shape {y.shape}"
        )
        raise DataError(msg)
    return X, y


# -- choosing the target columns -----------------------------------------------------------
def _resolve(path: Path, header: list[str], n_columns: int, item: str | int) -> int:
    if isinstance(item, str) and item in header:
        return header.index(item)
    if isinstance(item, int) or _INDEX.fullmatch(item):
        index = int(item)
        if not -n_columns <= index < n_columns:
            msg = (
                f"{path}: target column index {index} is out of range; the file has "
                f"{n_columns} columns (0 to {n_columns - 1}, or -1 for the last)"
            )
            raise DataError(msg)
        return index % n_columns
    raise DataError(f"{path}: {unknown('target column', item, header, 'columns')}")


def _split(path: Path, header: list[str], table: np.ndarray, targets: list[str | int] | None,
           n_features: int | None) -> Dataset:
    n_columns = table.shape[1]
    if targets is not None:
        chosen = [_resolve(path, header, n_columns, item) for item in targets]
        for i, index in enumerate(chosen):
            if index in chosen[:i]:
                label = header[index] if header else str(index)
                raise DataError(f"{path}: target column {label!r} is chosen twice")
        features = [i for i in range(n_columns) if i not in chosen]
        if not features:
            raise DataError(f"{path}: every column is a target; no input columns are left")
        names = tuple(header[i] for i in features) if header else ()
        _check_n_features(path, len(features), n_features, names)
    elif n_features is not None:
        if n_columns < n_features:
            msg = (
                f"{path}: the file has {n_columns} columns but the network takes "
                f"{n_features} inputs"
            )
            raise DataError(msg)
        features, chosen = list(range(n_features)), list(range(n_features, n_columns))
    else:
        features, chosen = list(range(n_columns)), []
    return Dataset(
        X=np.ascontiguousarray(table[:, features]),
        y=np.ascontiguousarray(table[:, chosen]),
        feature_names=[header[i] for i in features] if header else (),
        target_names=[header[i] for i in chosen] if header else (),
        description=str(path),
    )


def _check_n_features(path: Path, got: int, expected: int | None, names: Sequence[str]) -> None:
    if expected is not None and got != expected:
        listed = f" ({', '.join(names)})" if names else ""
        msg = (
            f"{path}: {got} input {'column' if got == 1 else 'columns'}{listed} but the "
            f"network takes {expected}; name the target columns (--targets, or targets=)"
        )
        raise DataError(msg)
