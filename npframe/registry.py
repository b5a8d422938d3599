"""The string-keyed component registry: kind -> name -> factory, with its distribution.

Every component has a bare name (``relu``) and a qualified one naming the distribution
that registered it (``npframe:relu``, ``npframe-extras:mish``). Two plugins may
register the same bare name: both load, the qualified names tell them apart, and the
bare name then raises a ``SpecError`` saying it is ambiguous. The built-ins' bare names
are never ambiguous: a plugin can sit beside them, under its qualified name, but never
shadow them.

Plugins load lazily and in two stages: the built-ins on first use, third-party plugins
only when something outside the built-ins is asked for (or everything is listed). A
spec or model file that uses only built-in components therefore imports no
third-party code.

Module-level functions (``names``, ``get``, ``create``, ``register``, ``entries``,
``failures``) act on the process-wide default registry. ``Registry`` instances are
independent and are what tests use to get a clean slate.
"""

from __future__ import annotations

import re
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from npframe._names import listing, unknown
from npframe.errors import PluginWarning, RegistryError, SpecError, UnknownComponentError
from npframe.kinds import KINDS, check_factory, check_kind, check_name
from npframe.plugins import (
    BUILTIN_DISTRIBUTION,
    PluginFailure,
    PluginHost,
    PluginSource,
    Selection,
    Staging,
    discover,
    normalize,
    user_stacklevel,
    warn_failures,
)
from npframe.signature import check_parameters

__all__ = [
    "KINDS",
    "Entry",
    "Registry",
    "check_parameters",
    "create",
    "default_registry",
    "entries",
    "failures",
    "get",
    "names",
    "register",
    "split_reference",
]


@attrs.frozen
class Entry:
    """One registered component and who provided it."""

    kind: str
    name: str
    factory: Callable[..., Any]
    #: The distribution that registered it (``"npframe"`` for the built-ins), or
    #: ``"module <name>"`` for an in-process ``register`` call.
    owner: str
    version: str | None = None
    #: What qualifies the name: the normalized distribution, or the registering module.
    qualifier: str = ""
    #: The distribution's name for plugins (``None`` for in-process registrations).
    distribution: str | None = None

    @property
    def provider(self) -> str:
        """``"npframe-fancy 0.3"``: the owner with its version when known."""
        return f"{self.owner} {self.version}" if self.version else self.owner

    @property
    def qualified_name(self) -> str:
        """``"npframe-fancy:swish"``: unique in the registry."""
        return f"{self.qualifier}:{self.name}"

    @property
    def builtin(self) -> bool:
        return self.qualifier == BUILTIN_DISTRIBUTION


def split_reference(ref: Any, kind: str, path: str) -> tuple[str, dict[str, Any]]:
    """``"relu"`` or ``{"name": "relu", **params}`` -> ``(name, params)``."""
    if isinstance(ref, str):
        return ref, {}
    if isinstance(ref, Mapping):
        if "name" not in ref:
            msg = f"a {kind} table needs a 'name' key (got keys: {listing(map(str, ref))})"
            raise SpecError(msg, path)
        name = ref["name"]
        if not isinstance(name, str):
            msg = f"'name' must be a string (got {type(name).__name__} {name!r})"
            raise SpecError(msg, path)
        params = {k: v for k, v in ref.items() if k != "name"}
        bad = [k for k in params if not isinstance(k, str)]
        if bad:
            msg = f"parameter names must be strings (got {bad[0]!r})"
            raise SpecError(msg, path)
        return name, params
    msg = (
        f"a {kind} must be a registered name or a table with 'name' and parameters "
        f"(got {type(ref).__name__} {ref!r})"
    )
    raise SpecError(msg, path)


def _clash_message(kind: str, name: str, first: str, second: str) -> str:
    return f"{kind} {name!r} is already registered by {first}; {second} tried to register it again"


class _Stage:
    """Which plugins have been loaded: none, the built-ins, or all of them."""

    NONE, BUILTINS, ALL = 0, 1, 2


class Registry:
    """Components by kind and name, each remembered with the distribution that gave it.

    With ``load_plugins=True`` the installed ``npframe`` entry points load lazily, each
    at most once, even under concurrent access: other threads wait for a load to finish
    and never see half of it. ``entry_points`` replaces discovery with an explicit list
    (tests). The registry keeps one ``PluginHost`` (one pluggy plugin manager) for its
    life.
    """

    def __init__(self, *, load_plugins: bool = True,
                 entry_points: Iterable[Any] | None = None) -> None:
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self._lock = threading.RLock()
        self._loaded_stage = _Stage.NONE if load_plugins else _Stage.ALL
        self._load_plugins = load_plugins
        self._sources: list[PluginSource] | None = (
            None if entry_points is None else [PluginSource.of(ep) for ep in entry_points])
        self._failures: list[PluginFailure] = []
        self._unwarned: list[PluginFailure] = []  # recorded, not yet warned about
        self._attempted: set[tuple[str, str]] = set()  # (distribution, entry point) tried
        self._skipped: list[PluginSource] = []
        self._host = PluginHost()
        self._loader: int | None = None  # ident of the thread loading plugins
        self._threads_before_load: set[threading.Thread] = set()
        self._load_done = threading.Condition(self._lock)

    # -- plugin loading ---------------------------------------------------------------
    @property
    def plugin_manager(self) -> Any:
        """The pluggy ``PluginManager`` every plugin of this registry is registered with."""
        return self._host.plugin_manager

    def sources(self) -> list[PluginSource]:
        """The plugin entry points this registry loads from (discovered once)."""
        with self._lock:
            if self._sources is None:
                self._sources = discover(broken=self._broken) if self._load_plugins else []
            return list(self._sources)

    def _broken(self, where: str, exc: Exception) -> None:
        """A distribution whose metadata cannot be read: a failure, warned like the rest."""
        failure = PluginFailure(where, None, "(metadata)",
                                f"{type(exc).__name__}: {' '.join(str(exc).split())}",
                                "".join(traceback.format_exception(exc)))
        self._failures.append(failure)
        self._unwarned.append(failure)

    def _ensure(self, stage: int) -> None:
        if self._loaded_stage >= stage:
            return
        me = threading.get_ident()
        with self._lock:
            while self._loader is not None and self._loader != me:
                self._wait_for_loader()
            if self._loaded_stage >= stage:
                return
            if self._loader == me:
                msg = (
                    "plugins are being loaded already: a plugin's npframe_register hook "
                    "asked the registry to load plugins again; register through the "
                    "'registry' argument the hook receives instead"
                )
                raise RegistryError(msg)
            self._loader = me
            self._threads_before_load = set(threading.enumerate())
        try:
            self._load_up_to(stage)
        finally:
            with self._lock:
                self._loader = None
                self._threads_before_load = set()
                self._load_done.notify_all()
        with self._lock:
            pending, self._unwarned = self._unwarned, []
        # Warn once everything is in place: under -W error (or strict mode) a warning
        # is an exception, and it must not cut loading short. Failures recorded by a
        # load that Ctrl-C cut short are warned about by the load that completes it.
        warn_failures(pending)

    def _wait_for_loader(self) -> None:
        """Wait (under ``_lock``) while another thread loads plugins.

        A thread started during the load is most likely a plugin hook's own: when the
        loading thread is blocked in ``threading`` (a ``join``, a future, a queue, an
        event), it may be waiting for this very thread, and waiting for it in turn
        would deadlock, so this thread gets a ``RegistryError`` instead. Threads that
        existed before the load simply wait.
        """
        if threading.current_thread() in self._threads_before_load:
            self._load_done.wait()
            return
        if _blocked_in_threading(self._loader):
            msg = (
                "the npframe registry was used from a thread started while plugins "
                "were loading, while the loading thread waits for a thread; a plugin's "
                "npframe_register hook must not wait for threads that use the registry "
                "(it would deadlock)"
            )
            raise RegistryError(msg)
        self._load_done.wait(timeout=0.05)  # look again: the hook may start waiting later

    def _load_up_to(self, stage: int) -> None:
        """Load the sources of every stage up to ``stage`` that were not tried yet, so
        a load cut short by Ctrl-C continues where it stopped the next time."""
        sources = self.sources()
        selection = Selection.from_env()
        first = self._loaded_stage + 1
        for current in range(first, stage + 1):
            wanted = [s for s in sources if s.builtin == (current == _Stage.BUILTINS)]
            for source in wanted:
                if (source.key, source.name) in self._attempted:
                    continue
                self._attempted.add((source.key, source.name))
                if selection.allows(source):
                    self._load_one(source)
                else:
                    self._skipped.append(source)
            with self._lock:
                self._loaded_stage = current
        if stage == _Stage.ALL and first <= _Stage.ALL and selection.raw is not None:
            for name in selection.unmatched(sources):
                msg = (
                    f"NPFRAME_PLUGINS names {name!r}, which matches no installed plugin "
                    f"distribution (installed: {listing(s.distribution for s in sources)})"
                )
                warnings.warn(PluginWarning(msg), stacklevel=user_stacklevel())

    def _load_one(self, source: PluginSource) -> None:
        """Run one plugin's hook and commit what it staged, or record its failure.

        Any exception of a plugin (``SystemExit`` too) is a recorded failure that never
        stops the others. ``KeyboardInterrupt`` (the user's Ctrl-C, or a plugin raising
        it) is recorded too and then propagates: nothing of that plugin is registered,
        it is not tried again, and the next load continues with the plugins after it.
        """
        staging = Staging(source.provider, self._peek, self._committed_names)
        try:
            self._host.run(source, staging)
            self._commit_plugin(source, staging)
        except BaseException as exc:
            failure = PluginFailure.of(source, exc, list(staging.staged))
            with self._lock:
                self._failures.append(failure)
                self._unwarned.append(failure)
            if isinstance(exc, KeyboardInterrupt):
                raise

    def _commit_plugin(self, source: PluginSource, staging: Staging) -> None:
        new = [Entry(r.kind, r.name, r.factory, source.distribution, source.version, source.key,
                     source.distribution) for r in staging.staged.values()]
        with self._lock:
            for entry in new:
                taken = self._entries[entry.kind].get(entry.qualified_name)
                if taken is not None:
                    raise RegistryError(_clash_message(entry.kind, entry.name, taken.provider,
                                                       entry.provider))
            for entry in new:
                self._entries[entry.kind][entry.qualified_name] = entry

    def load_plugins(self) -> list[PluginFailure]:
        """Load every installed plugin now (normally lazy); return all failures so far."""
        self._ensure(_Stage.ALL)
        return list(self._failures)

    def failures(self) -> list[PluginFailure]:
        """The ``PluginFailure`` of every plugin that failed to load."""
        return self.load_plugins()

    def skipped(self) -> list[PluginSource]:
        """Plugin entry points left out by ``NPFRAME_PLUGINS``."""
        self._ensure(_Stage.ALL)
        return list(self._skipped)

    # -- lookups ----------------------------------------------------------------------
    def _peek(self, kind: str, name: str) -> Callable[..., Any]:
        """A factory by name from what is committed, without loading (for plugins' hooks)."""
        entry = self._find(kind, name)
        if entry is None:
            raise UnknownComponentError(unknown(kind, name, self._committed_names(kind)))
        return entry.factory

    def _committed_names(self, kind: str) -> list[str]:
        with self._lock:
            return sorted({e.name for e in self._entries[kind].values()})

    def _find(self, kind: str, name: str) -> Entry | None:
        """The entry ``name`` (bare or qualified) means now; ``SpecError`` if ambiguous."""
        with self._lock:
            table = self._entries[kind]
            if ":" in name:
                qualifier, _, bare = name.partition(":")
                return table.get(f"{normalize(qualifier)}:{bare}") or table.get(name)
            matches = [e for e in table.values() if e.name == name]
        if len(matches) <= 1:
            return matches[0] if matches else None
        for entry in matches:
            if entry.builtin:
                return entry
        choices = ", ".join(sorted(repr(e.qualified_name) for e in matches))
        msg = (
            f"{kind} {name!r} is ambiguous: {len(matches)} installed distributions register "
            f"it; name one of {choices}"
        )
        raise SpecError(msg)

    def names(self, kind: str) -> list[str]:
        """Sorted bare names registered for ``kind`` (each once)."""
        check_kind(kind)
        self._ensure(_Stage.ALL)
        return self._committed_names(kind)

    def qualified_names(self, kind: str) -> list[str]:
        """Sorted qualified names (``distribution:name``) registered for ``kind``."""
        check_kind(kind)
        self._ensure(_Stage.ALL)
        with self._lock:
            return sorted(self._entries[kind])

    def entry(self, kind: str, name: str) -> Entry:
        """The ``Entry`` (factory and owner) for ``kind``/``name``, bare or qualified."""
        check_kind(kind)
        if not isinstance(name, str):
            msg = f"{kind} names are strings (got {type(name).__name__} {name!r})"
            raise UnknownComponentError(msg)
        self._ensure(_Stage.BUILTINS)
        found = self._find(kind, name)
        if found is None or (not found.builtin and self._loaded_stage < _Stage.ALL):
            # not a built-in: it can only come from a third-party plugin (or be ambiguous
            # with one), so those load now
            self._ensure(_Stage.ALL)
            found = self._find(kind, name)
        if found is None:
            raise UnknownComponentError(self._unknown_message(kind, name))
        return found

    def _unknown_message(self, kind: str, name: str) -> str:
        bare = name.partition(":")[2] if ":" in name else name
        with self._lock:
            known = sorted({e.name for e in self._entries[kind].values()})
            qualifiers = sorted({e.qualifier for t in self._entries.values() for e in t.values()})
        if ":" in name:
            qualifier = normalize(name.partition(":")[0])
            if qualifier not in qualifiers:
                msg = (
                    f"unknown {kind} {name!r}: no installed distribution {qualifier!r} "
                    f"registers components (pip install {qualifier}?); distributions: "
                    f"{listing(qualifiers)}"
                )
            else:
                msg = unknown(kind, bare, known) + f" (distribution {qualifier!r} has no {kind} "
                msg += f"{bare!r})"
        else:
            msg = unknown(kind, name, known)
        offered = [f for f in self._failures if (kind, bare) in f.offered]
        if offered:
            failed = "; ".join(str(f) for f in offered)
            msg += f". A plugin that failed to load offered {kind} {bare!r}: {failed}"
        if not self._has_builtins():
            msg += (
                " (npframe's built-in components are not registered: the 'npframe' "
                "entry points are missing, which happens when npframe is imported from "
                "a source tree that was never installed; run `pip install -e .`)"
            )
        return msg

    def _has_builtins(self) -> bool:
        if self._sources is not None and not any(s.builtin for s in self._sources):
            return True  # an explicit plugin list without the built-ins: nothing to hint
        if not self._load_plugins:
            return True
        with self._lock:
            return any(e.builtin for table in self._entries.values() for e in table.values())

    def get(self, kind: str, name: str) -> Callable[..., Any]:
        """The class or factory registered for ``kind``/``name``."""
        return self.entry(kind, name).factory

    def entries(self, kind: str | None = None) -> list[Entry]:
        """Every entry (of one kind, or all), sorted by kind, name, then qualified name."""
        kinds = list(KINDS) if kind is None else [check_kind(kind)]
        self._ensure(_Stage.ALL)
        with self._lock:
            return [e for k in kinds for e in sorted(
                self._entries[k].values(), key=lambda e: (e.name, e.qualified_name))]

    def create(self, kind: str, ref: Any, *, path: str | None = None) -> Any:
        """Build a component from ``"name"`` or ``{"name": ..., **params}``.

        Parameters are checked against the factory's signature before it is called;
        every problem is a ``SpecError`` whose message starts with ``path``
        (the kind when not given).
        """
        path = kind if path is None else path
        check_kind(kind)
        name, params = split_reference(ref, kind, path)
        return self.build(kind, name, params, path=path)

    def build(self, kind: str, name: str, params: Mapping[str, Any], *, path: str) -> Any:
        """``create`` with the name and parameters already apart."""
        try:
            factory = self.get(kind, name)
        except SpecError as exc:
            raise type(exc)(exc.reason, path) from None
        check_parameters(factory, name, params, path)
        try:
            component = factory(**params)
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise _invalid(exc, kind, name, path, params) from None
        base = KINDS[kind]
        if base is not None and not isinstance(component, base):
            msg = (
                f"{kind} {name!r} produced a {type(component).__name__}, "
                f"not an npframe.{base.__name__}"
            )
            raise SpecError(msg, path)
        return component

    # -- registration -----------------------------------------------------------------
    def register(
        self, kind: str, name: str, factory: Callable[..., Any], *, owner: str | None = None
    ) -> None:
        """Register in-process; ``owner`` defaults to ``"module <factory's module>"``.

        The bare name must be free: unlike plugins (which sit beside each other under
        qualified names), an in-process registration that clashes is an error naming
        both owners.
        """
        check_kind(kind)
        check_name(kind, name)
        check_factory(kind, name, factory)
        self._ensure(_Stage.BUILTINS)
        module = getattr(factory, "__module__", None) or "__main__"
        entry = Entry(kind, name, factory, owner or f"module {module}", None,
                      normalize(owner) if owner else module)
        with self._lock:
            taken = [e for e in self._entries[kind].values() if e.name == name]
            if taken:
                raise RegistryError(_clash_message(kind, name, taken[0].provider,
                                                   entry.provider))
            self._entries[kind][entry.qualified_name] = entry

    def unregister(self, kind: str, name: str) -> None:
        """Remove a registration (for tests and interactive sessions)."""
        entry = self.entry(kind, name)
        with self._lock:
            del self._entries[kind][entry.qualified_name]


def _blocked_in_threading(ident: int | None) -> bool:
    """Whether thread ``ident`` is blocked in ``threading`` code: a join, a lock or a
    condition (what futures, queues and events wait with)."""
    current_frames = getattr(sys, "_current_frames", None)
    if ident is None or current_frames is None:
        return ident is not None  # no way to look: assume the worst rather than deadlock
    frame = current_frames().get(ident)
    return frame is not None and frame.f_code.co_filename == threading.__file__


def _invalid(exc: BaseException, kind: str, name: str, path: str,
             params: Mapping[str, Any]) -> SpecError:
    """A factory's refusal as a ``SpecError``, at the parameter's own path when known.

    attrs' validators (and npframe's own, which follow them) put the ``Attribute`` in
    the exception's arguments: ``'learning_rate' must be >= 0.0: -1.0`` becomes
    ``optimizer.learning_rate: must be >= 0.0 (got -1.0)``.
    """
    detail = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    attribute = next((a for a in exc.args[1:] if isinstance(a, attrs.Attribute)), None)
    expected = exc.args[2] if len(exc.args) == 4 else None
    expected = expected if isinstance(expected, tuple) else (expected,)
    if attribute is not None and all(isinstance(t, type) for t in expected):
        # attrs' instance_of: (message, attribute, expected type(s), value)
        names = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in expected)
        detail = f"must be {names} (got {exc.args[3]!r})"
    if attribute is not None:
        detail = detail.removeprefix(f"'{attribute.name}' ")
        return SpecError(_got_style(detail), f"{path}.{attribute.alias or attribute.name}")
    named = _NAMED.match(detail)  # attrs' comparison validators name the field in the text
    if named and named.group(1) in params:
        return SpecError(_got_style(named.group(2)), f"{path}.{named.group(1)}")
    return SpecError(f"invalid parameters for {kind} {name!r}: {_got_style(detail)}", path)


_NAMED = re.compile(r"^'([A-Za-z_][A-Za-z0-9_]*)' (must .*)$", re.DOTALL)


_TYPE_NAMES = {int: "an int", float: "a number", bool: "true or false", str: "a string"}


def _got_style(detail: str) -> str:
    """attrs says ``must be > 0.0: -1.0``; npframe says ``must be > 0.0 (got -1.0)``."""
    return _ATTRS_COMPARISON.sub(r"\1 (got \2)", detail)


_ATTRS_COMPARISON = re.compile(r"^((?:'[^']+' )?must be (?:<|<=|>|>=|==|!=) [^:]+): (.+)$",
                               re.DOTALL)


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The process-wide registry that ``Network.from_spec`` uses."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Registry()
    return _default


def names(kind: str) -> list[str]:
    """Sorted names registered for ``kind`` in the default registry."""
    return default_registry().names(kind)


def get(kind: str, name: str) -> Callable[..., Any]:
    """The class or factory registered for ``kind``/``name``."""
    return default_registry().get(kind, name)


def create(kind: str, ref: Any, *, path: str | None = None) -> Any:
    """Build a component from ``"name"`` or ``{"name": ..., **params}``."""
    return default_registry().create(kind, ref, path=path)


def register(kind: str, name: str, factory: Callable[..., Any], *, owner: str | None = None,
             ) -> None:
    """Register a component in-process (no packaging needed)."""
    default_registry().register(kind, name, factory, owner=owner)


def entries(kind: str | None = None) -> list[Entry]:
    """Every registered component with its owner, for diagnostics."""
    return default_registry().entries(kind)


def failures() -> list[PluginFailure]:
    """Every plugin that failed to load, with its error."""
    return default_registry().failures()
