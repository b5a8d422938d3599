"""What is registered, by which distribution and version, and which plugins failed.

``report()`` gathers it as data and ``format_report()`` as the text ``npframe plugins``
prints (with ``verbose=True``, each failure's whole traceback).
"""

from __future__ import annotations

import os
from typing import Any

import attrs

from npframe._version import __version__
from npframe.kinds import KINDS, check_kind
from npframe.plugins import ENV_VAR, STRICT_ENV_VAR, PluginFailure, normalize, strict
from npframe.registry import Entry, Registry, default_registry

__all__ = ["DistributionStatus", "PluginReport", "format_report", "report"]


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
    components: tuple[Entry, ...]
    failures: tuple[PluginFailure, ...]
    distributions: tuple[DistributionStatus, ...]
    #: The value of ``NPFRAME_PLUGINS`` (``None`` when unset).
    env: str | None

    def by_kind(self) -> dict[str, list[Entry]]:
        """``{kind: [Entry, ...]}`` for every kind, in ``KINDS`` order, empty ones included."""
        out: dict[str, list[Entry]] = {kind: [] for kind in KINDS}
        for entry in self.components:
            out.setdefault(entry.kind, []).append(entry)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for ``json.dumps``)."""
        return {
            "npframe": __version__,
            ENV_VAR: self.env,
            "distributions": [attrs.asdict(d) | {"entry_points": list(d.entry_points),
                                                  "errors": list(d.errors)}
                              for d in self.distributions],
            "components": {
                kind: [{"name": e.name, "qualified_name": e.qualified_name,
                        "distribution": e.owner, "version": e.version,
                        "factory": _factory_name(e.factory)} for e in entries]
                for kind, entries in self.by_kind().items()
            },
            "failures": [{"distribution": f.distribution, "version": f.version,
                          "entry_point": f.entry_point, "error": f.error,
                          "message": str(f), "traceback": f.traceback}
                         for f in self.failures],
        }

    def __str__(self) -> str:
        return format_report(self)


def report(registry: Registry | None = None) -> PluginReport:
    """What is registered (by kind, with distribution and version) and what failed.

    Loads every plugin first. ``registry`` defaults to the process-wide one that
    ``Network.from_spec`` uses.
    """
    registry = registry or default_registry()
    failures = registry.load_plugins()
    components = registry.entries()
    skipped = {normalize(s.distribution) for s in registry.skipped()}
    counts: dict[str, int] = {}
    for entry in components:
        counts[entry.qualifier] = counts.get(entry.qualifier, 0) + 1
    grouped: dict[str, tuple[str, str | None, list[str]]] = {}
    for source in registry.sources():
        grouped.setdefault(source.key, (source.distribution, source.version, []))[2].append(
            f"{source.name} = {source.value}")
    distributions = []
    for key, (dist, version, eps) in grouped.items():
        errors = tuple(str(f) for f in failures if normalize(f.distribution) == key)
        status = "failed" if errors else "skipped" if key in skipped else "loaded"
        distributions.append(DistributionStatus(dist, version, tuple(eps), status,
                                                counts.get(key, 0), errors))
    return PluginReport(tuple(components), tuple(failures), tuple(distributions),
                        os.environ.get(ENV_VAR))


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def format_report(plugin_report: PluginReport | None = None, *, kind: str | None = None,
                  verbose: bool = False) -> str:
    """``report()`` as text for ``npframe plugins``: distributions, components by kind
    (only ``kind`` when given) with provider and factory, then the failures (with their
    tracebacks when ``verbose``)."""
    if kind is not None:
        check_kind(kind)
    rep = report() if plugin_report is None else plugin_report
    if rep.env is None:
        env = f"{ENV_VAR} is not set: every installed plugin loads"
    elif not rep.env.strip():
        env = f"{ENV_VAR} is empty: only npframe's built-ins load"
    elif all(p.strip().startswith("-") for p in rep.env.split(",") if p.strip()):
        env = f"{ENV_VAR}={rep.env}: every installed plugin loads except those it excludes"
    else:
        env = f"{ENV_VAR}={rep.env}: only what it selects (and the built-ins) loads"
    mode = (f"{STRICT_ENV_VAR} is set: a plugin failure is an error" if strict()
            else f"plugin failures are warnings (set {STRICT_ENV_VAR}=1 to make them errors)")
    lines = [f"npframe {__version__}", env, mode, "", "Plugin distributions"]
    if rep.distributions:
        lines += _table([[d.provider, d.status, f"{d.components} components",
                          ", ".join(d.entry_points)] for d in rep.distributions])
    else:
        lines.append("  (none)")
    ambiguous = {(e.kind, e.name) for e in rep.components
                 if sum(1 for o in rep.components if (o.kind, o.name) == (e.kind, e.name)) > 1}
    for section, entries in rep.by_kind().items():
        if kind is not None and section != kind:
            continue
        lines += ["", f"{section} ({len(entries)})"]
        if entries:
            lines += _table([[e.qualified_name if (e.kind, e.name) in ambiguous else e.name,
                              e.provider, _factory_name(e.factory)] for e in entries])
        else:
            lines.append("  (none)")
    lines += ["", f"Failed plugins ({len(rep.failures)})"]
    if not rep.failures:
        lines.append("  (none)")
    for failure in rep.failures:
        lines.append(f"  {failure}")
        if verbose and failure.traceback:
            lines += [f"    {line}" for line in failure.traceback.rstrip().splitlines()]
    if rep.failures and not verbose:
        lines.append("  (npframe plugins -v shows each failure's traceback)")
    return "\n".join(lines) + "\n"
