"""The string-keyed component registry: kind -> name -> factory, with its owner.

Module-level functions (``names``, ``get``, ``create``, ``register``, ``entries``,
``failures``) act on the process-wide default registry, which loads the installed
plugins once, lazily, on first use. ``Registry`` instances are independent and are
what tests use to get a clean slate.
"""

from __future__ import annotations

import inspect
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from npframe._names import listing, unknown
from npframe.errors import RegistryError, SpecError, UnknownComponentError
from npframe.interfaces import Activation, Initializer, Loss, Metric, Optimizer, Schedule

__all__ = [
    "KINDS",
    "Entry",
    "RegistrationView",
    "Registry",
    "create",
    "default_registry",
    "entries",
    "failures",
    "get",
    "names",
    "register",
]

#: Every kind of component, with the base class its objects must be instances of
#: (``None``: any callable; a dataset factory returns an ``npframe.Dataset``).
KINDS: dict[str, type | None] = {
    "activation": Activation,
    "loss": Loss,
    "initializer": Initializer,
    "optimizer": Optimizer,
    "metric": Metric,
    "schedule": Schedule,
    "dataset": None,
}


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

    @property
    def provider(self) -> str:
        """``"npframe-fancy 0.3"``: the owner with its version when known."""
        return f"{self.owner} {self.version}" if self.version else self.owner


def _check_kind(kind: str) -> None:
    if not isinstance(kind, str) or kind not in KINDS:
        raise RegistryError(unknown("component kind", kind, KINDS, "known kinds"))


def _check_factory(kind: str, name: str, factory: Any) -> None:
    if not isinstance(name, str) or not name:
        msg = f"{kind} names must be non-empty strings (got {name!r})"
        raise RegistryError(msg)
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
        missing = ", ".join(sorted(factory.__abstractmethods__))
        msg = (
            f"{kind} {name!r}: {factory.__module__}.{factory.__qualname__} does not "
            f"implement {missing}"
        )
        raise RegistryError(msg)


def _split_reference(ref: Any, kind: str, path: str) -> tuple[str, dict[str, Any]]:
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


#: attrs' comparison validators say ``'lr' must be > 0.0: -1.0``; npframe says ``(got -1.0)``.
_ATTRS_COMPARISON = re.compile(r"^('[^']+' must be (?:<|<=|>|>=|==|!=) [^:]+): (.+)$", re.DOTALL)


def _got_style(detail: str) -> str:
    return _ATTRS_COMPARISON.sub(r"\1 (got \2)", detail)


def check_parameters(factory: Callable[..., Any], name: str, params: Mapping[str, Any],
                     path: str) -> None:
    """Raise ``SpecError`` unless ``factory(**params)`` binds; never calls the factory."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    accepted = [
        p.name for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    if not takes_any:
        for key in params:
            if key in accepted:
                continue
            if not accepted:
                msg = f"unknown parameter {key!r} for {name!r}, which takes no parameters"
            else:
                msg = unknown("parameter", key, accepted, "accepted").replace(
                    f"parameter {key!r}", f"parameter {key!r} for {name!r}", 1)
            raise SpecError(msg, path)
    try:
        signature.bind(**params)
    except TypeError as exc:
        msg = f"cannot configure {name!r}: {exc}"
        raise SpecError(msg, path) from None


class RegistrationView:
    """What a plugin's ``npframe_register`` hook receives: a staging area.

    Registrations are collected here and committed to the registry together when the
    hook returns successfully, so a plugin is never half-registered. Lookups see the
    registry as it stands plus what this plugin staged so far.
    """

    def __init__(self, registry: Registry, owner: str, version: str | None = None) -> None:
        self._registry = registry
        self._owner = owner
        self._version = version
        self._staged: dict[tuple[str, str], Entry] = {}

    def register(self, kind: str, name: str, factory: Callable[..., Any]) -> None:
        """Stage ``factory`` under ``kind``/``name``; a taken name is a ``RegistryError``."""
        _check_kind(kind)
        _check_factory(kind, name, factory)
        entry = Entry(kind, name, factory, self._owner, self._version)
        taken = self._staged.get((kind, name)) or self._registry._lookup(kind, name)
        if taken is not None:
            raise RegistryError(_clash_message(kind, name, taken.provider, entry.provider))
        self._staged[(kind, name)] = entry

    def names(self, kind: str) -> list[str]:
        """Registered plus staged names of ``kind``, sorted."""
        staged = {name for (k, name) in self._staged if k == kind}
        return sorted(set(self._registry.names(kind)) | staged)

    def get(self, kind: str, name: str) -> Callable[..., Any]:
        """A staged or registered factory."""
        entry = self._staged.get((kind, name))
        return entry.factory if entry else self._registry.get(kind, name)

    def _commit(self) -> list[Entry]:
        """Publish everything staged, re-checking for clashes; all or nothing."""
        return self._registry._commit(list(self._staged.values()))


def _clash_message(kind: str, name: str, first: str, second: str) -> str:
    return f"{kind} {name!r} is already registered by {first}; {second} tried to register it again"


class Registry:
    """Components by kind and name, each remembered with the distribution that gave it.

    With ``load_plugins=True`` the first access loads every installed ``npframe``
    entry point (see ``npframe.plugins``), exactly once, even under concurrent
    access: other threads wait for the load to finish and never see half of it.
    """

    def __init__(
        self,
        *,
        load_plugins: bool = True,
        entry_points: Iterable[Any] | None = None,
    ) -> None:
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self._lock = threading.RLock()
        self._loaded = not load_plugins
        self._loaded_plugins = load_plugins
        self._loading = False
        self._entry_points = None if entry_points is None else list(entry_points)
        self._failures: list[Any] = []

    # -- plugin loading ---------------------------------------------------------------
    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded or self._loading:
                return  # loaded meanwhile, or re-entered from a plugin's hook
            self._loading = True
            try:
                from npframe.plugins import load_plugins

                self._failures = load_plugins(self, self._entry_points, warn=False)
            finally:
                self._loading = False
                self._loaded = True
        # Warn only once everything is in place and the lock is released: under
        # ``-W error`` a warning is an exception, and it must not cut loading short.
        from npframe.plugins import warn_failures

        warn_failures(self._failures)

    def failures(self) -> list[Any]:
        """The ``PluginFailure`` of every plugin that failed to load."""
        self._ensure_loaded()
        return list(self._failures)

    # -- lookups ----------------------------------------------------------------------
    def _lookup(self, kind: str, name: str) -> Entry | None:
        return self._entries[kind].get(name)

    def names(self, kind: str) -> list[str]:
        """Sorted names registered for ``kind``."""
        _check_kind(kind)
        self._ensure_loaded()
        with self._lock:
            return sorted(self._entries[kind])

    def entry(self, kind: str, name: str) -> Entry:
        """The ``Entry`` (factory and owner) for ``kind``/``name``."""
        _check_kind(kind)
        self._ensure_loaded()
        with self._lock:
            found = self._entries[kind].get(name)
            known = list(self._entries[kind])
        if found is None:
            if not isinstance(name, str):
                msg = f"{kind} names are strings (got {type(name).__name__} {name!r})"
                raise UnknownComponentError(msg)
            msg = unknown(kind, name, known)
            if not self._has_builtins():
                msg += (
                    " (npframe's built-in components are not registered: the 'npframe' "
                    "entry points are missing, which happens when npframe is imported from "
                    "a source tree that was never installed; run `pip install -e .`)"
                )
            raise UnknownComponentError(msg)
        return found

    def _has_builtins(self) -> bool:
        if self._entry_points is not None or not self._loaded_plugins:
            return True  # an explicit plugin list, or no plugin loading: nothing to hint
        return any(e.owner == "npframe" for kind in self._entries.values() for e in kind.values())

    def get(self, kind: str, name: str) -> Callable[..., Any]:
        """The class or factory registered for ``kind``/``name``."""
        return self.entry(kind, name).factory

    def entries(self, kind: str | None = None) -> list[Entry]:
        """Every entry (of one kind, or all), sorted by kind then name."""
        kinds = list(KINDS) if kind is None else [kind]
        for k in kinds:
            _check_kind(k)
        self._ensure_loaded()
        with self._lock:
            return [self._entries[k][n] for k in kinds for n in sorted(self._entries[k])]

    def create(self, kind: str, ref: Any, *, path: str | None = None) -> Any:
        """Build a component from ``"name"`` or ``{"name": ..., **params}``.

        Parameters are checked against the factory's signature before it is called;
        every problem is a ``SpecError`` whose message starts with ``path``
        (the kind when not given).
        """
        path = kind if path is None else path
        _check_kind(kind)
        name, params = _split_reference(ref, kind, path)
        try:
            factory = self.get(kind, name)
        except UnknownComponentError as exc:
            raise UnknownComponentError(str(exc), path) from None
        check_parameters(factory, name, params, path)
        try:
            component = factory(**params)
        except (TypeError, ValueError, ArithmeticError) as exc:
            # converters and validators (attrs' or hand-written) report bad values so;
            # attrs puts its message first and the attribute, bounds, value after it
            detail = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
            msg = f"invalid parameters for {kind} {name!r}: {_got_style(detail)}"
            raise SpecError(msg, path) from None
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
        """Register in-process; ``owner`` defaults to ``"module <factory's module>"``."""
        _check_kind(kind)
        _check_factory(kind, name, factory)
        self._ensure_loaded()
        owner = owner or f"module {getattr(factory, '__module__', '?')}"
        self._commit([Entry(kind, name, factory, owner)])

    def unregister(self, kind: str, name: str) -> None:
        """Remove a registration (for tests and interactive sessions)."""
        self.entry(kind, name)
        with self._lock:
            del self._entries[kind][name]

    def _commit(self, new: list[Entry]) -> list[Entry]:
        with self._lock:
            for entry in new:
                taken = self._entries[entry.kind].get(entry.name)
                if taken is not None:
                    raise RegistryError(
                        _clash_message(entry.kind, entry.name, taken.provider, entry.provider)
                    )
            for entry in new:
                self._entries[entry.kind][entry.name] = entry
        return new


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


def failures() -> list[Any]:
    """Every plugin that failed to load, with its error."""
    return default_registry().failures()
