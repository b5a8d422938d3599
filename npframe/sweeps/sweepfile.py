"""Reading a sweep file (``sweep.toml``) into a checked ``Sweep``, before any trial runs.

Every mistake is a ``SpecError`` whose message starts with the sweep file and the key,
``sweep.toml: grid."layers[0].unit": unknown key 'unit'; did you mean 'units'? ...``.
The base spec is completed here once, with the sweep's ``[train]`` overrides, a seed
(the sweep's own when the spec has none, so every trial is reproducible) and every
default filled in, so a trial's spec is this spec plus its swept values.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import numbers
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from attrs import field, frozen

import npframe
from npframe._names import unknown
from npframe.data import MMAP_BYTES, load_data
from npframe.errors import SpecError
from npframe.memory import format_bytes
from npframe.sweeps.space import Grid, RandomSearch, Space, SpaceError
from npframe.sweeps.specpath import PathError, Step, parse_path, set_in_place

__all__ = ["KEYS", "Sweep", "load_sweep"]

#: The keys a sweep file may have.
KEYS = ("spec", "data", "targets", "rank", "validation_split", "folds", "epochs",
        "batch_size", "shuffle", "seed", "grid", "random")
#: Sweep keys that override the base spec's ``[train]`` table.
_TRAIN_KEYS = ("epochs", "batch_size", "shuffle", "validation_split")
#: At most this many settings of a key's swept ancestors are tried when checking it.
_MAX_VARIANTS = 64


@frozen(kw_only=True)
class Sweep:
    """A checked sweep: the completed base spec, the data, what ranks, what is tried."""

    #: How messages name the sweep: its file, or ``"sweep"`` for a mapping.
    name: str
    spec: dict[str, Any]
    X: np.ndarray = field(eq=False, repr=False)
    y: np.ndarray = field(eq=False, repr=False)
    data_description: str
    rank: str
    greater_is_better: bool
    validation_split: float
    folds: int | None
    space: Space
    #: The logs every trial reports, in ``fit``'s order: loss, metrics, val_loss, val_...
    log_keys: tuple[str, ...]

    @property
    def n_trials(self) -> int:
        return len(self.space)

    @property
    def paths(self) -> tuple[str, ...]:
        return self.space.paths

    def params(self, index: int) -> dict[str, Any]:
        """The swept values of trial ``index``."""
        return self.space.trial(index)

    def settings(self) -> dict[str, Any]:
        """Everything that makes two sweeps the same sweep (a results file records it)."""
        digest = hashlib.sha256()
        for array in (self.X, self.y):
            digest.update(repr(array.shape).encode())
            rows = max(1, 2**20 // max(1, math.prod(array.shape[1:])))
            for start in range(0, array.shape[0], rows):  # a mapped file: block by block
                block = array[start:start + rows]
                digest.update(np.ascontiguousarray(block, dtype=np.float64).tobytes())
        validation = ({"folds": self.folds} if self.folds is not None
                      else {"validation_split": self.validation_split})
        return {"spec": self.spec, "data": digest.hexdigest(), "rank": self.rank,
                "validation": validation, "space": self.space.to_data()}


def load_sweep(source: str | os.PathLike | Mapping[str, Any], *,
               base_dir: str | os.PathLike | None = None) -> Sweep:
    """Read and check a sweep file (``.toml`` or ``.json``) or mapping.

    Relative paths in it (``spec``, ``data``) are relative to the file's folder, or to
    ``base_dir`` (default: the current folder) for a mapping.
    """
    if isinstance(source, Mapping):
        name, raw = "sweep", dict(source)
        folder = Path(base_dir) if base_dir is not None else Path.cwd()
    else:
        path = Path(source)
        name, raw = str(path), _read(path, str(path))
        folder = Path(base_dir) if base_dir is not None else path.parent
        if not isinstance(raw, Mapping):
            raise SpecError("a sweep file must hold a table of keys", name)
    return _Reader(name, folder).read(raw)


def _read(path: Path, where: str) -> Any:
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        msg = f"unsupported file type {path.suffix or '(none)'!r}; use .toml or .json"
        raise SpecError(msg, where)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("no such file", where) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read: {exc}", where) from None
    try:
        return tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"invalid TOML: {exc}", where) from None
    except json.JSONDecodeError as exc:
        msg = f"invalid JSON: {exc.msg} (at line {exc.lineno}, column {exc.colno})"
        raise SpecError(msg, where) from None


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _related(a: str, b: str) -> bool:
    """Whether one path lies inside the other (``optimizer`` and ``optimizer.beta1``)."""
    short, long = sorted((a, b), key=len)
    return long == short or long.startswith((f"{short}.", f"{short}["))


class _Reader:
    """One pass over a sweep file; ``fail`` prefixes every message with file and key."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder

    def fail(self, key: str, message: str) -> SpecError:
        return SpecError(message, f"{self.name}: {key}")

    def read(self, raw: Mapping[str, Any]) -> Sweep:
        for key in raw:
            if key not in KEYS:
                raise self.fail(key, unknown("key", key, KEYS, "allowed"))
        seed = raw.get("seed", 0)
        if not _is_int(seed) or seed < 0:
            raise self.fail("seed", f"must be an int >= 0 (got {seed!r})")
        space = self._space(raw, int(seed))
        folds = self._folds(raw)
        spec = self._spec(raw, int(seed), folds)
        X, y, description = self._data(raw, spec)
        split = float(spec["train"]["validation_split"])
        self._check_held_out(raw, len(X), split, folds)
        rank, greater, log_keys = self._rank(raw, spec, split, folds)
        for path in space.paths:
            self._check_path(space, path, spec)
        return Sweep(name=self.name, spec=spec, X=X, y=y, data_description=description,
                     rank=rank, greater_is_better=greater, validation_split=split,
                     folds=folds, space=space, log_keys=log_keys)

    # -- what is tried -----------------------------------------------------------------
    def _space(self, raw: Mapping[str, Any], seed: int) -> Space:
        if "grid" in raw and "random" in raw:
            raise self.fail("random", "a sweep has a [grid] table or a [random] table, "
                                      "not both; split it into two sweeps")
        try:
            if "grid" in raw:
                return Grid.parse(raw["grid"])
            if "random" in raw:
                return RandomSearch.parse(raw["random"], seed)
        except SpaceError as exc:
            raise self.fail(exc.key, exc.reason) from None
        msg = ("nothing to try: add a [grid] table (every combination of lists of values) "
               "or a [random] table (trials = N draws from distributions)")
        raise SpecError(msg, self.name)

    def _check_path(self, space: Space, path: str, spec: dict[str, Any]) -> None:
        """``path`` must lead somewhere in the spec, for some setting of its swept
        ancestors (``optimizer.beta1`` exists once ``optimizer = "adam"``)."""
        key = f'{"grid" if isinstance(space, Grid) else "random"}."{path}"'
        try:
            steps = parse_path(path)
        except PathError as exc:
            raise self.fail(key, str(exc)) from None
        ancestors = [p for p in space.paths if p != path and _related(p, path)
                     and len(p) < len(path)]
        settings = itertools.islice(
            itertools.product(*(space.options(p) for p in ancestors)), _MAX_VARIANTS)
        reasons = []
        for values in settings:
            variant = copy.deepcopy(spec)
            try:
                for ancestor, value in zip(ancestors, values, strict=True):
                    set_in_place(variant, parse_path(ancestor), copy.deepcopy(value))
                existed = _exists(variant, steps)
                set_in_place(variant, steps, copy.deepcopy(space.options(path)[0]))
            except PathError as exc:
                reasons.append(str(exc))
                continue
            if existed:
                return
            try:  # a new key: only the spec knows whether it means anything
                npframe.Network.from_spec(variant)
            except SpecError as exc:
                if _related(exc.path, path):
                    reasons.append(str(exc))
                    continue
            return
        raise self.fail(key, f"not a path in the spec: {reasons[0]}")

    # -- the base spec -----------------------------------------------------------------
    def _spec(self, raw: Mapping[str, Any], seed: int, folds: int | None) -> dict[str, Any]:
        if "spec" not in raw:
            raise self.fail("spec", 'required: the base network spec, a file '
                                    '(spec = "net.toml") or an inline [spec] table')
        value = raw["spec"]
        if isinstance(value, str):
            where = f"{self.name}: spec: {value}"
            data = _read(self.folder / value, where)
        elif isinstance(value, Mapping):
            where, data = f"{self.name}: spec", value
        else:
            raise self.fail("spec", f"must be a file name or a table (got {value!r})")
        if not isinstance(data, Mapping):
            raise SpecError("a spec must be a table of keys", where)
        data = copy.deepcopy(dict(data))
        self._network(data, where)  # its own mistakes first, named as its own
        if data.get("seed") is None:
            data["seed"] = seed
        overrides = {key: raw[key] for key in _TRAIN_KEYS if key in raw}
        if folds is not None:
            overrides["validation_split"] = 0.0
        data["train"] = {**(data.get("train") or {}), **overrides}
        try:
            net = npframe.Network.from_spec(data)
        except SpecError as exc:
            key = exc.path.removeprefix("train.")
            if key in overrides and key != exc.path:
                raise self.fail(key, exc.reason) from None
            raise SpecError(str(exc), where) from None
        return net.to_spec()

    @staticmethod
    def _network(data: dict[str, Any], where: str) -> Any:
        try:
            return npframe.Network.from_spec(data)
        except SpecError as exc:
            raise SpecError(str(exc), where) from None

    # -- the data ----------------------------------------------------------------------
    def _data(self, raw: Mapping[str, Any], spec: dict[str, Any],
              ) -> tuple[np.ndarray, np.ndarray, str]:
        dataset_ref = spec["train"].get("dataset")
        if "data" in raw:
            value = raw["data"]
            if not isinstance(value, str) or not value:
                raise self.fail("data", f"must be a file name (got {value!r})")
            path = self.folder / value
            dataset = load_data(path, raw.get("targets"), n_features=spec["input"])
            description = str(path)
        elif "targets" in raw:
            raise self.fail("targets", "chooses columns of a data file; give data too")
        elif dataset_ref is not None:
            dataset = npframe.registry.create("dataset", dataset_ref, path="train.dataset")
            name = dataset_ref if isinstance(dataset_ref, str) else dataset_ref["name"]
            description = f"dataset {name!r}"
        else:
            raise self.fail("data", 'required: the training data file (data = "train.csv"), '
                                    "unless the spec's [train] table names a dataset")
        X: np.ndarray
        y: np.ndarray
        if isinstance(dataset.X, np.memmap):  # larger than MMAP_BYTES: stays on disk
            if "folds" in raw:
                raise self.fail("folds", f"{description} is memory-mapped (larger than "
                                         f"{format_bytes(MMAP_BYTES)}); cross-validation "
                                         "needs the rows in memory: use validation_split")
            X, y = dataset.X, dataset.y
        else:
            X = np.asarray(dataset.X, dtype=np.float64)
            y = np.asarray(dataset.y)
        if y.ndim == 2 and y.shape[1] == 0:
            raise self.fail("data", f"{description}: no target columns; name them with "
                                    'targets = "..."')
        if X.ndim != 2 or X.shape[1] != spec["input"]:
            raise self.fail("data", f"{description}: X has shape {X.shape}, but the spec "
                                    f"takes {spec['input']} inputs")
        return X, y, description

    # -- validation and rank -----------------------------------------------------------
    def _folds(self, raw: Mapping[str, Any]) -> int | None:
        if "folds" not in raw:
            return None
        if "validation_split" in raw:
            raise self.fail("folds", "give validation_split or folds, not both: folds "
                                     "cross-validates on every row, a split holds out the last")
        folds = raw["folds"]
        if not _is_int(folds) or folds < 2:
            raise self.fail("folds", f"must be an int >= 2 (got {folds!r})")
        return int(folds)

    def _check_held_out(self, raw: Mapping[str, Any], n: int, split: float,
                        folds: int | None) -> None:
        if folds is not None and folds > n:
            raise self.fail("folds", f"{folds} folds of {n} samples leaves a fold empty")
        if folds is None and split:
            n_val = round(n * split)
            if not 1 <= n_val < n:
                key = "validation_split" if "validation_split" in raw else "spec"
                raise self.fail(key, f"validation_split = {split} of {n} samples leaves an "
                                     "empty training or validation set")

    def _rank(self, raw: Mapping[str, Any], spec: dict[str, Any], split: float,
              folds: int | None) -> tuple[str, bool, tuple[str, ...]]:
        metrics = spec.get("metrics") or []
        names = [m if isinstance(m, str) else m["name"] for m in metrics]
        allowed = ["val_loss", *(f"val_{name}" for name in names)]
        rank = raw.get("rank", "val_loss")
        if rank not in allowed:
            msg = unknown("rank", rank, allowed, "allowed")
            raise self.fail("rank", f"{msg} (val_<metric> for a metric in the spec's "
                                    "metrics list)")
        if folds is None and not split:
            raise self.fail("rank", f"{rank!r} is measured on held-out rows: set "
                                    "validation_split = 0.2 or folds = 5")
        greater = False
        if rank != "val_loss":
            metric = npframe.registry.create("metric", metrics[allowed.index(rank) - 1])
            greater = bool(metric.greater_is_better)
        log_keys = ("loss", *names, "val_loss", *(f"val_{name}" for name in names))
        return rank, greater, log_keys


def _exists(spec: Any, steps: tuple[Step, ...]) -> bool:
    """Whether ``steps`` names an entry already there (a named component counts as a
    table holding ``name``)."""
    node = spec
    for step in steps:
        if isinstance(node, str):
            node = {"name": node}
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return False
        elif not isinstance(node, dict) or step not in node:
            return False
        node = node[step]
    return True
