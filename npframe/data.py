"""Reading training data from files: CSV with a header row, ``.npy`` and ``.npz``.

``load_data(path, targets=...)`` returns an ``npframe.Dataset`` on the raw scale
(standardization is the network's job). Every problem is a ``DataError`` whose
message starts with where it is, ``data.csv:3:2: could not convert 'abc' to a
number``, so a command line can print it as it is.

Which columns are targets:

- ``targets`` names them, by header name, 0-based index (negative counts from the
  end) or range of indices (``"64:74"``, end excluded, as in Python), as a list or a
  comma-separated string: ``"sum,diff"``, ``"2,3"``, ``-1``, ``"64:74"``.
- Otherwise, with ``n_features`` (what the network takes), the first ``n_features``
  columns are the inputs and the rest are targets.
- Otherwise every column is an input and ``y`` has shape ``(n, 0)``.

With ``labels=True`` (a classifier's data) a single target column is read as class
labels: integers when every cell is one, else numbers, else text (``benign``). A
``weights`` column holds one sample weight per row; it is neither input nor target.

An ``.npz`` file holds ``X`` and (optionally) ``y`` members itself.

A ``.npy`` file larger than ``MMAP_BYTES`` (or any, with ``mmap=True``) is memory-mapped
instead of read: ``X`` and ``y`` are then views of the file (``npframe.mapped``), which
``Network.fit`` streams block by block, so the data set may be larger than memory. Its
inputs and its targets must then each be one block of adjacent columns (as they are by
default), its values are checked as training reads them, and a label column stays
numbers (one-hot or 0/1 columns train a streamed classifier).

Files are read by ``npframe.csvfile`` and ``npframe.archive``: nothing is unpickled,
pipes and devices are refused, and ``.npy``/``.npz`` headers are checked against the
file and against a memory budget (half of what this process can get, counting the
float64 copy) before any array is allocated.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from npframe._files import open_regular
from npframe._names import unknown
from npframe.archive import HeaderCheck, list_npz, read_npy, read_npz
from npframe.csvfile import read_csv
from npframe.dataset import Dataset
from npframe.errors import DataError
from npframe.mapped import map_npy, open_columns
from npframe.memory import format_bytes, memory_budget

__all__ = ["MMAP_BYTES", "SUFFIXES", "Targets", "describe_columns", "label_column", "load_data",
           "parse_targets", "read_header"]

#: File types ``load_data`` reads, by suffix.
SUFFIXES = (".csv", ".npy", ".npz")
#: ``.npy`` files larger than this are memory-mapped rather than read into memory.
MMAP_BYTES = 64 * 2**20

#: A target selection: column names and/or indices, or a comma-separated string of them.
Targets = str | int | Sequence[str | int] | None

_INDEX = re.compile(r"[+-]?\d+")
_RANGE = re.compile(r"([+-]?\d*):([+-]?\d*)")


def describe_columns(names: Sequence[str], limit: int = 5) -> str:
    """``"a, b, c"``; past ``limit`` names ``"a, b, ... (64 columns)"``."""
    names = list(names)
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:2])}, ... ({len(names)} columns)"


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
    labels: bool = False,
    weights: str | int | None = None,
    mmap: bool | None = None,
) -> Dataset:
    """Read ``path`` into a ``Dataset`` with ``X (n, features)`` and ``y (n, targets)``.

    ``n_features`` is how many inputs the network takes: it picks the targets when
    ``targets`` is not given and is checked when it is. Values are ``float64``, finite;
    with ``labels`` a single target column is a 1-D array of class labels (see the
    module docstring). ``weights`` names a column of sample weights (CSV and ``.npy``).
    ``mmap`` maps a ``.npy`` file instead of reading it (default: when it is larger than
    ``MMAP_BYTES``).
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
        if targets is not None or weights is not None:
            what = "targets" if targets is not None else "a weights column"
            msg = (
                f"{path}: {what} apply to .csv and .npy files; an .npz file holds its "
                "targets in its 'y' member"
            )
            raise DataError(msg)
        X, y = _read_npz(path)
        _check_n_features(path, X.shape[1], n_features, ())
        if labels and y.shape[1] == 1 and np.all(y == np.round(y)):
            y = y[:, 0].astype(np.int64)
        return Dataset(X=X, y=y, description=str(path))
    chosen_targets = parse_targets(targets)
    if suffix == ".npy":
        if mmap or (mmap is None and path.stat().st_size > MMAP_BYTES):
            return _mapped_npy(path, chosen_targets, n_features, weights)
        table = _read_npy(path)
        columns = _Columns(path, [], table.shape[1])
        plan = columns.plan(chosen_targets, n_features, weights)
        return plan.dataset(table, {}, labels)
    header = read_header(path, delimiter)
    if header is None:  # unreadable or no header: the reader below says what is wrong
        read_csv(path, delimiter=delimiter)
        raise DataError(f"{path}: no header row")  # pragma: no cover - read_csv raised
    columns = _Columns(path, header, len(header))
    plan = columns.plan(chosen_targets, n_features, weights)
    text = plan.label_names() if labels else []
    try:
        csv_table = read_csv(path, delimiter=delimiter, text_columns=text)
    except DataError as exc:
        if text or not plan.targets:
            raise
        raise _text_in_targets(path, delimiter, plan, exc) from None
    if list(csv_table.header) != header:  # pragma: no cover - the file changed meanwhile
        raise DataError(f"{path}: the header changed while reading")
    numbers = csv_table.numbers
    if csv_table.text:  # back to file positions; the text column's place stays unused
        numbers = np.zeros((csv_table.n_rows, len(header)))
        number_index = [header.index(name) for name in csv_table.number_columns]
        numbers[:, number_index] = csv_table.numbers
    return plan.dataset(numbers, dict(csv_table.text), labels)


def read_header(path: str | os.PathLike, delimiter: str = ",") -> list[str] | None:
    """The column names of a CSV file (``None`` when they cannot be read cheaply: the
    full reader then reports why)."""
    try:
        with open_regular(path, DataError) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            try:
                for row in csv.reader(text, delimiter=delimiter, strict=True):
                    if any(cell.strip() for cell in row):
                        header = [cell.strip() for cell in row]
                        if (len(set(header)) != len(header) or not all(header)
                                or all(_looks_numeric(cell) for cell in header)):
                            return None
                        return header
            finally:
                text.detach()
    except (OSError, UnicodeDecodeError, csv.Error, DataError):
        return None
    return None


def _looks_numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def label_column(values: np.ndarray) -> np.ndarray:
    """Text cells as labels: integers if every cell is one, else finite numbers, else text."""
    values = np.asarray(values)
    if values.dtype.kind != "U" or values.size == 0:
        return values
    with contextlib.suppress(ValueError, OverflowError):
        ints = values.astype(np.int64)
        if all(_INDEX.fullmatch(v) for v in np.unique(values).tolist()):
            return ints
    with contextlib.suppress(ValueError, OverflowError):
        floats = values.astype(np.float64)
        if np.isfinite(floats).all():
            return floats
    return values


def _text_in_targets(path: Path, delimiter: str, plan: _Plan, error: DataError) -> DataError:
    """A regression target that holds text: the reader's file:line:col, plus which target
    column it is and what would read it as labels."""
    try:
        table = read_csv(path, delimiter=delimiter, text_columns=plan.target_names())
    except DataError:
        return error  # the bad cell is not (only) in a target column
    for name in plan.target_names():
        values = table.text[name]
        for row, value in enumerate(values.tolist()):
            try:
                ok = math.isfinite(float(value))
            except ValueError:
                ok = False
            if not ok:
                msg = (
                    f"{error}; target column {name!r} holds text ({value!r} in data row "
                    f"{row + 1}), which a regression loss cannot take: for class labels "
                    "use a classification loss (binary_crossentropy or "
                    "categorical_crossentropy)"
                )
                return DataError(msg)
    return error  # pragma: no cover - the first read found a bad target cell


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


def _mapped_npy(path: Path, targets: list[str | int] | None, n_features: int | None,
                weights: str | int | None) -> Dataset:
    """The dataset as views of the mapped file: nothing is read until training reads it."""
    whole = map_npy(path)
    if whole.ndim != 2:
        msg = f"{path}: expected a 2-D array (samples, columns), got shape {whole.shape}"
        raise DataError(msg)
    if whole.dtype.kind not in "iuf":
        raise DataError(f"{path}: the array must hold real numbers (got dtype {whole.dtype})")
    if whole.shape[0] == 0:
        raise DataError(f"{path}: the array has no rows")
    plan = _Columns(path, [], whole.shape[1]).plan(targets, n_features, weights)
    sample_weight = None
    if plan.weight is not None:
        sample_weight = _numeric(path, np.array(whole[:, plan.weight]), "the weights column")
        if (sample_weight < 0).any():
            row = int(np.argmax(sample_weight < 0))
            msg = (f"{path}: weights column {plan.weight}, data row {row + 1}: "
                   f"{sample_weight[row]} is negative; sample weights must be >= 0")
            raise DataError(msg)
    X, y = (open_columns(str(path), *_adjacent(path, columns, what))
            for columns, what in ((plan.features, "inputs"), (plan.targets, "targets")))
    return Dataset(X=X, y=y, sample_weight=sample_weight, description=str(path))


def _adjacent(path: Path, columns: list[int], what: str) -> tuple[int, int]:
    """``(start, stop)`` of ``columns`` when they are one block of adjacent columns."""
    if not columns:
        return 0, 0
    start, stop = columns[0], columns[-1] + 1
    if columns != list(range(start, stop)):
        msg = (f"{path}: the file is memory-mapped, so its {what} must be adjacent "
               f"columns, in order (got columns {columns}); write the file with them side "
               "by side")
        raise DataError(msg)
    return start, stop


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
@attrs.frozen
class _Plan:
    """Which columns of a table are inputs, targets and the sample weight."""

    path: Path
    header: list[str]
    features: list[int]
    targets: list[int]
    weight: int | None

    def target_names(self) -> list[str]:
        return [self.header[i] for i in self.targets] if self.header else []

    def label_names(self) -> list[str]:
        """The target column to read as text labels (only a single one is labels)."""
        return self.target_names() if len(self.targets) == 1 else []

    def dataset(self, numbers: np.ndarray, text: dict[str, np.ndarray],
                labels: bool) -> Dataset:
        names = self.header
        if text:
            (name,) = text
            y: np.ndarray = label_column(text[name])
        else:
            y = np.ascontiguousarray(numbers[:, self.targets])
            if labels and len(self.targets) == 1 and not names:
                column = y[:, 0]
                if np.all(column == np.round(column)):
                    y = column.astype(np.int64)
        sample_weight = None
        if self.weight is not None:
            sample_weight = np.ascontiguousarray(numbers[:, self.weight])
            if (sample_weight < 0).any():
                row = int(np.argmax(sample_weight < 0))
                label = names[self.weight] if names else str(self.weight)
                msg = (f"{self.path}: weights column {label!r}, data row {row + 1}: "
                       f"{sample_weight[row]} is negative; sample weights must be >= 0")
                raise DataError(msg)
        return Dataset(
            X=np.ascontiguousarray(numbers[:, self.features]),
            y=y,
            feature_names=[names[i] for i in self.features] if names else (),
            target_names=[names[i] for i in self.targets] if names else (),
            sample_weight=sample_weight,
            description=str(self.path),
        )


@attrs.frozen
class _Columns:
    path: Path
    header: list[str]
    n_columns: int

    def resolve(self, item: str | int, what: str = "target column") -> list[int]:
        """The column indices ``item`` names: a header name, an index or a range."""
        header, n = self.header, self.n_columns
        if isinstance(item, str) and item in header:
            return [header.index(item)]
        if isinstance(item, int) or _INDEX.fullmatch(item):
            index = int(item)
            if not -n <= index < n:
                msg = (
                    f"{self.path}: {what} index {index} is out of range; the file has "
                    f"{n} columns (0 to {n - 1}, or -1 for the last)"
                )
                raise DataError(msg)
            return [index % n]
        match = _RANGE.fullmatch(item)
        if match:
            start = int(match.group(1)) if match.group(1) else None
            stop = int(match.group(2)) if match.group(2) else None
            chosen = list(range(n))[start:stop]
            if not chosen:
                msg = (f"{self.path}: {what}s {item!r} select no column; the file has "
                       f"{n} columns (0 to {n - 1}; a range is start:stop, stop excluded)")
                raise DataError(msg)
            return chosen
        raise DataError(f"{self.path}: {unknown(what, item, header, 'columns')}")

    def label(self, index: int) -> str:
        return self.header[index] if self.header else str(index)

    def plan(self, targets: list[str | int] | None, n_features: int | None,
             weights: str | int | None) -> _Plan:
        path, n_columns = self.path, self.n_columns
        weight = None
        if weights is not None:
            if isinstance(weights, bool) or not isinstance(weights, str | int):
                raise DataError(f"weights must name a column (got {weights!r})")
            found = self.resolve(weights.strip() if isinstance(weights, str) else weights,
                                 "weights column")
            if len(found) != 1:
                raise DataError(f"{path}: the weights are one column (got {weights!r})")
            weight = found[0]
        others = [i for i in range(n_columns) if i != weight]
        if targets is not None:
            chosen = [i for item in targets for i in self.resolve(item)]
            for i, index in enumerate(chosen):
                if index in chosen[:i]:
                    raise DataError(f"{path}: target column {self.label(index)!r} is chosen "
                                    "twice")
                if index == weight:
                    raise DataError(f"{path}: column {self.label(index)!r} is both a target "
                                    "and the weights")
            features = [i for i in others if i not in chosen]
            if not features:
                raise DataError(f"{path}: every column is a target; no input columns are left")
            names = [self.header[i] for i in features] if self.header else ()
            _check_n_features(path, len(features), n_features, names)
        elif n_features is not None:
            if len(others) < n_features:
                msg = (
                    f"{path}: the file has {len(others)} columns"
                    + (" besides the weights" if weight is not None else "")
                    + f" but the network takes {n_features} inputs"
                )
                raise DataError(msg)
            features, chosen = others[:n_features], others[n_features:]
        else:
            features, chosen = others, []
        return _Plan(path, self.header, features, chosen, weight)


def _check_n_features(path: Path, got: int, expected: int | None, names: Sequence[str]) -> None:
    if expected is not None and got != expected:
        shown = describe_columns(names).replace(f" ({len(names)} columns)", "")
        listed = f" ({shown})" if names else ""
        msg = (
            f"{path}: {got} input {'column' if got == 1 else 'columns'}{listed} but the "
            f"network takes {expected}; name the target columns (--targets, or targets=)"
        )
        raise DataError(msg)
