"""The results table: one row per trial, kept as CSV (to read) and JSON (to resume).

Both files are rewritten whole after every finished trial, each into a temporary file
beside it and then renamed over it, so a sweep stopped at any moment leaves complete
files that hold every trial finished so far. Rows are in trial order whatever the
order trials finished in, so the same sweep gives the same table on any executor
(apart from ``seconds``).

The JSON file also records the sweep's settings (the base spec with its seed, a
digest of the data, the rank, the validation, the search space). Resuming checks them
and each stored trial's values against the sweep, and refuses a file from another
sweep instead of mixing two sweeps' trials in one table.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import define, field, frozen

from npframe.errors import ResultsFileError
from npframe.sweeps.trial import TrialOutcome

__all__ = ["FORMAT_VERSION", "ResultPaths", "ResultsTable", "canonical", "write_atomically"]

FORMAT_VERSION = 1
_FORMAT_KEY = "npframe_sweep_results"


def canonical(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(value))


def write_atomically(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``.

    A reader (or a crash of this process) sees the old file or the new one, never a
    part. ``durable`` also flushes it to the disk first, against power failures; the
    results files skip that, as they are rewritten after every trial.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@frozen
class ResultPaths:
    """Where a sweep's results go: ``results.csv`` and ``results.json`` side by side."""

    csv: Path
    json: Path

    @classmethod
    def from_out(cls, out: str | os.PathLike) -> ResultPaths:
        """From either file's name; ``ValueError`` for another suffix or a missing folder."""
        path = Path(out)
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".json"):
            msg = f"{path}: a results file name must end in .csv or .json"
            raise ValueError(msg)
        if not path.parent.is_dir():
            msg = f"{path}: folder '{path.parent}' does not exist (create it first)"
            raise ValueError(msg)
        return cls(csv=path.with_suffix(".csv"), json=path.with_suffix(".json"))

    def default_best_model(self) -> Path:
        """``results.best.npz`` beside ``results.csv``."""
        return self.csv.with_name(self.csv.stem + ".best.npz")


@define
class ResultsTable:
    """The rows of one sweep, keyed by trial index, and how to write them."""

    columns: list[str]
    param_paths: list[str]
    rank: str
    greater_is_better: bool
    settings: dict[str, Any]
    rows: dict[int, dict[str, Any]] = field(factory=dict)
    #: ``{"trial": i, "path": "results.best.npz"}``: whose model the best-model file holds.
    best_model: dict[str, Any] | None = None
    paths: ResultPaths | None = None
    _best: dict[str, Any] | None = field(default=None, init=False)

    @classmethod
    def new(cls, *, param_paths: Sequence[str], rank: str, greater_is_better: bool,
            log_keys: Sequence[str], spread: bool, settings: Mapping[str, Any],
            paths: ResultPaths | None = None) -> ResultsTable:
        others = [key for key in log_keys if key != rank]
        columns = ["trial", *param_paths, rank, *([f"{rank}_std"] if spread else []),
                   *others, "epochs", "seconds", "status", "error", "warning"]
        return cls(columns=columns, param_paths=list(param_paths), rank=rank,
                   greater_is_better=greater_is_better, settings=canonical(dict(settings)),
                   paths=paths)

    # -- resuming ----------------------------------------------------------------------
    def resume(self, sweep_name: str, expected_params: Any) -> None:
        """Load the rows of ``paths.json`` if it exists, after checking it is this sweep's.

        ``expected_params(i)`` gives this sweep's values for trial ``i``.
        """
        if self.paths is None:
            return
        json_path, csv_path = self.paths.json, self.paths.csv
        if not json_path.exists():
            if csv_path.exists():
                msg = (f"{csv_path} exists, but {json_path.name}, which a sweep resumes from, "
                       f"does not; delete {csv_path.name} or choose another results file")
                raise ResultsFileError(msg)
            return
        stored = self._read(json_path)
        differ = [key for key in sorted(set(stored["sweep"]) | set(self.settings))
                  if stored["sweep"].get(key) != self.settings.get(key)]
        if differ:
            msg = (f"{json_path}: written by a different sweep (its {', '.join(differ)} "
                   f"differ from {sweep_name}'s); choose another results file, or delete "
                   f"{json_path.name} and {csv_path.name} to start over")
            raise ResultsFileError(msg)
        if stored["columns"] != self.columns:
            msg = (f"{json_path}: its columns ({', '.join(stored['columns'])}) are not this "
                   f"sweep's ({', '.join(self.columns)}); choose another results file")
            raise ResultsFileError(msg)
        for row in stored["trials"]:
            index = row.get("trial")
            if not isinstance(index, int) or isinstance(index, bool) or index < 0:
                raise ResultsFileError(f"{json_path}: a row has no valid trial index: {row}")
            expected = canonical(expected_params(index))
            for path in self.param_paths:
                if row.get(path) != expected[path]:
                    msg = (f"{json_path}: trial {index} has {path} = {row.get(path)!r}, but "
                           f"{sweep_name}'s trial {index} has {expected[path]!r}: the file is "
                           "from another sweep; choose another results file")
                    raise ResultsFileError(msg)
            self._keep(index, {column: row.get(column) for column in self.columns})
        self.best_model = stored.get("best_model")

    @staticmethod
    def _read(path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ResultsFileError(f"{path}: cannot be read as sweep results: {exc}") from None
        if not isinstance(data, dict) or data.get(_FORMAT_KEY) != FORMAT_VERSION:
            msg = (f"{path}: not an npframe sweep results file (version {FORMAT_VERSION}); "
                   "choose another results file")
            raise ResultsFileError(msg)
        for key, kind in (("sweep", dict), ("columns", list), ("trials", list)):
            if not isinstance(data.get(key), kind):
                raise ResultsFileError(f"{path}: malformed sweep results: bad '{key}'")
        return data

    # -- rows --------------------------------------------------------------------------
    def add(self, outcome: TrialOutcome, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """The new row, or ``None`` when that trial has a row already (never two rows)."""
        if outcome.index in self.rows:
            return None
        values: dict[str, Any] = {"trial": outcome.index, **canonical(dict(params))}
        values.update({key: _finite(value) for key, value in outcome.logs.items()})
        if outcome.spread:
            values[f"{self.rank}_std"] = _finite(outcome.spread.get(self.rank))
        values.update(epochs=outcome.epochs, seconds=round(outcome.seconds, 4),
                      status=outcome.status, error=outcome.error, warning=outcome.warning)
        row = {column: values.get(column) for column in self.columns}
        self._keep(outcome.index, row)
        return row

    def _keep(self, index: int, row: dict[str, Any]) -> None:
        self.rows[index] = row
        if self._better(row, self._best):
            self._best = row

    def _better(self, row: dict[str, Any], than: dict[str, Any] | None) -> bool:
        if row["status"] != "ok" or row[self.rank] is None:
            return False
        return than is None or self._order(row) < self._order(than)

    def _order(self, row: dict[str, Any]) -> tuple[float, int]:
        """Sorts best first; ties go to the earlier trial."""
        sign = -1.0 if self.greater_is_better else 1.0
        return sign * row[self.rank], row["trial"]

    def missing(self, n_trials: int) -> list[int]:
        return [i for i in range(n_trials) if i not in self.rows]

    def sorted_rows(self) -> list[dict[str, Any]]:
        return [self.rows[i] for i in sorted(self.rows)]

    def ranked(self) -> list[dict[str, Any]]:
        """Finished trials, best first (ties: the earlier trial)."""
        ok = [row for row in self.rows.values() if self._better(row, None)]
        return sorted(ok, key=self._order)

    def best(self) -> dict[str, Any] | None:
        """The best finished trial, kept up to date as rows arrive."""
        return self._best

    # -- writing -----------------------------------------------------------------------
    def save(self) -> None:
        """Rewrite both files atomically (JSON first: it is what a resume reads)."""
        if self.paths is None:
            return
        write_atomically(self.paths.json, self.to_json().encode("utf-8"))
        write_atomically(self.paths.csv, self.to_csv().encode("utf-8"))

    def to_json(self) -> str:
        """One line per top-level key and per trial: readable, and quick to write."""
        best = self.best()
        head = {
            _FORMAT_KEY: FORMAT_VERSION,
            "sweep": self.settings,
            "rank": self.rank,
            "greater_is_better": self.greater_is_better,
            "columns": self.columns,
            "best": None if best is None else {"trial": best["trial"], self.rank: best[self.rank]},
            "best_model": self.best_model,
        }
        lines = [f" {json.dumps(key)}: {json.dumps(value, allow_nan=False)}"
                 for key, value in head.items()]
        rows = ",\n  ".join(json.dumps(row, allow_nan=False) for row in self.sorted_rows())
        lines.append(f' "trials": [\n  {rows}\n ]' if rows else ' "trials": []')
        return "{\n" + ",\n".join(lines) + "\n}\n"

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(_csv_cells(row[c] for c in self.columns) for row in self.sorted_rows())
        return buffer.getvalue()


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _csv_cells(values: Iterable[Any]) -> list[str]:
    cells = []
    for value in values:
        if value is None:
            cells.append("")
        elif isinstance(value, bool):
            cells.append("true" if value else "false")
        elif isinstance(value, float):
            cells.append(repr(value))
        elif isinstance(value, int | str):
            cells.append(str(value))
        else:  # a table or list value, e.g. optimizer = { name = "adam", ... }
            cells.append(json.dumps(value, separators=(",", ":")))
    return cells
