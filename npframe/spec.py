"""Specs: the plain data a network is built from, parsed into frozen attrs records.

``NetworkSpec.from_mapping`` / ``from_path`` / ``load`` validate the whole spec, structure
first and then every component reference against the registry, before anything is
allocated. Every problem is a ``SpecError`` whose message starts with the path of the
offending entry, e.g. ``layers[1].activation: unknown activation 'rleu'; ...``.
``NetworkSpec.to_dict`` gives the normalized plain data back, so
``from_mapping(spec.to_dict()) == spec``.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from attrs import field, frozen

from npframe._names import listing, unknown
from npframe.errors import SpecError

__all__ = ["DTYPES", "ComponentSpec", "LayerSpec", "NetworkSpec", "TrainSpec", "read_spec_file"]

DTYPES = ("float32", "float64")
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
            msg = f"must be {kind} (got {value!r})"
        raise SpecError(msg, path)
    if value < minimum or (maximum is not None and value >= maximum):
        raise SpecError(f"must be {kind} (got {value!r})", path)
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"must be true or false (got {_type_name(value)} {value!r})", path)
    return value


def _table(value: Any, path: str, what: str = "a table") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError(f"must be {what} (got {_type_name(value)} {value!r})", path)
    for key in value:
        if not isinstance(key, str):
            raise SpecError(f"keys must be strings (got {key!r})", path)
    return value


def _check_keys(data: Mapping[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
    for key in data:
        if key not in allowed:
            raise SpecError(unknown("key", key, allowed, "allowed"), f"{prefix}{key}")


_REQUIRED_HINTS = {
    "input": "the number of input features, e.g. input = 2",
    "layers": "a list of layer tables, each with units and activation",
    "units": "the layer's number of outputs, e.g. units = 4",
    "activation": 'a registered activation name, e.g. activation = "relu"',
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


def _plain(value: Any, path: str) -> Any:
    """Parameters must be plain data so specs survive JSON, TOML and model files.

    NumPy scalars become the Python numbers they hold.
    """
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
        return [_plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        _table(value, path)
        return {k: _plain(v, f"{path}.{k}") for k, v in value.items()}
    msg = f"must be plain data (number, string, bool, list or table), got {_type_name(value)}"
    raise SpecError(msg, path)


# -- records -------------------------------------------------------------------------------
@frozen(kw_only=True)
class ComponentSpec:
    """A reference to a registered component: its ``name`` and keyword ``params``."""

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
                raise SpecError(f"must be a non-empty string (got {name!r})", f"{path}.name")
            params = {k: _plain(v, f"{path}.{k}") for k, v in value.items() if k != "name"}
            return cls(name=name, params=params)
        msg = (
            f"must be a registered {kind} name or a table with 'name' and parameters "
            f"(got {_type_name(value)} {value!r})"
        )
        raise SpecError(msg, path)

    def to_data(self) -> str | dict[str, Any]:
        """``"relu"`` when there are no parameters, else ``{"name": ..., **params}``."""
        return {"name": self.name, **self.params} if self.params else self.name


@frozen(kw_only=True)
class LayerSpec:
    """One dense layer: ``units`` outputs, an activation, optionally its own initializer."""

    units: int
    activation: ComponentSpec
    initializer: ComponentSpec | None = None

    KEYS = ("units", "activation", "initializer")

    @classmethod
    def parse(cls, value: Any, path: str) -> LayerSpec:
        data = _table(value, path, "a table with 'units' and 'activation'")
        _check_keys(data, cls.KEYS, f"{path}.")
        init = data.get("initializer")
        return cls(
            units=_int(_require(data, "units", f"{path}."), f"{path}.units"),
            activation=ComponentSpec.parse(
                _require(data, "activation", f"{path}."), f"{path}.activation", "activation"),
            initializer=None if init is None else ComponentSpec.parse(
                init, f"{path}.initializer", "initializer"),
        )

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"units": self.units, "activation": self.activation.to_data()}
        if self.initializer is not None:
            out["initializer"] = self.initializer.to_data()
        return out


@frozen(kw_only=True)
class TrainSpec:
    """How ``npframe train`` (and ``npframe.train``) runs ``fit``: optional defaults."""

    dataset: ComponentSpec | None = None
    epochs: int = 100
    batch_size: int | None = None
    shuffle: bool = True
    validation_split: float = 0.0

    KEYS = ("dataset", "epochs", "batch_size", "shuffle", "validation_split")

    @classmethod
    def parse(cls, value: Any, path: str) -> TrainSpec:
        data = _table(value, path)
        _check_keys(data, cls.KEYS, f"{path}.")
        kwargs: dict[str, Any] = {}
        if data.get("dataset") is not None:
            kwargs["dataset"] = ComponentSpec.parse(data["dataset"], f"{path}.dataset", "dataset")
        if "epochs" in data:
            kwargs["epochs"] = _int(data["epochs"], f"{path}.epochs", minimum=0)
        if data.get("batch_size") is not None:
            kwargs["batch_size"] = _int(data["batch_size"], f"{path}.batch_size")
        if "shuffle" in data:
            kwargs["shuffle"] = _bool(data["shuffle"], f"{path}.shuffle")
        if "validation_split" in data:
            split = data["validation_split"]
            if (isinstance(split, bool) or not isinstance(split, numbers.Real)
                    or not 0.0 <= split < 1.0):
                msg = f"must be a number in [0, 1) (got {split!r})"
                raise SpecError(msg, f"{path}.validation_split")
            kwargs["validation_split"] = float(split)
        return cls(**kwargs)

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.dataset is not None:
            out["dataset"] = self.dataset.to_data()
        out["epochs"] = self.epochs
        if self.batch_size is not None:
            out["batch_size"] = self.batch_size
        out["shuffle"] = self.shuffle
        out["validation_split"] = self.validation_split
        return out


def _fresh_seed() -> int:
    # 63 bits: fits TOML's and every JSON reader's signed 64-bit integers
    return secrets.randbits(63)


@frozen(kw_only=True)
class NetworkSpec:
    """A whole network, normalized: every default filled in, the seed fixed."""

    input: int
    layers: tuple[LayerSpec, ...]
    loss: ComponentSpec = ComponentSpec(name="mse")
    initializer: ComponentSpec = ComponentSpec(name="he")
    optimizer: ComponentSpec = ComponentSpec(name="sgd", params={"learning_rate": 0.01})
    dtype: str = "float64"
    standardize: bool = False
    seed: int = field(factory=_fresh_seed)
    metrics: tuple[ComponentSpec, ...] = ()
    schedule: ComponentSpec | None = None
    train: TrainSpec | None = None

    KEYS = ("input", "layers", "loss", "initializer", "optimizer", "dtype", "standardize",
            "seed", "metrics", "schedule", "train")

    # -- named constructors ------------------------------------------------------------
    @classmethod
    def load(cls, source: SpecLike | NetworkSpec, registry: Any = None) -> NetworkSpec:
        """From a ``NetworkSpec``, a mapping, or a path to a ``.json`` / ``.toml`` file."""
        if isinstance(source, NetworkSpec):
            return source
        if isinstance(source, str | os.PathLike):
            return cls.from_path(source, registry)
        return cls.from_mapping(source, registry)

    @classmethod
    def from_path(cls, path: str | os.PathLike, registry: Any = None) -> NetworkSpec:
        """Read and validate a ``.json`` or ``.toml`` spec file."""
        data = read_spec_file(path)
        return cls.from_mapping(data, registry)

    @classmethod
    def from_mapping(cls, data: Any, registry: Any = None, *, check_components: bool = True,
                     ) -> NetworkSpec:
        """Validate plain data; with ``check_components``, also every name and parameter."""
        spec = cls._parse(data)
        if check_components:
            spec.check_components(registry)
        return spec

    @classmethod
    def _parse(cls, data: Any) -> NetworkSpec:
        if not isinstance(data, Mapping):
            msg = (
                "a spec must be a table (a dict, or a .json / .toml file holding one), "
                f"got {_type_name(data)}"
            )
            raise SpecError(msg, "spec")
        _table(data, "spec")
        _check_keys(data, cls.KEYS, "")
        layers = _require(data, "layers", "")
        if not isinstance(layers, list | tuple):
            raise SpecError(f"must be a list of layer tables (got {_type_name(layers)})", "layers")
        if not layers:
            msg = "needs at least one layer table with units and activation (got an empty list)"
            raise SpecError(msg, "layers")
        kwargs: dict[str, Any] = {
            "input": _int(_require(data, "input", ""), "input"),
            "layers": tuple(LayerSpec.parse(v, f"layers[{i}]") for i, v in enumerate(layers)),
        }
        for key in ("loss", "initializer", "optimizer"):
            if data.get(key) is not None:
                kwargs[key] = ComponentSpec.parse(data[key], key, key)
        if data.get("schedule") is not None:
            kwargs["schedule"] = ComponentSpec.parse(data["schedule"], "schedule", "schedule")
        if "dtype" in data:
            kwargs["dtype"] = _dtype(data["dtype"])
        if "standardize" in data:
            kwargs["standardize"] = _bool(data["standardize"], "standardize")
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

    # -- checks and conversions --------------------------------------------------------
    def component_refs(self) -> list[tuple[str, str, ComponentSpec]]:
        """Every component reference as ``(kind, path, ComponentSpec)``, in spec order."""
        refs: list[tuple[str, str, ComponentSpec]] = []
        for i, layer in enumerate(self.layers):
            refs.append(("activation", f"layers[{i}].activation", layer.activation))
            if layer.initializer is not None:
                refs.append(("initializer", f"layers[{i}].initializer", layer.initializer))
        refs += [("loss", "loss", self.loss), ("initializer", "initializer", self.initializer),
                 ("optimizer", "optimizer", self.optimizer)]
        refs += [("metric", f"metrics[{i}]", m) for i, m in enumerate(self.metrics)]
        if self.schedule is not None:
            refs.append(("schedule", "schedule", self.schedule))
        if self.train is not None and self.train.dataset is not None:
            refs.append(("dataset", "train.dataset", self.train.dataset))
        return refs

    def check_components(self, registry: Any = None) -> None:
        """Raise ``SpecError`` unless every referenced component exists and accepts its
        parameters. Components are built and discarded (datasets only bound, not loaded)."""
        from npframe.errors import UnknownComponentError
        from npframe.registry import check_parameters, default_registry

        registry = registry or default_registry()
        for kind, path, ref in self.component_refs():
            if kind == "dataset":
                try:
                    factory = registry.get(kind, ref.name)
                except UnknownComponentError as exc:
                    raise UnknownComponentError(exc.reason, path) from None
                check_parameters(factory, ref.name, ref.params, path)
            else:
                registry.create(kind, ref.to_data(), path=path)

    @property
    def output(self) -> int:
        """Number of outputs: the last layer's units."""
        return self.layers[-1].units

    @property
    def sizes(self) -> list[int]:
        """``[input, units_1, ..., units_L]``."""
        return [self.input, *(layer.units for layer in self.layers)]

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


def read_spec_file(path: str | os.PathLike) -> Any:
    """Parse a ``.json`` or ``.toml`` file; errors name the file (and line)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        msg = f"unsupported spec file type {path.suffix or '(none)'!r}; use .json or .toml"
        raise SpecError(msg, str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("no such file", str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read: {exc}", str(path)) from None
    if suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"invalid TOML: {exc}", str(path)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"invalid JSON: {exc.msg} (at line {exc.lineno}, column {exc.colno})"
        raise SpecError(msg, str(path)) from None
