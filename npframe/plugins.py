"""Finding plugins (entry points of the ``npframe`` group) and running their hook.

Deliberately not ``PluginManager.load_setuptools_entrypoints``: that loop stops at the
first plugin that fails to import, while npframe must keep every other plugin
working. Each plugin is imported, registered with the one pluggy ``PluginManager`` a
``PluginHost`` keeps for its life, and its ``npframe_register`` hook is called through
pluggy (a subset caller holding only that plugin), so ``hookimpl`` options such as
``wrapper=True`` or ``tryfirst`` behave as pluggy documents. The hook registers into a
``Staging`` area that the registry commits only if the whole hook succeeded: a plugin
is registered entirely or not at all.

Where plugins come from: the distributions installed on ``sys.path``, except those
found in the current working folder when it is on ``sys.path`` only because Python
put it there (``python -c``, ``python -m``, a REPL, a notebook) and ``PYTHONPATH``
does not name it: a downloaded model next to a crafted ``evil-1.0.dist-info`` must not
run code. Environment variables:

* ``NPFRAME_PLUGINS``: comma-separated distribution names to load (the built-ins
  always load); ``-name`` entries exclude a distribution and may stand alone
  (``-npframe-slow`` loads everything else); empty loads only the built-ins.
* ``NPFRAME_STRICT_PLUGINS=1``: a plugin that fails to load is an error
  (``PluginLoadError``) instead of a ``PluginWarning``.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs
import pluggy

from npframe import hookspecs
from npframe.errors import PluginLoadError, PluginWarning, RegistryError
from npframe.kinds import check_factory, check_kind, check_name

__all__ = [
    "BUILTIN_DISTRIBUTION",
    "ENTRY_POINT_GROUP",
    "ENV_VAR",
    "STRICT_ENV_VAR",
    "PluginFailure",
    "PluginHost",
    "PluginSource",
    "Registration",
    "Selection",
    "Staging",
    "discover",
    "get_plugin_manager",
    "iter_entry_points",
    "normalize",
    "strict",
    "user_stacklevel",
    "warn_failures",
]

ENTRY_POINT_GROUP = "npframe"
ENV_VAR = "NPFRAME_PLUGINS"
STRICT_ENV_VAR = "NPFRAME_STRICT_PLUGINS"
#: The distribution the built-in plugin ships in; always loaded, loaded first.
BUILTIN_DISTRIBUTION = "npframe"


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them: ``NPFrame_Extras`` -> ``npframe-extras``."""
    return re.sub(r"[-_.]+", "-", name).lower()


# -- where plugins come from ---------------------------------------------------------------
@attrs.frozen
class PluginSource:
    """One entry point of the ``npframe`` group, with the distribution that declares it."""

    distribution: str
    version: str | None
    name: str
    value: str
    entry_point: Any = attrs.field(eq=False, repr=False)

    @property
    def key(self) -> str:
        """The normalized distribution name."""
        return normalize(self.distribution)

    @property
    def builtin(self) -> bool:
        return self.key == BUILTIN_DISTRIBUTION

    @property
    def provider(self) -> str:
        return f"{self.distribution} {self.version}" if self.version else self.distribution

    @classmethod
    def of(cls, ep: Any) -> PluginSource:
        dist = getattr(ep, "dist", None)
        if dist is None:
            name, version = "<unknown distribution>", None
        else:
            name, version = dist.metadata["Name"] or dist.name, dist.version
            if not isinstance(name, str) or not name.strip():
                msg = "its METADATA has no Name field"
                raise ValueError(msg)
        return cls(name, version, ep.name, ep.value, ep)


def _same_folder(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a or ".", b)
    except OSError:
        return False


def _is_working_folder(entry: str) -> bool:
    """Whether a ``sys.path`` entry is the current working folder, put there by Python.

    Python adds it by itself under ``python -c``, ``python -m``, a REPL and notebooks
    (as ``''`` or spelled out), which is how a crafted ``*.dist-info`` lying next to a
    downloaded model would get its code run. Plugins are installed distributions; the
    working folder is searched only when ``PYTHONPATH`` names it explicitly.
    """
    cwd = os.getcwd()
    if not (entry in ("", ".") or _same_folder(entry, cwd)):
        return False
    requested = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return not any(_same_folder(p, cwd) for p in requested)


def _search_path() -> list[str]:
    return [p for p in sys.path if not _is_working_folder(p)]


def discover(group: str = ENTRY_POINT_GROUP, *,
             broken: Callable[[str, Exception], None] | None = None) -> list[PluginSource]:
    """Installed entry points of ``group``: deduplicated, built-ins first, then sorted.

    The same distribution can be visible twice on ``sys.path`` (an editable install
    next to a wheel); the first one found wins, as ``importlib`` itself would import.
    A distribution whose metadata cannot be read (``entry_points.txt`` that is not
    UTF-8 or not INI, a ``METADATA`` without a name) is skipped, never fatal: one broken
    ``*.dist-info`` must not stop every plugin, the built-ins included. When its entry
    points mention ``group``, ``broken(where, error)`` is told.
    """
    seen: set[tuple[str, str]] = set()
    found: list[PluginSource] = []
    for dist in importlib.metadata.distributions(path=_search_path()):
        try:
            sources = [PluginSource.of(ep) for ep in dist.entry_points if ep.group == group]
        except Exception as exc:
            if broken is not None and _mentions(dist, group):
                broken(str(getattr(dist, "_path", None) or "a distribution"), exc)
            continue
        for source in sources:
            if (source.key, source.name) not in seen:
                seen.add((source.key, source.name))
                found.append(source)
    return sorted(found, key=lambda s: (not s.builtin, s.key, s.name))


def _mentions(dist: Any, group: str) -> bool:
    """Whether an unreadable distribution's ``entry_points.txt`` names ``group`` (or
    cannot be told apart from one that does)."""
    folder = getattr(dist, "_path", None)  # importlib.metadata.PathDistribution's folder
    if folder is None:
        return True
    try:
        return f"[{group}]".encode() in (Path(folder) / "entry_points.txt").read_bytes()
    except OSError:
        return False


def iter_entry_points(group: str = ENTRY_POINT_GROUP) -> list[Any]:
    """The entry points ``discover`` finds (for code that wants the raw objects)."""
    return [source.entry_point for source in discover(group)]


@attrs.frozen
class Selection:
    """Which distributions ``NPFRAME_PLUGINS`` lets load: ``None`` allows all."""

    raw: str | None
    include: frozenset[str] | None
    exclude: frozenset[str]

    @classmethod
    def from_env(cls) -> Selection:
        raw = os.environ.get(ENV_VAR)
        if raw is None:
            return cls(None, None, frozenset())
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        exclude = frozenset(normalize(p[1:].strip()) for p in parts if p.startswith("-"))
        include = [normalize(p) for p in parts if not p.startswith("-")]
        if not include and exclude:
            return cls(raw, None, exclude)  # only exclusions: everything else loads
        return cls(raw, frozenset(include), exclude)

    def allows(self, source: PluginSource) -> bool:
        if source.builtin:
            return True
        if source.key in self.exclude:
            return False
        return self.include is None or source.key in self.include

    def unmatched(self, sources: Iterable[PluginSource]) -> list[str]:
        """Names in the variable that match no installed distribution (typos)."""
        installed = {s.key for s in sources}
        named = (self.include or frozenset()) | self.exclude
        return sorted(n for n in named if n not in installed and n != BUILTIN_DISTRIBUTION)


def strict() -> bool:
    """Whether ``NPFRAME_STRICT_PLUGINS`` makes plugin failures errors."""
    return os.environ.get(STRICT_ENV_VAR, "").strip().lower() not in ("", "0", "false", "no")


# -- what a plugin's hook receives ----------------------------------------------------------
@attrs.frozen
class Registration:
    """One component a plugin registered."""

    kind: str
    name: str
    factory: Callable[..., Any]


class Staging:
    """What a plugin's ``npframe_register`` hook receives as ``registry``.

    Registrations are collected here and committed together when the hook returns, so
    a plugin is never half-registered. Lookups see the registry as it stands plus what
    this plugin staged so far.
    """

    def __init__(self, provider: str, lookup: Callable[[str, str], Any],
                 names: Callable[[str], list[str]]) -> None:
        self._provider = provider
        self._lookup = lookup
        self._names = names
        self.staged: dict[tuple[str, str], Registration] = {}

    def register(self, kind: str, name: str, factory: Callable[..., Any]) -> None:
        """Stage ``factory`` under ``kind``/``name``."""
        check_kind(kind)
        check_name(kind, name)
        check_factory(kind, name, factory)
        if (kind, name) in self.staged:
            msg = f"{self._provider} registers {kind} {name!r} twice"
            raise RegistryError(msg)
        self.staged[kind, name] = Registration(kind, name, factory)

    def names(self, kind: str) -> list[str]:
        """Registered plus staged names of ``kind``, sorted."""
        staged = {name for (k, name) in self.staged if k == kind}
        return sorted(set(self._names(kind)) | staged)

    def get(self, kind: str, name: str) -> Callable[..., Any]:
        """A staged or registered factory."""
        entry = self.staged.get((kind, name))
        return entry.factory if entry else self._lookup(kind, name)


# -- failures --------------------------------------------------------------------------------
@attrs.frozen
class PluginFailure:
    """A plugin that failed to load, and why."""

    distribution: str
    version: str | None
    entry_point: str
    #: ``"ExceptionType: message"`` on one line.
    error: str
    #: The whole traceback, for ``npframe plugins -v``.
    traceback: str = attrs.field(default="", eq=False, repr=False)
    #: Names the plugin had staged before it failed: ``(kind, name)``.
    offered: tuple[tuple[str, str], ...] = attrs.field(default=(), eq=False)

    def __str__(self) -> str:
        dist = f"{self.distribution} {self.version}" if self.version else self.distribution
        return f"npframe plugin {self.entry_point!r} ({dist}) failed to load: {self.error}"

    @classmethod
    def of(cls, source: PluginSource, exc: BaseException,
           offered: Iterable[tuple[str, str]] = ()) -> PluginFailure:
        text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        error = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        trace = "".join(traceback.format_exception(exc))
        return cls(source.distribution, source.version, source.name, error, trace,
                   tuple(offered))


def user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside npframe,
    counted from the caller's frame as ``warnings.warn`` counts (1: the caller).

    Plugins load lazily, deep inside npframe (and pluggy); the warning should name the
    user's line that asked for a component, not npframe's.
    """
    here = Path(__file__).resolve().parent
    internal = (str(here), str(Path(pluggy.__file__).resolve().parent),
                str(Path(importlib.metadata.__file__).resolve().parent), "<frozen ")
    frame = sys._getframe(1)
    level = 1
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(internal) and "importlib" not in filename:
            return level
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn_failures(failures: Iterable[PluginFailure]) -> None:
    """One ``PluginWarning`` per failure, or a ``PluginLoadError`` in strict mode."""
    failures = list(failures)
    if not failures:
        return
    if strict():
        lines = "\n".join(f"  {f}" for f in failures)
        msg = (
            f"{len(failures)} npframe plugin(s) failed to load and {STRICT_ENV_VAR} is set:\n"
            f"{lines}\n(`npframe plugins -v` shows the tracebacks)"
        )
        raise PluginLoadError(msg)
    level = user_stacklevel()  # counted from this frame, as warn's stacklevel is
    for failure in failures:
        warnings.warn(PluginWarning(str(failure)), stacklevel=level)


# -- running hooks ---------------------------------------------------------------------------
def get_plugin_manager() -> pluggy.PluginManager:
    """A fresh manager that knows npframe's hookspecs (each ``PluginHost`` keeps one)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


class PluginHost:
    """Imports plugins and calls their hook, each alone, through one plugin manager."""

    def __init__(self) -> None:
        self.plugin_manager = get_plugin_manager()
        self._lock = threading.Lock()

    def run(self, source: PluginSource, staging: Staging) -> None:
        """Import ``source``'s module, register it with pluggy, call its hook into
        ``staging``. Any failure propagates; the plugin is then unregistered again."""
        plugin = source.entry_point.load()
        pm = self.plugin_manager
        with self._lock:
            name = f"{source.key}:{source.name}"
            if pm.get_plugin(name) is not None or pm.is_registered(plugin):
                msg = f"{source.value} is already registered with npframe's plugin manager"
                raise RegistryError(msg)
            pm.register(plugin, name=name)  # validates the hookimpls against the hookspec
            others = [p for p in pm.get_plugins() if p is not plugin]
        try:
            own = [impl for impl in pm.hook.npframe_register.get_hookimpls()
                   if impl.plugin is plugin]
            if not own:
                msg = (
                    f"{source.value} defines no npframe_register hook; decorate it with "
                    "@npframe.hookimpl"
                )
                raise LookupError(msg)
            caller = pm.subset_hook_caller("npframe_register", remove_plugins=others)
            caller(registry=staging)
        except BaseException:
            with self._lock:
                pm.unregister(plugin)
            raise
