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
"""

from __future__ import annotations

import csv
import os
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from npframe._names import unknown
from npframe.dataset import Dataset
from npframe.errors import DataError

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
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "no such file"
        raise DataError(f"{path}: {what}")
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
        header, table = _read_csv(path, delimiter)
    return _split(path, header, table, parse_targets(targets), n_features)


# -- CSV ---------------------------------------------------------------------------------
def _read_csv(path: Path, delimiter: str) -> tuple[list[str], np.ndarray]:
    """The header and the numeric table; errors carry ``file:line:column``."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=delimiter, strict=True)
            header: list[str] | None = None
            header_line = 0
            rows: list[list[str]] = []
            lines: list[int] = []
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue  # blank lines carry nothing
                if header is None:
                    header, header_line = [cell.strip() for cell in row], reader.line_num
                    continue
                if len(row) != len(header):
                    column = min(len(row), len(header)) + 1
                    msg = (
                        f"{path}:{reader.line_num}:{column}: row has {len(row)} "
                        f"{'cell' if len(row) == 1 else 'cells'} but the header has "
                        f"{len(header)} columns"
                    )
                    raise DataError(msg)
                rows.append(row)
                lines.append(reader.line_num)
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        msg = f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 CSV"
        raise DataError(msg) from None
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: malformed CSV: {exc}") from None
    if header is None:
        raise DataError(f"{path}: empty file; expected a header row and rows of numbers")
    _check_header(path, header, header_line)
    if not rows:
        raise DataError(f"{path}: no data rows after the header (line {header_line})")
    return header, _to_numbers(path, rows, lines)


def _check_header(path: Path, header: list[str], line: int) -> None:
    if all(_is_number(cell) for cell in header):
        msg = (
            f"{path}:{line}: the first row holds numbers, not column names; add a header "
            "row naming the columns"
        )
        raise DataError(msg)
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if not name:
            raise DataError(f"{path}:{line}:{i + 1}: empty column name in the header")
        if name in seen:
            msg = (
                f"{path}:{line}:{i + 1}: duplicate column name {name!r} "
                f"(also column {seen[name] + 1})"
            )
            raise DataError(msg)
        seen[name] = i


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _to_numbers(path: Path, rows: list[list[str]], lines: list[int]) -> np.ndarray:
    """Convert all at once; on failure, find the first bad cell for the message."""
    try:
        table = np.array(rows, dtype=str).astype(np.float64)
    except ValueError:
        table = None
    if table is None or not np.isfinite(table).all():
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                where = f"{path}:{lines[r]}:{c + 1}"
                text = cell.strip()
                if not text:
                    raise DataError(f"{where}: empty cell; every cell must hold a number")
                try:
                    value = float(text)
                except ValueError:
                    raise DataError(f"{where}: could not convert {text!r} to a number") from None
                if not np.isfinite(value):
                    msg = f"{where}: {text!r} is not a finite number; remove or impute it"
                    raise DataError(msg)
    return table


# -- NumPy files ---------------------------------------------------------------------------
def _load_npy(path: Path, source: Any, what: str) -> np.ndarray:
    try:
        array = np.load(source, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            msg = f"{path}: {what} holds Python objects; only numeric arrays are read"
            raise DataError(msg) from None
        raise DataError(f"{path}: {what} is not a valid .npy array: {exc}") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read {what}: {exc}") from None
    return _numeric(path, array, what)


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
    array = _load_npy(path, path, "the array")
    if array.ndim != 2:
        msg = f"{path}: expected a 2-D array (samples, columns), got shape {array.shape}"
        raise DataError(msg)
    if array.shape[0] == 0:
        raise DataError(f"{path}: the array has no rows")
    return array


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a valid .npz file ({exc})") from None
    with archive:
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise DataError(f"{path}: not an .npz archive (it holds a single array)")
        members = list(archive.files)
        if "X" not in members:
            msg = (
                f"{path}: missing member 'X' (members: {', '.join(members) or '(none)'}); "
                "save with np.savez(path, X=X, y=y)"
            )
            raise DataError(msg)
        try:
            X = _numeric(path, archive["X"], "member 'X'")
            y = _numeric(path, archive["y"], "member 'y'") if "y" in members else None
        except ValueError as exc:
            if isinstance(exc, DataError):
                raise
            msg = f"{path}: a member holds Python objects; only numeric arrays are read"
            raise DataError(msg) from None
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
