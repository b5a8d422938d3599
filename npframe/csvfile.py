"""Reading a CSV file: a header row, then rows of numbers and, where asked, of text.

``read_csv`` returns a ``CsvTable``: the column names, a float64 ``(n, k)`` table of the
number columns, and each text column (class labels such as ``benign``/``malignant``) as
a NumPy unicode array. Every problem is a ``DataError`` that points at the cell:
``data.csv:3:2: could not convert 'abc' to a number``.

Two passes, one of which usually suffices:

- **fast**: the header is parsed with ``csv``, the rest with ``np.loadtxt`` (NumPy's C
  reader, streaming), text columns through a converter. Any failure (a bad cell, a
  quote, a ragged row, a blank-looking row, bytes that are not UTF-8) or a non-finite
  value sends the file to the exact pass; nothing the fast pass returns differs from
  what the exact pass would.
- **exact**: ``csv`` row by row, converting as it goes, which finds the first bad cell
  with its line and column, reads quoted cells, and reports undecodable bytes with their
  true offset in the file.

The rules both follow: UTF-8 (a BOM is skipped); blank rows, and rows of empty cells,
are skipped; cells are stripped of whitespace as Python defines it (which includes the
separators ``\\x1c``-``\\x1f``); a number is what ``float`` reads, in ASCII, without
underscores, and must be finite; a text cell must be non-empty and printable. Line
breaks are ``\\n``, ``\\r\\n`` or ``\\r`` only, never the other characters
``str.splitlines`` would split at.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import math
import os
from array import array
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from attrs import field, frozen

from npframe._files import open_regular
from npframe._names import unknown
from npframe.errors import DataError

__all__ = ["CsvTable", "read_csv"]


@frozen
class CsvTable:
    """A CSV file's columns: numbers in one float64 table, text columns one by one."""

    header: tuple[str, ...]  #: every column name, in file order
    numbers: np.ndarray = field(eq=False)  #: (n, len(number_columns)) float64, finite
    number_columns: tuple[str, ...]  #: the columns of ``numbers``, in file order
    text: Mapping[str, np.ndarray] = field(eq=False)  #: column name -> (n,) unicode array

    @property
    def n_rows(self) -> int:
        return self.numbers.shape[0]


def read_csv(path: str | os.PathLike[str], *, delimiter: str = ",",
             text_columns: Collection[str] = ()) -> CsvTable:
    """Read ``path``; ``text_columns`` names the columns that hold text, not numbers."""
    path = Path(path)
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
        msg = ("delimiter must be one character other than a quote or a line break "
               f"(got {delimiter!r})")
        raise DataError(msg)
    wanted_text = list(text_columns)
    try:
        with open_regular(path, DataError) as raw:
            table = _fast(raw, delimiter, wanted_text)
            if table is None:
                raw.seek(0)
                table = _Exact(path, raw, delimiter, wanted_text).read()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return table


def _is_blank(row: list[str]) -> bool:
    return all(not cell.strip() for cell in row)


def _text_indices(header: list[str], wanted: list[str]) -> list[int] | None:
    """Indices of the text columns; None if a name is not in the header."""
    if not all(name in header for name in wanted):
        return None
    return sorted({header.index(name) for name in wanted})


# -- fast pass -----------------------------------------------------------------------------
class _NotSimple(ValueError):
    """This file needs the exact pass."""


def _fast(raw: io.BufferedReader, delimiter: str, wanted_text: list[str]) -> CsvTable | None:
    """The table via ``np.loadtxt``, or None when anything is unusual."""
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    try:
        return _fast_read(text, delimiter, wanted_text)
    except (ValueError, TypeError, OverflowError, StopIteration, csv.Error):
        return None
    finally:
        text.detach()  # keep ``raw`` open for the exact pass


def _fast_read(text: io.TextIOWrapper, delimiter: str, wanted_text: list[str]) -> CsvTable | None:
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    row = next(reader)
    while _is_blank(row):
        row = next(reader)
    header = [cell.strip() for cell in row]
    if _header_problem(header) or len(set(header)) != len(header):
        return None
    text_idx = _text_indices(header, wanted_text)
    if text_idx is None:
        return None
    first = next(line for line in text if line.strip())  # loadtxt warns on no data at all
    buckets: dict[int, list[str]] = {j: [] for j in text_idx}
    table = np.loadtxt(itertools.chain([first], text), delimiter=delimiter, comments=None,
                       quotechar=None, dtype=np.float64, ndmin=2,
                       converters={j: _collector(bucket) for j, bucket in buckets.items()})
    if table.shape[1] != len(header) or any(len(b) != len(table) for b in buckets.values()):
        return None
    number_idx = [j for j in range(len(header)) if j not in buckets]
    numbers = table[:, number_idx] if buckets else table
    if not np.isfinite(numbers).all():
        return None
    return CsvTable(header=tuple(header), numbers=numbers,
                    number_columns=tuple(header[j] for j in number_idx),
                    text={header[j]: np.array(b) for j, b in buckets.items()})


def _collector(bucket: list[str]):
    """A loadtxt converter that keeps the cell's text; repeated labels share one str."""
    append = bucket.append
    shared: dict[str, str] = {}

    def convert(cell: str) -> float:
        value = cell.strip()
        if not value or '"' in value or not value.isprintable():
            raise _NotSimple(cell)
        append(shared.setdefault(value, value))
        return 0.0

    return convert


# -- exact pass ----------------------------------------------------------------------------
class _Exact:
    """``csv`` row by row; the first problem raises with its line and column."""

    def __init__(self, path: Path, raw: io.BufferedReader, delimiter: str,
                 wanted_text: list[str]) -> None:
        self.path, self.raw, self.delimiter, self.wanted_text = path, raw, delimiter, wanted_text

    def read(self) -> CsvTable:
        text = io.TextIOWrapper(self.raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text, delimiter=self.delimiter, strict=True)
        try:
            return self._rows(reader)
        except UnicodeDecodeError:
            raise self._utf8_error() from None
        except csv.Error as exc:
            raise DataError(f"{self.path}:{reader.line_num}: malformed CSV: {exc}") from None
        finally:
            text.detach()

    def _rows(self, reader: Any) -> CsvTable:  # csv's reader type is private
        path = self.path
        header: list[str] = []
        for row in reader:
            if not _is_blank(row):
                header = [cell.strip() for cell in row]
                break
        if not header:
            raise DataError(f"{path}: empty file; expected a header row and rows of numbers")
        header_line = reader.line_num
        _check_header(path, header, header_line)
        text_idx = self._text_indices(header)
        number_idx = [j for j in range(len(header)) if j not in text_idx]
        values = array("d")
        labels: dict[int, list[str]] = {j: [] for j in text_idx}
        shared: dict[int, dict[str, str]] = {j: {} for j in text_idx}  # one str per label
        n_rows = 0
        for row in reader:
            if _is_blank(row):
                continue
            line = reader.line_num
            if len(row) != len(header):
                column = min(len(row), len(header)) + 1
                msg = (f"{path}:{line}:{column}: row has {len(row)} "
                       f"{'cell' if len(row) == 1 else 'cells'} but the header has "
                       f"{len(header)} columns")
                raise DataError(msg)
            cells = [row[j].strip() for j in number_idx]
            numbers = _numbers(cells)
            if numbers is None:
                _raise_bad_cell(path, line, cells, number_idx)
                raise AssertionError("unreachable: _raise_bad_cell raises")
            values.extend(numbers)
            for j, bucket in labels.items():
                value = _text_cell(path, line, j, row[j])
                bucket.append(shared[j].setdefault(value, value))
            n_rows += 1
        if not n_rows:
            raise DataError(f"{path}: no data rows after the header (line {header_line})")
        return CsvTable(
            header=tuple(header),
            numbers=np.frombuffer(values, dtype=np.float64).reshape(n_rows, len(number_idx)),
            number_columns=tuple(header[j] for j in number_idx),
            text={header[j]: np.array(bucket) for j, bucket in labels.items()},
        )

    def _text_indices(self, header: list[str]) -> list[int]:
        indices = _text_indices(header, self.wanted_text)
        if indices is None:
            name = next(n for n in self.wanted_text if n not in header)
            raise DataError(f"{self.path}: {unknown('text column', name, header, 'columns')}")
        return indices

    def _utf8_error(self) -> DataError:
        """The first undecodable byte, with its true offset in the file and its line."""
        self.raw.seek(0)
        offset, line, pending = 0, 1, b""
        while True:
            chunk = self.raw.read(1 << 20)
            data = pending + chunk
            try:
                _, used = codecs.utf_8_decode(data, "strict", not chunk)
            except UnicodeDecodeError as exc:
                line += data.count(b"\n", 0, exc.start)
                msg = (f"{self.path}:{line}: not UTF-8 text ({exc.reason}: "
                       f"0x{data[exc.start]:02x} at byte offset {offset + exc.start}); save "
                       "it as UTF-8 CSV")
                return DataError(msg)
            line += data.count(b"\n", 0, used)
            offset, pending = offset + used, data[used:]
            if not chunk:  # pragma: no cover - the decoder failed on these very bytes
                return DataError(f"{self.path}: not UTF-8 text; save it as UTF-8 CSV")


def _numbers(cells: list[str]) -> list[float] | None:
    """The row's numbers, or None if a cell is not a finite ASCII number."""
    try:
        numbers = [float(cell) for cell in cells]
    except ValueError:
        return None
    joined = "".join(cells)
    suspect = not joined.isascii() or "_" in joined or not math.isfinite(sum(numbers))
    if suspect and not all(_is_number(cell) for cell in cells):
        return None  # (a finite sum can overflow: then every cell is fine after all)
    return numbers


def _is_number(cell: str) -> bool:
    try:
        value = float(cell)
    except ValueError:
        return False
    return cell.isascii() and "_" not in cell and math.isfinite(value)


def _raise_bad_cell(path: Path, line: int, cells: list[str], columns: list[int]) -> None:
    for cell, j in zip(cells, columns, strict=True):
        where = f"{path}:{line}:{j + 1}"
        if not cell:
            raise DataError(f"{where}: empty cell; every cell must hold a number")
        try:
            value = float(cell)
        except ValueError:
            value = None
        if value is None or not cell.isascii() or "_" in cell:
            raise DataError(f"{where}: could not convert {cell!r} to a number")
        if not math.isfinite(value):
            msg = f"{where}: {cell!r} is not a finite number; remove or impute it"
            raise DataError(msg)
    raise AssertionError("no bad cell in a row that failed")  # pragma: no cover


def _text_cell(path: Path, line: int, column: int, cell: str) -> str:
    value = cell.strip()
    if not value:
        raise DataError(f"{path}:{line}:{column + 1}: empty cell; every cell must hold a value")
    if not value.isprintable():
        msg = (f"{path}:{line}:{column + 1}: text {value!r} holds a control character; "
               "remove it")
        raise DataError(msg)
    return value


# -- header --------------------------------------------------------------------------------
def _header_problem(header: list[str]) -> bool:
    return all(_looks_numeric(cell) for cell in header) or not all(header)


def _looks_numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _check_header(path: Path, header: list[str], line: int) -> None:
    if all(_looks_numeric(cell) for cell in header):
        msg = (f"{path}:{line}: the first row holds numbers, not column names; add a header "
               "row naming the columns")
        raise DataError(msg)
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if not name:
            raise DataError(f"{path}:{line}:{i + 1}: empty column name in the header")
        if name in seen:
            msg = (f"{path}:{line}:{i + 1}: duplicate column name {name!r} "
                   f"(also column {seen[name] + 1})")
            raise DataError(msg)
        seen[name] = i
