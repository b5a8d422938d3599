"""Paths into a spec: ``optimizer.learning_rate``, ``layers[0].units``, ``seed``.

A path is a key, then any number of ``.key`` and ``[index]`` steps, the same notation
spec errors use for their locations. ``set_value`` writes a value at a path in a plain
spec mapping; a component given by name only (``optimizer = "sgd"``) becomes a table
(``{name = "sgd"}``) when a path steps into it, so ``optimizer.learning_rate`` works
whichever way the base spec wrote its optimizer.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from npframe._names import unknown

__all__ = ["PathError", "Step", "parse_path", "set_value"]

#: One step of a path: a table key (``str``) or a list index (``int``).
Step = str | int

_KEY = r"[A-Za-z_][A-Za-z0-9_]*"
_PATH = re.compile(rf"{_KEY}(?:\.{_KEY}|\[\d+\])*")
_STEP = re.compile(rf"\.?({_KEY})|\[(\d+)\]")


class PathError(ValueError):
    """A path that is malformed or leads nowhere in the spec; ``str`` says why."""


def parse_path(path: str) -> tuple[Step, ...]:
    """``"layers[0].units"`` -> ``("layers", 0, "units")``."""
    if not isinstance(path, str) or not _PATH.fullmatch(path):
        msg = (
            f"{path!r} is not a spec path; write keys joined by dots and list indices in "
            "brackets, e.g. \"optimizer.learning_rate\" or \"layers[0].units\""
        )
        raise PathError(msg)
    return tuple(key if key else int(index) for key, index in _STEP.findall(path))


def format_path(steps: tuple[Step, ...]) -> str:
    """The inverse of ``parse_path``."""
    text = ""
    for step in steps:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def set_value(spec: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``spec`` with ``value`` at ``path``.

    Every step but the last must exist; the last may add a key to a table (a new
    component parameter, say). ``PathError`` names the first step that leads nowhere.
    """
    out = copy.deepcopy(dict(spec))
    set_in_place(out, parse_path(path), copy.deepcopy(value))
    return out


def set_in_place(spec: dict[str, Any], steps: tuple[Step, ...], value: Any) -> None:
    """``set_value`` on ``spec`` itself, for callers that copied it already."""
    container: Any = spec
    for depth, step in enumerate(steps[:-1]):
        child = _child(container, steps, depth)
        if isinstance(child, str):  # a component by name: step into it as a table
            child = {"name": child}
            container[step] = child
        if not isinstance(child, dict | list):
            where = format_path(steps[: depth + 1])
            msg = f"{where!r} holds {child!r}, which has no entries to set"
            raise PathError(msg)
        container = child
    last = steps[-1]
    if isinstance(last, int):
        _child(container, steps, len(steps) - 1)  # the index must exist
    elif not isinstance(container, dict):
        where = format_path(steps[:-1])
        raise PathError(f"{where!r} is a list; index it with [i], not .{last}")
    container[last] = value


def _child(container: Any, steps: tuple[Step, ...], depth: int) -> Any:
    step = steps[depth]
    where = format_path(steps[:depth]) or "the spec"
    if isinstance(step, int):
        if not isinstance(container, list):
            raise PathError(f"{where!r} is not a list, so [{step}] leads nowhere")
        if step >= len(container):
            msg = f"{where!r} has {len(container)} entries, so [{step}] leads nowhere"
            raise PathError(msg)
        return container[step]
    if not isinstance(container, dict):
        raise PathError(f"{where!r} is a list; index it with [i], not .{step}")
    if step not in container:
        what = "key" if depth == 0 else f"key of {where!r}"
        raise PathError(unknown(what, step, container, "keys"))
    return container[step]
