"""Specs: the plain data a network is built from, parsed into frozen attrs records.

``NetworkSpec.from_mapping`` / ``from_path`` / ``load`` check the structure of a spec
(keys, types, sizes, component-reference syntax) and normalize it, without asking the
registry: every component is then built exactly once, by ``npframe.assembly``, which
reports unknown names and bad parameters with the same paths. Every problem is a
``SpecError`` whose message starts with the path of the offending entry, e.g.
``layers[1].activation: unknown activation 'rleu'; ...``. ``NetworkSpec.to_dict`` gives
the normalized plain data back, so ``from_mapping(spec.to_dict()) == spec``.

Spec files are untrusted input: they are read only when they are regular files of a
bounded size, and nesting depth, integer size and duplicate keys are checked, so a
hostile file ends in a ``SpecError``, never a hang, a crash or a silent choice.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import secrets
import stat
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from attrs import field, frozen

from npframe._names import listing, unknown
from npframe.errors import SpecError

__all__ = [
    "DTYPES",
    "MAX_DEPTH",
    "MAX_LAYERS",
    "STANDARDIZE",
    "ComponentSpec",
    "EarlyStoppingSpec",
    "LayerSpec",
    "NetworkSpec",
    "TrainSpec",
    "read_spec_file",
]

DTYPES = ("float32", "float64")
#: Values of ``standardize``: both inputs and targets, neither, or one of them.
STANDARDIZE = (True, False, "inputs", "targets")
#: More layers than this is a mistake, not a network (and would take minutes to check).
MAX_LAYERS = 10_000
#: How deeply tables and lists may nest in a spec (parameters included).
MAX_DEPTH = 32
#: The largest spec file read (a spec is a few hundred bytes; a model's is in the file).
MAX_SPEC_BYTES = 16 * 2**20
SpecLike = Mapping[str, Any] | str | os.PathLike


# -- small typed readers, each raising SpecError at a path ----------------------------------
def _type_name(value: Any) -> str:
    return type(value).__name__


#: Seeds are stored as signed 64-bit integers (TOML, JSON readers, model files).
SEED_LIMIT = 2**63


def _int(value: Any, path: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as a Python int in ``[minimum, maximum)``; ``True``, ``4.0``, ``"4"`` are not."""
    if maximum is not None:
        kind = f"an int in [{minimum}, {'2**63' if maximum == SEED_LIMIT else maximum})"
    else:
        kind = "a positive int" if minimum == 1 else f"an int >= {minimum}"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = int(value)  # NumPy integers too; stored as plain int so the spec stays plain
    else:
        if isinstance(value, float) and value.is_integer() and value >= minimum:
            msg = f"must be an int (got float {value!r}; write {int(value)})"
        else:
            msg = f"must be {kind} (got {_short(value)})"
        raise SpecError(msg, path)
    if value < minimum or (maximum is not None and value >= maximum):
        raise SpecError(f"must be {kind} (got {_short(value)})", path)
    return value


def _short(value: Any) -> str:
    """``repr`` for messages, cut short: a spec may hold a 4,000-digit number."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an int of {len(str(abs(value))) if value.bit_length() < 13000 else 'many'} digits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"must be true or false (got {_type_name(value)} {_short(value)})", path)
    return value


def _number(value: Any, path: str, *, low: float, high: float, closed_high: bool = False,
            ) -> float:
    """A real number in ``[low, high)`` (or ``[low, high]``); bools and strings are not."""
    number = float(value) if isinstance(value, numbers.Real) and not isinstance(
        value, bool) else math.nan
    ok = (math.isfinite(number) and low <= number
          and (number <= high if closed_high else number < high))
    if not ok:
        interval = f"[{low:g}, {high:g}{']' if closed_high else ')'}"
        raise SpecError(f"must be a number in {interval} (got {_short(value)})", path)
    return float(value)


def _table(value: Any, path: str, what: str = "a table") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError(f"must be {what} (got {_type_name(value)} {_short(value)})", path)
    for key in value:
        if not isinstance(key, str):
            raise SpecError(f"keys must be strings (got {_short(key)})", path)
    return value


#: Keys people put in the wrong table, with where they belong.
_MISPLACED = {
    "learning_rate": "the learning rate belongs to the optimizer: "
                     'optimizer = { name = "adam", learning_rate = 0.001 }',
    "lr": "the learning rate belongs to the optimizer, spelled out: "
          'optimizer = { name = "adam", learning_rate = 0.001 }',
}


def _check_keys(data: Mapping[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
    for key in data:
        if key not in allowed:
            msg = unknown("key", key, allowed, "allowed")
            if key in _MISPLACED:
                msg = f"unknown key {key!r}: {_MISPLACED[key]}; allowed: {listing(allowed)}"
            raise SpecError(msg, f"{prefix}{key}")


_REQUIRED_HINTS = {
    "input": "the number of input features, e.g. input = 2",
    "layers": "a list of layer tables, each with units and activation",
}


def _require(data: Mapping[str, Any], key: str, prefix: str) -> Any:
    if key not in data:
        raise SpecError(f"required key is missing ({_REQUIRED_HINTS[key]})", f"{prefix}{key}")
    return data[key]


def _dtype(value: Any) -> str:
    """``"float32"`` / ``"float64"``; ``np.float32`` and ``np.dtype("float32")`` normalize."""
    if isinstance(value, str):
        if value in DTYPES:
            return value
    elif isinstance(value, np.dtype) or (isinstance(value, type)
                                          and issubclass(value, np.generic)):
        name = np.dtype(value).name
        if name in DTYPES:
            return name
    raise SpecError(unknown("dtype", value, DTYPES, "allowed"), "dtype")


def _standardize(value: Any) -> bool | str:
    if isinstance(value, bool) or value in ("inputs", "targets"):
        return value
    msg = (
        "must be true (inputs and targets), false, \"inputs\" or \"targets\" "
        f"(got {_type_name(value)} {_short(value)})"
    )
    raise SpecError(msg, "standardize")


def plain(value: Any, path: str, depth: int = 0) -> Any:
    """Parameters must be plain data so specs survive JSON, TOML and model files.

    NumPy scalars become the Python numbers they hold; non-finite numbers and nesting
    deeper than ``MAX_DEPTH`` are errors.
    """
    if depth > MAX_DEPTH:
        raise SpecError(f"nested more than {MAX_DEPTH} levels deep", path)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise SpecError(f"must be a finite number (got {value!r})", path)
        return value
    if isinstance(value, list | tuple):
        return [plain(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        _table(value, path)
        return {k: plain(v, f"{path}.{k}", depth + 1) for k, v in value.items()}
    msg = f"must be plain data (number, string, bool, list or table), got {_type_name(value)}"
    raise SpecError(msg, path)


# -- records -------------------------------------------------------------------------------
@frozen(kw_only=True)
class ComponentSpec:
    """A reference to a registered component: its ``name`` and keyword ``params``.

    ``name`` is bare (``relu``) or qualified by its distribution (``npframe:relu``).
    """

    name: str
    params: dict[str, Any] = field(factory=dict)

    @classmethod
    def parse(cls, value: Any, path: str, kind: str) -> ComponentSpec:
        """From ``"relu"`` or ``{"name": "relu", **params}``."""
        if isinstance(value, ComponentSpec):
            return value
        if isinstance(value, str):
            if not value:
                raise SpecError(f"must name a registered {kind} (got an empty string)", path)
            return cls(name=value)
        if isinstance(value, Mapping):
            _table(value, path)
            if "name" not in value:
                msg = f"a {kind} table needs a 'name' key (got keys: {listing(value)})"
                raise SpecError(msg, path)
            name = value["name"]
            if not isinstance(name, str) or not name:
                raise SpecError(f"must be a non-empty string (got {_short(name)})",
                                f"{path}.name")
            params = {k: plain(v, f"{path}.{k}", 1) for k, v in value.items() if k != "name"}
            return cls(name=name, params=params)
        msg = (
            f"must be a registered {kind} name or a table with 'name' and parameters "
            f"(got {_type_name(value)} {_short(value)})"
        )
        raise SpecError(msg, path)

    def to_data(self) -> str | dict[str, Any]:
        """``"relu"`` when there are no parameters, else ``{"name": ..., **params}``."""
        return {"name": self.name, **self.params} if self.params else self.name


@frozen(kw_only=True)
class LayerSpec:
    """One layer: its registered ``type`` and the parameters of its table.

    Parameters that name other components (a dense layer's ``activation`` and
    ``initializer``) stay as written; the layer class declares which they are, and
    ``npframe.assembly`` builds them.
    """

    type: str = "dense"
    params: dict[str, Any] = field(factory=dict)

    @classmethod
    def parse(cls, value: Any, path: str) -> LayerSpec:
        data = _table(value, path, "a table with 'units' and 'activation'")
        kind = data.get("type", "dense")
        if not isinstance(kind, str) or not kind:
            msg = f"must name a registered layer (got {_type_name(kind)} {_short(kind)})"
            raise SpecError(msg, f"{path}.type")
        params = {k: plain(v, f"{path}.{k}", 1) for k, v in data.items() if k != "type"}
        return cls(type=kind, params=params)

    @property
    def units(self) -> Any:
        """The ``units`` parameter (dense layers' width), or ``None``."""
        return self.params.get("units")

    def to_data(self) -> dict[str, Any]:
        """The layer table; ``type`` is left out for the default ``dense``."""
        return dict(self.params) if self.type == "dense" else {"type": self.type, **self.params}


@frozen(kw_only=True)
class EarlyStoppingSpec:
    """``[train] early_stopping``: stop when ``monitor`` stops improving."""

    monitor: str = "val_loss"
    patience: int = 10
    min_delta: float = 0.0
    restore_best_weights: bool = True

    KEYS = ("monitor", "patience", "min_delta", "restore_best_weights")

    @classmethod
    def parse(cls, value: Any, path: str) -> EarlyStoppingSpec | None:
        if isinstance(value, bool):
            return cls() if value else None
        data = _table(value, path, "true, false or a table (patience, min_delta, monitor, "
                                   "restore_best_weights)")
        _check_keys(data, cls.KEYS, f"{path}.")
        kwargs: dict[str, Any] = {}
        if "monitor" in data:
            monitor = data["monitor"]
            if not isinstance(monitor, str) or not monitor:
                msg = f"must be a log name such as 'val_loss' (got {_short(monitor)})"
                raise SpecError(msg, f"{path}.monitor")
            kwargs["monitor"] = monitor
        if "patience" in data:
            kwargs["patience"] = _int(data["patience"], f"{path}.patience", minimum=0)
        if "min_delta" in data:
            kwargs["min_delta"] = _number(data["min_delta"], f"{path}.min_delta", low=0.0,
                                          high=math.inf)
        if "restore_best_weights" in data:
            kwargs["restore_best_weights"] = _bool(data["restore_best_weights"],
                                                   f"{path}.restore_best_weights")
        return cls(**kwargs)

    def to_data(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "patience": self.patience,
                "min_delta": self.min_delta, "restore_best_weights": self.restore_best_weights}


def _class_weight(value: Any, path: str) -> str | dict[str, float]:
    if value == "balanced":
        return "balanced"
    data = _table(value, path, 'a table of class label -> weight, or "balanced"')
    out = {}
    for label, weight in data.items():
        out[label] = _number(weight, f"{path}.{label}", low=0.0, high=math.inf)
    return out


@frozen(kw_only=True)
class TrainSpec:
    """How ``npframe train`` (and ``npframe.train``) runs ``fit``: optional defaults."""

    dataset: ComponentSpec | None = None
    epochs: int = 100
    #: Minibatch size; ``None`` (``batch_size = "full"`` in a spec) is full batch.
    batch_size: int | None = 32
    shuffle: bool = True
    validation_split: float = 0.0
    #: Hold out a seeded random (for labels: stratified) fraction instead of the last rows.
    validation_shuffle: bool = False
    early_stopping: EarlyStoppingSpec | None = None
    #: A test file whose metrics are reported after training (relative to the spec file).
    test: str | None = None
    class_weight: str | dict[str, float] | None = None

    KEYS = ("dataset", "epochs", "batch_size", "shuffle", "validation_split",
            "validation_shuffle", "early_stopping", "test", "class_weight")

    @classmethod
    def parse(cls, value: Any, path: str) -> TrainSpec:
        data = _table(value, path)
        _check_keys(data, cls.KEYS, f"{path}.")
        kwargs: dict[str, Any] = {}
        if data.get("dataset") is not None:
            kwargs["dataset"] = ComponentSpec.parse(data["dataset"], f"{path}.dataset", "dataset")
        if "epochs" in data:
            kwargs["epochs"] = _int(data["epochs"], f"{path}.epochs", minimum=0)
        if data.get("batch_size") == "full":
            kwargs["batch_size"] = None
        elif data.get("batch_size") is not None:
            value = data["batch_size"]
            if isinstance(value, str):
                msg = f'must be a positive int or "full" (got {_short(value)})'
                raise SpecError(msg, f"{path}.batch_size")
            kwargs["batch_size"] = _int(value, f"{path}.batch_size")
        for key in ("shuffle", "validation_shuffle"):
            if key in data:
                kwargs[key] = _bool(data[key], f"{path}.{key}")
        if "validation_split" in data:
            kwargs["validation_split"] = _number(data["validation_split"],
                                                 f"{path}.validation_split", low=0.0, high=1.0)
        if "early_stopping" in data:
            kwargs["early_stopping"] = EarlyStoppingSpec.parse(data["early_stopping"],
                                                               f"{path}.early_stopping")
        if data.get("test") is not None:
            test = data["test"]
            if not isinstance(test, str) or not test:
                raise SpecError(f"must be a file path (got {_short(test)})", f"{path}.test")
            kwargs["test"] = test
        if data.get("class_weight") is not None:
            kwargs["class_weight"] = _class_weight(data["class_weight"], f"{path}.class_weight")
        return cls(**kwargs)

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.dataset is not None:
            out["dataset"] = self.dataset.to_data()
        out["epochs"] = self.epochs
        out["batch_size"] = "full" if self.batch_size is None else self.batch_size
        out["shuffle"] = self.shuffle
        out["validation_split"] = self.validation_split
        if self.validation_shuffle:
            out["validation_shuffle"] = True
        if self.early_stopping is not None:
            out["early_stopping"] = self.early_stopping.to_data()
        if self.test is not None:
            out["test"] = self.test
        if self.class_weight is not None:
            out["class_weight"] = self.class_weight
        return out


def _fresh_seed() -> int:
    # 63 bits: fits TOML's and every JSON reader's signed 64-bit integers
    return secrets.randbits(63)


#: The optimizer a spec that names none gets: Adam at its usual rate, which fit every
#: tabular data set of the study in docs/defaults.md (SGD 0.01 diverged on raw targets).
DEFAULT_OPTIMIZER = ComponentSpec(name="adam", params={"learning_rate": 0.001})


@frozen(kw_only=True)
class NetworkSpec:
    """A whole network, normalized: every default filled in, the seed fixed."""

    input: int
    layers: tuple[LayerSpec, ...]
    loss: ComponentSpec = ComponentSpec(name="mse")
    initializer: ComponentSpec = ComponentSpec(name="he")
    optimizer: ComponentSpec = DEFAULT_OPTIMIZER
    dtype: str = "float64"
    standardize: bool | str = False
    seed: int = field(factory=_fresh_seed)
    metrics: tuple[ComponentSpec, ...] = ()
    schedule: ComponentSpec | None = None
    train: TrainSpec | None = None

    KEYS = ("input", "layers", "loss", "initializer", "optimizer", "dtype", "standardize",
            "seed", "metrics", "schedule", "train")

    # -- named constructors ------------------------------------------------------------
    @classmethod
    def load(cls, source: SpecLike | NetworkSpec, registry: Any = None) -> NetworkSpec:
        """From a ``NetworkSpec``, a mapping, or a path to a ``.json`` / ``.toml`` file.

        ``registry`` is accepted for compatibility and unused: components are checked
        when they are built (``npframe.assembly``).
        """
        if isinstance(source, NetworkSpec):
            return source
        if isinstance(source, str | os.PathLike):
            return cls.from_path(source)
        return cls.from_mapping(source)

    @classmethod
    def from_path(cls, path: str | os.PathLike, registry: Any = None) -> NetworkSpec:
        """Read and check a ``.json`` or ``.toml`` spec file."""
        return cls.from_mapping(read_spec_file(path))

    @classmethod
    def from_mapping(cls, data: Any, registry: Any = None, **_: Any) -> NetworkSpec:
        """Check and normalize plain data (structure only; see the module docstring)."""
        if not isinstance(data, Mapping):
            msg = (
                "a spec must be a table (a dict, or a .json / .toml file holding one), "
                f"got {_type_name(data)}"
            )
            raise SpecError(msg, "spec")
        _table(data, "spec")
        if "$schema" in data:  # an editor's JSON Schema reference (npframe schema): not ours
            data = {k: v for k, v in data.items() if k != "$schema"}
        _check_keys(data, cls.KEYS, "")
        layers = _require(data, "layers", "")
        if not isinstance(layers, list | tuple):
            raise SpecError(f"must be a list of layer tables (got {_type_name(layers)})", "layers")
        if not layers:
            msg = "needs at least one layer table with units and activation (got an empty list)"
            raise SpecError(msg, "layers")
        if len(layers) > MAX_LAYERS:
            msg = f"{len(layers)} layers is more than npframe builds (at most {MAX_LAYERS})"
            raise SpecError(msg, "layers")
        kwargs: dict[str, Any] = {
            "input": _int(_require(data, "input", ""), "input"),
            "layers": tuple(LayerSpec.parse(v, f"layers[{i}]") for i, v in enumerate(layers)),
        }
        for key in ("loss", "initializer", "optimizer", "schedule"):
            if data.get(key) is not None:
                kwargs[key] = ComponentSpec.parse(data[key], key, key)
        if "dtype" in data:
            kwargs["dtype"] = _dtype(data["dtype"])
        if "standardize" in data:
            kwargs["standardize"] = _standardize(data["standardize"])
        if data.get("seed") is not None:
            kwargs["seed"] = _int(data["seed"], "seed", minimum=0, maximum=SEED_LIMIT)
        if "metrics" in data:
            metrics = data["metrics"]
            if isinstance(metrics, str):
                metrics = [metrics]
            if not isinstance(metrics, list | tuple):
                msg = f"must be a list of metric names or tables (got {_type_name(metrics)})"
                raise SpecError(msg, "metrics")
            kwargs["metrics"] = tuple(
                ComponentSpec.parse(m, f"metrics[{i}]", "metric") for i, m in enumerate(metrics))
        if data.get("train") is not None:
            kwargs["train"] = TrainSpec.parse(data["train"], "train")
        return cls(**kwargs)

    # -- views ---------------------------------------------------------------------------
    @property
    def scales_inputs(self) -> bool:
        return self.standardize in (True, "inputs")

    @property
    def scales_targets(self) -> bool:
        return self.standardize in (True, "targets")

    def to_dict(self) -> dict[str, Any]:
        """The normalized spec as plain data (JSON and TOML serializable)."""
        out: dict[str, Any] = {
            "input": self.input,
            "layers": [layer.to_data() for layer in self.layers],
            "loss": self.loss.to_data(),
            "initializer": self.initializer.to_data(),
            "optimizer": self.optimizer.to_data(),
            "dtype": self.dtype,
            "standardize": self.standardize,
            "seed": self.seed,
        }
        if self.metrics:
            out["metrics"] = [m.to_data() for m in self.metrics]
        if self.schedule is not None:
            out["schedule"] = self.schedule.to_data()
        if self.train is not None:
            out["train"] = self.train.to_data()
        return out


# -- files ---------------------------------------------------------------------------------
def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class _DuplicateKey(ValueError):
    pass


def _read_regular_file(path: Path, what: str) -> str:
    """The text of ``path`` if it is a regular file of reasonable size.

    A FIFO, a device or a folder given as a spec would block or mislead ``read``; they
    are refused from ``stat`` before anything is opened for reading.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SpecError("no such file", str(path)) from None
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", str(path)) from None
    if stat.S_ISDIR(info.st_mode):
        raise SpecError(f"is a folder, not a {what}", str(path))
    if not stat.S_ISREG(info.st_mode):
        raise SpecError(f"is not a regular file (a FIFO, socket or device?); a {what} "
                        "must be a file", str(path))
    if info.st_size > MAX_SPEC_BYTES:
        msg = f"{info.st_size} bytes is too large for a {what} (at most {MAX_SPEC_BYTES})"
        raise SpecError(msg, str(path))
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            raw = f.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", str(path)) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
        raise SpecError(msg, str(path)) from None


#: A dotted TOML key (``a.b.c = 1``, ``[a.b.c]``) of more parts than a spec nests; tomllib
#: takes time and memory quadratic in the parts (100,000 parts: gigabytes, then
#: MemoryError), so such keys are refused before it sees them. Possessive quantifiers
#: and the look-behind (a sequence starts at its first part) keep the scan linear.
_TOML_PART = r"""(?:[A-Za-z0-9_-]++|"(?:[^"\\\n]|\\.)*+"|'[^'\n]*+')"""
_TOML_DEEP_KEY = re.compile(
    rf"(?<![A-Za-z0-9_\-\"'.]){_TOML_PART}(?:[ \t]*+\.[ \t]*+{_TOML_PART}){{{MAX_DEPTH}}}")


def _check_toml_keys(text: str, where: str) -> None:
    found = _TOML_DEEP_KEY.search(text)
    if found:
        line = text.count("\n", 0, found.start()) + 1
        msg = (f"nested too deeply to be a spec: line {line} has a dotted key of more than "
               f"{MAX_DEPTH} parts")
        raise SpecError(msg, where)


def parse_spec_text(text: str, suffix: str, where: str) -> Any:
    """Parse JSON or TOML text; every failure is a ``SpecError`` at ``where``."""
    limit = sys.getrecursionlimit()
    if suffix == ".toml":
        _check_toml_keys(text, where)
    try:
        if suffix == ".toml":
            return tomllib.loads(text)
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"invalid TOML: {exc}", where) from None
    except json.JSONDecodeError as exc:
        msg = f"invalid JSON: {exc.msg} (at line {exc.lineno}, column {exc.colno})"
        raise SpecError(msg, where) from None
    except _DuplicateKey as exc:
        msg = f"invalid JSON: the key {exc.args[0]!r} appears twice in one object"
        raise SpecError(msg, where) from None
    except RecursionError:
        msg = f"nested too deeply to be a spec (more than about {limit} levels)"
        raise SpecError(msg, where) from None
    except ValueError as exc:  # e.g. integers longer than Python converts (4,300 digits)
        raise SpecError(f"invalid {suffix[1:].upper()}: {exc}", where) from None


def read_spec_file(path: str | os.PathLike) -> Any:
    """Parse a ``.json`` or ``.toml`` file; errors name the file (and line)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        msg = f"unsupported spec file type {path.suffix or '(none)'!r}; use .json or .toml"
        raise SpecError(msg, str(path))
    return parse_spec_text(_read_regular_file(path, "spec file"), suffix, str(path))
