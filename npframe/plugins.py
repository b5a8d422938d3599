"""Discovering and loading plugins from the ``npframe`` entry-point group.

Deliberately not ``PluginManager.load_setuptools_entrypoints``: that loop stops at the
first plugin that fails to import, while npframe must keep every other plugin
working. Each plugin is imported, registered with pluggy and its hook called alone,
against a staging view that is committed only if the whole hook succeeds.

Set ``NPFRAME_PLUGINS`` to a comma-separated list of distribution names to load only
those (the built-ins always load); set it to the empty string to load none.

``report()`` and ``format_report()`` say what is registered, by which distribution and
version, and which plugins failed and why (``npframe plugins`` prints the latter).
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
    "DistributionStatus",
    "PluginFailure",
    "PluginReport",
    "format_report",
    "get_plugin_manager",
    "iter_entry_points",
    "load_plugins",
    "report",
    "warn_failures",
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
    return {_normalize(part.strip()) for part in raw.split(",") if part.strip()}


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


def warn_failures(failures: Iterable[PluginFailure]) -> None:
    """One ``PluginWarning`` per failed plugin."""
    for failure in failures:
        warnings.warn(PluginWarning(str(failure)), stacklevel=4)


def load_plugins(registry: Registry, entry_points: Iterable[Any] | None = None, *,
                 warn: bool = True) -> list[PluginFailure]:
    """Load every plugin into ``registry``; return the failures, and warn about them.

    Warnings come after every plugin was tried, so a warning turned into an error
    (``-W error``) cannot stop the plugins after a broken one from loading.
    """
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
            text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            failure = PluginFailure(dist, version, ep.name, f"{type(exc).__name__}: {text}")
            failures.append(failure)
    if warn:
        warn_failures(failures)
    return failures


# -- diagnostics ------------------------------------------------------------------------
@attrs.frozen
class DistributionStatus:
    """One installed plugin distribution, as the registry saw it."""

    name: str
    version: str | None
    #: Its ``npframe`` entry points, as ``"name = module"``.
    entry_points: tuple[str, ...]
    #: ``"loaded"``, ``"failed"`` (an entry point failed: nothing of it registered) or
    #: ``"skipped"`` (left out by ``NPFRAME_PLUGINS``).
    status: str
    components: int
    errors: tuple[str, ...] = ()

    @property
    def provider(self) -> str:
        return f"{self.name} {self.version}" if self.version else self.name


def _factory_name(factory: Any) -> str:
    module = getattr(factory, "__module__", None)
    qualname = getattr(factory, "__qualname__", None)
    return f"{module}.{qualname}" if module and qualname else repr(factory)


@attrs.frozen
class PluginReport:
    """Everything registered, who provided it, and what failed: ``npframe plugins``' data."""

    #: Every registered ``Entry``, sorted by kind then name.
    components: tuple[Any, ...]
    failures: tuple[PluginFailure, ...]
    distributions: tuple[DistributionStatus, ...]
    #: The value of ``NPFRAME_PLUGINS`` (``None`` when unset).
    env: str | None

    def by_kind(self) -> dict[str, list[Any]]:
        """``{kind: [Entry, ...]}`` for every kind, in ``KINDS`` order, empty ones included."""
        from npframe.registry import KINDS

        out: dict[str, list[Any]] = {kind: [] for kind in KINDS}
        for entry in self.components:
            out.setdefault(entry.kind, []).append(entry)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for ``json.dumps``)."""
        from npframe._version import __version__

        return {
            "npframe": __version__,
            ENV_VAR: self.env,
            "distributions": [attrs.asdict(d) | {"entry_points": list(d.entry_points),
                                                  "errors": list(d.errors)}
                              for d in self.distributions],
            "components": {
                kind: [{"name": e.name, "distribution": e.owner, "version": e.version,
                        "factory": _factory_name(e.factory)} for e in entries]
                for kind, entries in self.by_kind().items()
            },
            "failures": [attrs.asdict(f) | {"message": str(f)} for f in self.failures],
        }

    def __str__(self) -> str:
        return format_report(self)


def _is_allowed(dist: str, allowed: set[str] | None) -> bool:
    key = _normalize(dist)
    return allowed is None or key == BUILTIN_DISTRIBUTION or key in allowed


def report(registry: Registry | None = None) -> PluginReport:
    """What is registered (by kind, with distribution and version) and what failed.

    Loads the plugins first if that has not happened yet. ``registry`` defaults to the
    process-wide one that ``Network.from_spec`` uses.
    """
    from npframe.registry import default_registry

    registry = registry or default_registry()
    components = registry.entries()
    failures = registry.failures()
    explicit = getattr(registry, "_entry_points", None)
    if explicit is not None:
        eps = list(explicit)
    elif getattr(registry, "_loaded_plugins", True):
        eps = iter_entry_points()
    else:
        eps = []
    allowed = _allowed()
    counts: dict[str, int] = {}
    for entry in components:
        counts[_normalize(entry.owner)] = counts.get(_normalize(entry.owner), 0) + 1
    grouped: dict[str, tuple[str, str | None, list[str]]] = {}
    for ep in eps:
        dist, version = _dist_of(ep)
        key = _normalize(dist)
        grouped.setdefault(key, (dist, version, []))[2].append(f"{ep.name} = {ep.value}")
    distributions = []
    for key, (dist, version, names) in grouped.items():
        errors = tuple(str(f) for f in failures if _normalize(f.distribution) == key)
        count = counts.get(key, 0)
        if errors:
            status = "failed"
        elif not count and not _is_allowed(dist, allowed):
            status = "skipped"
        else:
            status = "loaded"
        distributions.append(DistributionStatus(dist, version, tuple(names), status, count,
                                                errors))
    return PluginReport(tuple(components), tuple(failures), tuple(distributions),
                        os.environ.get(ENV_VAR))


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def format_report(plugin_report: PluginReport | None = None, *, kind: str | None = None,
                  ) -> str:
    """``report()`` as text for ``npframe plugins``: distributions, components by kind
    (only ``kind`` when given) with provider and factory, then the failures."""
    from npframe._version import __version__
    from npframe.registry import _check_kind

    if kind is not None:
        _check_kind(kind)
    rep = report() if plugin_report is None else plugin_report
    if rep.env is None:
        env = f"{ENV_VAR} is not set: every installed plugin loads"
    elif not rep.env.strip():
        env = f"{ENV_VAR} is empty: only npframe's built-ins load"
    else:
        env = f"{ENV_VAR}={rep.env}: only these distributions (and the built-ins) load"
    lines = [f"npframe {__version__}", env, "", "Plugin distributions"]
    if rep.distributions:
        lines += _table([[d.provider, d.status, f"{d.components} components",
                          ", ".join(d.entry_points)] for d in rep.distributions])
    else:
        lines.append("  (none)")
    for section, entries in rep.by_kind().items():
        if kind is not None and section != kind:
            continue
        lines += ["", f"{section} ({len(entries)})"]
        if entries:
            lines += _table([[e.name, e.provider, _factory_name(e.factory)] for e in entries])
        else:
            lines.append("  (none)")
    lines += ["", f"Failed plugins ({len(rep.failures)})"]
    lines += [f"  {f}" for f in rep.failures] or ["  (none)"]
    return "\n".join(lines) + "\n"
