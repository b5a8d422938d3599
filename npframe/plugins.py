"""Discovering and loading plugins from the ``npframe`` entry-point group.

Deliberately not ``PluginManager.load_setuptools_entrypoints``: that loop stops at the
first plugin that fails to import, while npframe must keep every other plugin
working. Each plugin is imported, registered with pluggy and its hook called alone,
against a staging view that is committed only if the whole hook succeeds.

Set ``NPFRAME_PLUGINS`` to a comma-separated list of distribution names to load only
those (the built-ins always load); set it to the empty string to load none.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from npframe import hookspecs
from npframe.errors import PluginWarning

if TYPE_CHECKING:
    from npframe.registry import Registry

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_VAR",
    "PluginFailure",
    "get_plugin_manager",
    "iter_entry_points",
    "load_plugins",
]

ENTRY_POINT_GROUP = "npframe"
ENV_VAR = "NPFRAME_PLUGINS"
#: The distribution the built-in plugin ships in; always loaded, loaded first.
BUILTIN_DISTRIBUTION = "npframe"


@attrs.frozen
class PluginFailure:
    """A plugin that failed to load, and why."""

    distribution: str
    version: str | None
    entry_point: str
    error: str

    def __str__(self) -> str:
        dist = f"{self.distribution} {self.version}" if self.version else self.distribution
        return f"npframe plugin {self.entry_point!r} ({dist}) failed to load: {self.error}"


def get_plugin_manager() -> pluggy.PluginManager:
    """A fresh manager that knows npframe's hookspecs (tests build their own)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dist_of(ep: Any) -> tuple[str, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "<unknown distribution>", None
    return dist.metadata["Name"] or dist.name, dist.version


def _allowed() -> set[str] | None:
    raw = os.environ.get(ENV_VAR)
    if raw is None:
        return None
    return {_normalize(part) for part in raw.split(",") if part.strip()}


def iter_entry_points(group: str = ENTRY_POINT_GROUP) -> list[Any]:
    """Installed entry points of ``group``: deduplicated, built-ins first, then sorted.

    The same distribution can be visible twice on ``sys.path`` (an editable install
    next to a wheel); the first one found wins, as ``importlib`` itself would import.
    """
    seen: set[tuple[str, str]] = set()
    unique = []
    for ep in importlib.metadata.entry_points(group=group):
        dist, _ = _dist_of(ep)
        key = (_normalize(dist), ep.name)
        if key not in seen:
            seen.add(key)
            unique.append(ep)

    def order(ep: Any) -> tuple[bool, str, str]:
        dist = _normalize(_dist_of(ep)[0])
        return (dist != BUILTIN_DISTRIBUTION, dist, ep.name)

    return sorted(unique, key=order)


def _call_hook(pm: pluggy.PluginManager, plugin: object, view: Any) -> int:
    """Call ``plugin``'s own ``npframe_register`` implementations; return how many."""
    calls = 0
    available = {"registry": view}
    for impl in pm.hook.npframe_register.get_hookimpls():
        if impl.plugin is plugin:
            impl.function(*(available[arg] for arg in impl.argnames))
            calls += 1
    return calls


def load_plugins(registry: Registry, entry_points: Iterable[Any] | None = None,
                 ) -> list[PluginFailure]:
    """Load every plugin into ``registry``; return (and warn about) the failures."""
    from npframe.registry import RegistrationView

    eps = iter_entry_points() if entry_points is None else list(entry_points)
    allowed = _allowed()
    pm = get_plugin_manager()
    failures: list[PluginFailure] = []
    for ep in eps:
        dist, version = _dist_of(ep)
        if (allowed is not None and _normalize(dist) != BUILTIN_DISTRIBUTION
                and _normalize(dist) not in allowed):
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=f"{dist}:{ep.name}")
            view = RegistrationView(registry, dist, version)
            if _call_hook(pm, plugin, view) == 0:
                msg = (
                    f"{ep.value} defines no npframe_register hook; decorate it with "
                    "@npframe.hookimpl"
                )
                raise LookupError(msg)
            view._commit()
        except Exception as exc:  # a plugin's failure must never break the others
            failure = PluginFailure(dist, version, ep.name, f"{type(exc).__name__}: {exc}")
            failures.append(failure)
            warnings.warn(PluginWarning(str(failure)), stacklevel=2)
    return failures
