"""The kinds of component, the base class each must subclass, and registration checks.

Both the plugin loader (checking what a plugin stages) and the registry (checking
in-process registrations) apply the same rules, so they live here, below both.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from npframe._names import unknown
from npframe.errors import RegistryError
from npframe.interfaces import Activation, Initializer, Layer, Loss, Metric, Optimizer, Schedule

__all__ = ["KINDS", "check_factory", "check_kind", "check_name"]

#: Every kind of component, with the base class its objects must be instances of
#: (``None``: any callable; a dataset factory returns an ``npframe.Dataset``).
KINDS: dict[str, type | None] = {
    "activation": Activation,
    "loss": Loss,
    "initializer": Initializer,
    "optimizer": Optimizer,
    "metric": Metric,
    "schedule": Schedule,
    "layer": Layer,
    "dataset": None,
}

#: What a component name may look like: no ``:`` (that separates the distribution in a
#: qualified name), no surrounding blanks, nothing unprintable.
_NAME = re.compile(r"[^\s:][^:]*")


def check_kind(kind: Any) -> str:
    """``kind`` if it is a known kind, else ``RegistryError`` listing them."""
    if not isinstance(kind, str) or kind not in KINDS:
        raise RegistryError(unknown("component kind", kind, KINDS, "known kinds"))
    return kind


def check_name(kind: str, name: Any) -> str:
    """``name`` if it can be registered; qualified names are made by npframe, not given."""
    if not isinstance(name, str) or not name:
        msg = f"{kind} names must be non-empty strings (got {name!r})"
        raise RegistryError(msg)
    if not _NAME.fullmatch(name) or name != name.strip() or not name.isprintable():
        msg = (
            f"{kind} name {name!r} is not allowed: names hold no ':' (it separates the "
            "distribution in a qualified name such as 'npframe:relu'), no surrounding "
            "blanks and nothing unprintable"
        )
        raise RegistryError(msg)
    return name


def check_factory(kind: str, name: str, factory: Any) -> None:
    """``RegistryError`` unless ``factory`` can make components of ``kind``."""
    if not callable(factory):
        msg = f"{kind} {name!r}: the registered object must be a class or factory (got {factory!r})"
        raise RegistryError(msg)
    base = KINDS[kind]
    if base is not None and isinstance(factory, type) and not issubclass(factory, base):
        msg = (
            f"{kind} {name!r}: {factory.__module__}.{factory.__qualname__} must subclass "
            f"npframe.{base.__name__}"
        )
        raise RegistryError(msg)
    if isinstance(factory, type) and inspect.isabstract(factory):
        # caught here, at registration, rather than in the middle of someone's spec
        missing = ", ".join(sorted(getattr(factory, "__abstractmethods__", ())))
        msg = (
            f"{kind} {name!r}: {factory.__module__}.{factory.__qualname__} does not "
            f"implement {missing}"
        )
        raise RegistryError(msg)
