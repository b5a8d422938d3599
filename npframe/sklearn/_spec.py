"""The network spec an estimator's parameters describe, and where each entry came from.

Precedence, for every entry: an estimator argument that is not ``None`` wins; else the
``spec`` argument's entry; else the default below. The data supplies the sizes (``input``
and the output layer's units), so a ``spec`` holds neither; its ``layers`` are the hidden
layers, and its ``output`` table (a dense layer without ``units``) adjusts the output
layer. ``Origins`` maps each path of the built spec back to the argument that set it, so
an error in a built spec names what the user wrote (``hidden_layer_sizes[1]``, not
``layers[1].units``).
"""

from __future__ import annotations

import copy
import numbers
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from attrs import field, frozen

from npframe._names import unknown
from npframe.errors import SpecError
from npframe.spec import SEED_LIMIT, NetworkSpec, read_spec_file

__all__ = ["DEFAULTS", "SPEC_KEYS", "Output", "Plan", "plan_spec", "read_user_spec",
           "resolve_seed"]

#: What a ``None`` argument means when the ``spec`` does not say either.
DEFAULTS: Mapping[str, Any] = {
    "hidden_layer_sizes": (100,),  # MLPClassifier's and MLPRegressor's
    "activation": "relu",
    "optimizer": "adam",           # its learning rate defaults to 1e-3, MLP's learning_rate_init
    "initializer": "glorot_uniform",  # MLP's; npframe's "he" trains diabetes far slower
}

#: Why a spec key is not accepted (the data or an argument supplies it).
_SUPPLIED = {
    "input": "the number of inputs comes from X (its columns); remove it",
    "train": "fit's settings are the estimator's arguments (epochs, batch_size, shuffle); "
             "remove the [train] table",
}
#: Keys an estimator's ``spec`` may hold: a network spec's, less the data's sizes and the
#: training settings, plus ``output`` (the output layer's table, without ``units``).
SPEC_KEYS = (*(k for k in NetworkSpec.KEYS if k not in _SUPPLIED), "output")


@frozen
class Output:
    """The output layer and loss the data calls for (the ``spec`` may override both)."""

    units: int
    activation: str
    loss: Any


@frozen
class Origins:
    """Spec path prefix -> the estimator's name for it (longest prefix wins)."""

    names: dict[str, str] = field(factory=dict)

    def where(self, path: str) -> str:
        best = ""
        for prefix in self.names:
            if (path == prefix or path.startswith((prefix + ".", prefix + "["))) \
                    and len(prefix) > len(best):
                best = prefix
        if not best:
            return f"spec.{path}" if path else "spec"
        return self.names[best] + path[len(best):]


@frozen
class Plan:
    """A network spec (plain data) built from an estimator's parameters."""

    spec: dict[str, Any]
    origins: Origins

    def with_seed(self, seed: int) -> dict[str, Any]:
        return {**self.spec, "seed": seed}


def read_user_spec(spec: Any) -> dict[str, Any]:
    """The ``spec`` argument as a fresh dict: ``None``, a mapping, or a .toml/.json path."""
    if spec is None:
        return {}
    if isinstance(spec, str | os.PathLike):
        data = read_spec_file(spec)
        where = f"spec ({os.fspath(spec)})"
    elif isinstance(spec, Mapping):
        data = spec
        where = "spec"
    else:
        msg = (f"must be None, a mapping or the path of a .toml / .json file "
               f"(got {type(spec).__name__})")
        raise SpecError(msg, "spec")
    if not isinstance(data, Mapping):
        raise SpecError(f"must hold a table (got {type(data).__name__})", where)
    for key in data:
        if key in _SUPPLIED:
            raise SpecError(_SUPPLIED[key], f"spec.{key}")
        if key not in SPEC_KEYS:
            raise SpecError(unknown("key", key, SPEC_KEYS, "allowed"), f"spec.{key}")
    return copy.deepcopy(dict(data))  # never mutate (or share) the caller's parameter


def resolve_seed(random_state: Any, user: Mapping[str, Any]) -> int | None:
    """The spec seed for ``random_state``, as scikit-learn estimators treat it.

    An int is the seed; a ``RandomState`` or ``Generator`` gives one draw (so repeated
    fits differ, reproducibly); ``None`` is the spec's seed, or fresh entropy without one.
    """
    if random_state is None:
        return user.get("seed")
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if 0 <= int(random_state) < SEED_LIMIT:
            return int(random_state)
    elif isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, SEED_LIMIT - 1, dtype=np.int64))
    elif isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, SEED_LIMIT - 1))
    msg = ("must be None, an int in [0, 2**63), a numpy.random.RandomState or a "
           f"numpy.random.Generator (got {random_state!r})")
    raise ValueError(f"random_state: {msg}")


def _reference(value: Any) -> Any:
    """A component reference as the spec takes it: a name, or a fresh ``{name, ...}`` table."""
    return copy.deepcopy(dict(value)) if isinstance(value, Mapping) else value


def _hidden_sizes(value: Any) -> list[Any]:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return [value]
    if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__iter__"):
        msg = f"must be a sequence of layer widths such as (64, 32) (got {value!r})"
        raise SpecError(msg, "hidden_layer_sizes")
    return list(value)


def plan_spec(params: Mapping[str, Any], user: Mapping[str, Any], *, n_inputs: int,
              output: Output, standardize: Any, seed: int | None) -> Plan:
    """The network spec: arguments (``params``) over the user's spec over ``DEFAULTS``.

    ``output`` is what the data calls for; ``standardize`` the task's default.
    """
    origins: dict[str, str] = {}
    spec: dict[str, Any] = {k: copy.deepcopy(v) for k, v in user.items()
                            if k not in ("layers", "output")}
    spec["input"] = n_inputs

    sizes, activation = params["hidden_layer_sizes"], params["activation"]
    if "layers" in user:
        for name, value in (("hidden_layer_sizes", sizes), ("activation", activation)):
            if value is not None:
                msg = ("the spec's layers are the hidden layers; set either this or "
                       "spec['layers'], not both")
                raise SpecError(msg, name)
        layers = user["layers"]
        if not isinstance(layers, list | tuple):
            msg = f"must be a list of layer tables (got {type(layers).__name__})"
            raise SpecError(msg, "spec.layers")
        hidden = [copy.deepcopy(layer) for layer in layers]
        for i in range(len(hidden)):
            origins[f"layers[{i}]"] = f"spec.layers[{i}]"
    else:
        sizes = _hidden_sizes(DEFAULTS["hidden_layer_sizes"] if sizes is None else sizes)
        activation = _reference(DEFAULTS["activation"] if activation is None else activation)
        hidden = [{"units": units, "activation": copy.deepcopy(activation)}
                  for units in sizes]
        for i in range(len(hidden)):
            origins[f"layers[{i}]"] = f"hidden_layer_sizes[{i}]"
            origins[f"layers[{i}].units"] = f"hidden_layer_sizes[{i}]"
            origins[f"layers[{i}].activation"] = "activation"

    out_table = user.get("output") or {}
    if not isinstance(out_table, Mapping):
        msg = f"must be a dense layer table without units (got {type(out_table).__name__})"
        raise SpecError(msg, "spec.output")
    if "units" in out_table:
        raise SpecError("the output size comes from the data (y); remove it",
                        "spec.output.units")
    if out_table.get("type", "dense") != "dense":
        raise SpecError(f"the output layer is dense (got {out_table['type']!r})",
                        "spec.output.type")
    last = f"layers[{len(hidden)}]"
    origins[last] = "spec.output"
    out_layer = {"units": output.units, "activation": output.activation,
                 **copy.deepcopy(dict(out_table))}
    spec["layers"] = [*hidden, out_layer]

    spec.setdefault("initializer", DEFAULTS["initializer"])
    if "loss" not in spec:
        spec["loss"] = output.loss
        origins["loss"] = "loss (from the data)"

    optimizer = params["optimizer"]
    if optimizer is not None:
        origins["optimizer"] = "optimizer"
    else:
        optimizer = user.get("optimizer", DEFAULTS["optimizer"])
        if "optimizer" not in user:
            origins["optimizer"] = "optimizer"
    optimizer = _reference(optimizer)
    if params["learning_rate"] is not None:
        table = dict(optimizer) if isinstance(optimizer, Mapping) else {"name": optimizer}
        table["learning_rate"] = params["learning_rate"]
        optimizer = table
        origins["optimizer.learning_rate"] = "learning_rate"
    spec["optimizer"] = optimizer

    if params["standardize"] is not None:
        spec["standardize"] = params["standardize"]
        origins["standardize"] = "standardize"
    elif "standardize" not in user:
        spec["standardize"] = standardize
        origins["standardize"] = "standardize"
    if seed is not None:
        spec["seed"] = seed
        if params["random_state"] is not None:
            origins["seed"] = "random_state"
    return Plan(spec, Origins(origins))
