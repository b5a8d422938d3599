"""The hooks a plugin can implement. There is one.

Hook names carry the ``npframe_`` prefix; pluggy lets a hook gain arguments later
without breaking implementations that do not ask for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import pluggy

__all__ = ["PROJECT_NAME", "Registrar", "hookimpl", "hookspec", "npframe_register"]

PROJECT_NAME = "npframe"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class Registrar(Protocol):
    """What ``npframe_register`` receives as ``registry``."""

    def register(self, kind: str, name: str, factory: Callable[..., Any]) -> None:
        """Add ``factory`` under ``kind``/``name``."""

    def names(self, kind: str) -> list[str]:
        """Names registered so far (this plugin's included)."""

    def get(self, kind: str, name: str) -> Callable[..., Any]:
        """A factory registered so far."""


@hookspec
def npframe_register(registry: Registrar) -> None:
    """Add components with ``registry.register(kind, name, factory)``.

    ``kind`` is one of ``activation``, ``loss``, ``initializer``, ``optimizer``,
    ``metric``, ``schedule``, ``layer`` or ``dataset``. Everything one plugin registers
    is committed together when the hook returns, or not at all if it raises.
    """
