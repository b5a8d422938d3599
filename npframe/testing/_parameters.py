"""A component's parameters: reading them back, and rebuilding it as a spec would.

A spec can only rebuild a component from plain data, so every check makes a second
instance from the first one's parameters after a JSON round trip and expects it to
behave identically.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

__all__ = ["check_instance", "label", "params_of", "plain", "rebuild"]

__tracebackhide__ = True  # the kit's frames stay out of pytest's failure reports


def params_of(obj: Any) -> dict[str, Any]:
    """The keyword parameters that rebuild ``obj``: attrs init fields, else the signature."""
    cls = type(obj)
    if attrs.has(cls):
        return {f.alias: getattr(obj, f.name) for f in attrs.fields(cls) if f.init}
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return {}
    params = {}
    for p in signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        for attr in (p.name, f"_{p.name}"):
            if hasattr(obj, attr):
                params[p.name] = getattr(obj, attr)
                break
        else:
            msg = (
                f"{cls.__name__}: parameter {p.name!r} of __init__ is not kept as an "
                f"attribute (self.{p.name} or self._{p.name}), so the component cannot be "
                "rebuilt from its parameters; store every parameter under its own name "
                "(or write the class with attrs)"
            )
            raise AssertionError(msg)
    return params


def label(obj: Any) -> str:
    """``Snake(alpha=2.0)``: the class and its parameters, for messages."""
    try:
        params = params_of(obj)
    except AssertionError:
        return type(obj).__name__
    return f"{type(obj).__name__}({', '.join(f'{k}={v!r}' for k, v in params.items())})"


def check_instance(obj: Any, base: type, what: str) -> None:
    """``obj`` is an instance of the npframe interface ``base``, or an AssertionError
    that says so (and how to fix passing the class itself)."""
    if isinstance(obj, base):
        return
    if isinstance(obj, type):
        got = (f"the class {obj.__module__}.{obj.__qualname__}; pass an instance, "
               f"e.g. {obj.__name__}()")
    else:
        got = f"{type(obj).__module__}.{type(obj).__qualname__}"
    raise AssertionError(f"{what} must be an instance of npframe.{base.__name__} (got {got})")


def plain(value: Any, where: str) -> Any:
    """``value`` as JSON/TOML data (tuples become lists), or AssertionError saying why not."""
    if isinstance(value, np.generic):
        msg = (
            f"{where} is {type(value).__module__}.{type(value).__name__} {value!r}; a spec "
            "holds plain Python numbers: convert it (attrs: field(converter=float))"
        )
        raise AssertionError(msg)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise AssertionError(f"{where} is {value!r}; a spec only holds finite numbers")
        return value
    if isinstance(value, list | tuple):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {k: plain(v, f"{where}.{k}") for k, v in value.items()}
    msg = (
        f"{where} is a {type(value).__name__}; a spec only holds plain data (numbers, "
        "strings, booleans, lists, tables), so this parameter cannot come from one"
    )
    raise AssertionError(msg)


def rebuild(obj: Any) -> Any:
    """A second instance built from ``obj``'s parameters after a JSON round trip."""
    name = label(obj)
    data = {k: plain(v, f"{name}: parameter {k!r}") for k, v in params_of(obj).items()}
    data = json.loads(json.dumps(data))
    try:
        twin = type(obj)(**data)
    except Exception as exc:
        msg = (
            f"{name}: rebuilding it from its parameters {data!r} (as a spec would) raised "
            f"{type(exc).__name__}: {exc}"
        )
        raise AssertionError(msg) from exc
    again = {k: plain(v, "parameter") for k, v in params_of(twin).items()}
    if again != data:
        msg = (
            f"{name}: parameters do not survive a spec round trip: built from {data!r}, "
            f"the new instance reports {again!r}; a converter must give back what it stores"
        )
        raise AssertionError(msg)
    return twin
