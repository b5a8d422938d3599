"""The hooks a plugin can implement. There is one.

Hook names carry the ``npframe_`` prefix; pluggy lets a hook gain arguments later
without breaking implementations that do not ask for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from npframe.registry import RegistrationView

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec", "npframe_register"]

PROJECT_NAME = "npframe"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def npframe_register(registry: RegistrationView) -> None:
    """Add components with ``registry.register(kind, name, factory)``.

    ``kind`` is one of ``activation``, ``loss``, ``initializer``, ``optimizer``,
    ``metric``, ``schedule`` or ``dataset``. Everything one plugin registers is
    committed together when the hook returns, or not at all if it raises.
    """
