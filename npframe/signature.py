"""What a component accepts: its parameters, their declared types and defaults.

Read from attrs fields when the factory is an attrs class, else from its signature,
without ever calling it. The registry checks a spec's parameters with this before
building anything (unknown names, missing required ones, a string or a bool where a
number is declared), and the JSON Schema of the spec language is generated from it.
"""

from __future__ import annotations

import inspect
import numbers
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from npframe._names import unknown
from npframe.errors import SpecError

__all__ = ["Parameter", "check_parameters", "parameters_of"]


@attrs.frozen
class Parameter:
    """One keyword parameter of a component factory."""

    name: str
    required: bool
    default: Any = None
    #: The declared type when it could be resolved (``float``, ``int | None``, ...).
    annotation: Any = None


def _resolved_hints(factory: Any) -> dict[str, Any]:
    target = typing.cast(Any, factory).__init__ if isinstance(factory, type) else factory
    try:
        return typing.get_type_hints(target)
    except Exception:  # unresolvable annotations in a plugin: no type checks, no crash
        return {}


def _default(value: Any) -> Any:
    """An attrs default: the value, or what its (self-free) ``Factory`` makes."""
    factory, takes_self = getattr(value, "factory", None), getattr(value, "takes_self", True)
    return factory() if callable(factory) and not takes_self else value


def parameters_of(factory: Callable[..., Any]) -> list[Parameter] | None:
    """The keyword parameters ``factory`` takes, or ``None`` when it takes ``**kwargs``
    or has no readable signature (then anything is passed through to the call)."""
    if isinstance(factory, type) and attrs.has(factory):
        try:
            hints = typing.get_type_hints(factory)
        except Exception:
            hints = {}
        out = []
        for f in attrs.fields(factory):
            if not f.init:
                continue
            required = f.default is attrs.NOTHING
            default = None if required else _default(f.default)
            out.append(Parameter(f.alias or f.name, required, default, hints.get(f.name)))
        return out
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return None
    hints = _resolved_hints(factory)
    return [
        Parameter(p.name, p.default is p.empty, None if p.default is p.empty else p.default,
                  hints.get(p.name))
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def _accepts(annotation: Any) -> set[type]:
    """The plain types an annotation admits (empty: not checkable)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        out: set[type] = set()
        for arg in typing.get_args(annotation):
            admitted = _accepts(arg)
            if not admitted:
                return set()
            out |= admitted
        return out
    if annotation is type(None):
        return {type(None)}
    if annotation in (bool, int, float, str):
        return {annotation}
    return set()


def _type_problem(value: Any, annotation: Any) -> str | None:
    """Why ``value`` cannot be a parameter declared as ``annotation``, or ``None``."""
    admitted = _accepts(annotation)
    if not admitted or (value is None and type(None) in admitted):
        return None
    numeric = admitted & {int, float}
    number = "an int" if numeric == {int} else "a number"
    if isinstance(value, bool):
        if bool in admitted:
            return None
        if numeric:
            return f"must be {number}, not a bool (got {value!r})"
        return None
    if isinstance(value, str):
        if str in admitted:
            return None
        if numeric:
            return f"must be {number}, not a string (got {value!r})"
        if bool in admitted:
            return f"must be true or false, not a string (got {value!r})"
        return None
    if isinstance(value, numbers.Real):
        if numeric:
            return None
        if bool in admitted:
            return f"must be true or false (got {value!r})"
        if str in admitted:
            return f"must be a string (got {value!r})"
        return None
    if isinstance(value, list | tuple | dict) and admitted <= {int, float, bool, str, type(None)}:
        wanted = number if numeric else "true or false" if bool in admitted else "a string"
        return f"must be {wanted} (got {type(value).__name__} {value!r:.60})"
    return None


def check_parameters(factory: Callable[..., Any], name: str, params: Mapping[str, Any],
                     path: str) -> None:
    """Raise ``SpecError`` unless ``factory(**params)`` binds and every value has a
    declared type's kind; never calls the factory."""
    accepted = parameters_of(factory)
    if accepted is None:
        return
    by_name = {p.name: p for p in accepted}
    for key, value in params.items():
        if key not in by_name:
            if not by_name:
                msg = f"unknown parameter {key!r} for {name!r}, which takes no parameters"
            else:
                msg = unknown("parameter", key, by_name, "accepted").replace(
                    f"parameter {key!r}", f"parameter {key!r} for {name!r}", 1)
            raise SpecError(msg, path)
        problem = _type_problem(value, by_name[key].annotation)
        if problem is not None:
            raise SpecError(problem, f"{path}.{key}")
    missing = [p.name for p in accepted if p.required and p.name not in params]
    if missing:
        also = f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
        raise SpecError(f"required parameter of {name!r} is missing{also}",
                        f"{path}.{missing[0]}")
