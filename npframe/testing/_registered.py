"""Checking components by their registered names, and registries that load only some plugins.

``components_of(distribution)`` lists a distribution's components under their
qualified names (``npframe-example:snake``), from a registry that loads only the
built-ins and that distribution, so another installed plugin, broken or clashing,
cannot break the author's test session; ``check_registered`` given a qualified name
builds from that same registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from npframe.assembly import build_layer
from npframe.dataset import Dataset
from npframe.errors import RegistryError, SpecError
from npframe.interfaces import (
    Activation,
    Initializer,
    Layer,
    Loss,
    Metric,
    Optimizer,
    Schedule,
)
from npframe.plugins import ENV_VAR, Selection, discover, normalize
from npframe.registry import Registry, default_registry
from npframe.testing._activation import check_activation
from npframe.testing._dataset import check_dataset
from npframe.testing._guard import call, no_global_randomness
from npframe.testing._initializer import check_initializer
from npframe.testing._layer import check_layer
from npframe.testing._loss import check_loss
from npframe.testing._metric import check_metric
from npframe.testing._optimizer import check_optimizer
from npframe.testing._parameters import label, params_of, plain
from npframe.testing._schedule import check_schedule

__all__ = [
    "check_component",
    "check_registered",
    "components_of",
    "isolated_registry",
    "kit_registry",
]

__tracebackhide__ = True  # the kit's frames stay out of pytest's failure reports

try:  # the checks work without pytest; components_of then returns plain tuples
    import pytest
except ImportError:  # pragma: no cover - pytest is in the test extra
    pytest = None  # type: ignore[assignment]

_CHECKS: list[tuple[type, Callable[..., None]]] = [
    (Activation, check_activation),
    (Loss, check_loss),
    (Initializer, check_initializer),
    (Optimizer, check_optimizer),
    (Metric, check_metric),
    (Schedule, check_schedule),
    (Dataset, check_dataset),
    (Layer, check_layer),
]


def check_component(component: Any) -> None:
    """Run the check that matches ``component``'s npframe base class."""
    for base, check in _CHECKS:
        if isinstance(component, base):
            check(component)
            return
    bases = ", ".join(f"npframe.{b.__name__}" for b, _ in _CHECKS)
    msg = (
        f"{type(component).__module__}.{type(component).__qualname__} is not an npframe "
        f"component: expected an instance of one of {bases}"
    )
    raise AssertionError(msg)


# -- registries that load only some plugins ----------------------------------------------
def isolated_registry(*distributions: str) -> Registry:
    """A fresh ``Registry`` holding the built-ins and only ``distributions``, loaded now.

    Nothing else installed is imported, so a broken or clashing plugin elsewhere in the
    environment cannot affect it. ``LookupError`` names a distribution that is not
    installed (or that ``NPFRAME_PLUGINS`` leaves out); a distribution that fails to
    load warns (``PluginWarning``) as it would for a user.
    """
    sources = discover()
    wanted = {normalize(d): d for d in distributions}
    installed = {s.key for s in sources}
    missing = [d for key, d in wanted.items() if key not in installed]
    if missing:
        found = ", ".join(sorted({s.distribution for s in sources})) or "none"
        msg = (
            f"no installed distribution {', '.join(map(repr, missing))} declares npframe "
            f"plugins (installed: {found}); is it installed (pip install -e .), and is its "
            "[project.entry-points.npframe] table right?"
        )
        raise LookupError(msg)
    chosen = [s for s in sources if s.builtin or s.key in wanted]
    selection = Selection.from_env()
    left_out = sorted({s.distribution for s in chosen if not selection.allows(s)})
    if left_out:
        msg = (
            f"{ENV_VAR}={selection.raw!r} leaves out {', '.join(map(repr, left_out))}, which "
            "was asked for; name it there too (the npframe_distribution ini option sets "
            f"{ENV_VAR} for the whole test session)"
        )
        raise LookupError(msg)
    registry = Registry(entry_points=[s.entry_point for s in chosen])
    registry.load_plugins()
    return registry


_kit_registries: dict[str, Registry] = {}
_kit_lock = threading.Lock()


def kit_registry(distribution: str) -> Registry:
    """The ``isolated_registry(distribution)`` the kit shares between ``components_of``
    and ``check_registered``: built once per process and distribution."""
    key = normalize(distribution)
    with _kit_lock:
        registry = _kit_registries.get(key)
        if registry is None:
            registry = _kit_registries[key] = isolated_registry(distribution)
        return registry


def _registry_for(name: str) -> Registry:
    """Where ``check_registered`` looks a name up when given no registry."""
    if ":" in name:
        return kit_registry(name.partition(":")[0])
    return default_registry()


# -- checks by name ------------------------------------------------------------------------
def check_registered(kind: str, name: str, *, params: Mapping[str, Any] | None = None,
                     registry: Registry | None = None) -> None:
    """Build ``kind``/``name`` from the registry the way a spec does, and check it.

    ``params`` are the spec parameters (needed only for components without defaults
    for everything). Also checks that the parameters the component reports rebuild it
    through the registry, i.e. that ``{"name": name, **params}`` in a spec round-trips.
    Without ``registry``, a qualified name (``npframe-example:snake``, as
    ``components_of`` gives) comes from a registry of the built-ins and that
    distribution only, a bare name from the process-wide registry.
    """
    registry = registry or _registry_for(name)
    params = dict(params or {})
    try:
        entry = registry.entry(kind, name)
    except (RegistryError, SpecError) as exc:
        raise AssertionError(str(exc)) from None
    where = f"{kind} {name!r} (registered by {entry.provider})"
    component = None if kind == "dataset" else _build(registry, kind, name, params, where)
    try:
        if component is None:
            _check_dataset_factory(entry.factory, params, where)
            return
        check_component(component)
        if kind != "layer":  # a layer's component parameters are objects, not spec data
            _check_rebuilt(registry, kind, name, component)
    except AssertionError as exc:  # one message, saying which component it is about
        exc.args = (f"{where}: {exc}", *exc.args[1:])
        raise


def _build(registry: Registry, kind: str, name: str, params: dict[str, Any], where: str) -> Any:
    try:
        if kind == "layer":  # a layer's table may name components (a dense activation)
            return build_layer({"type": name, **params}, registry, path=kind)
        return registry.create(kind, {"name": name, **params}, path=kind)
    except SpecError as exc:
        table = ", ".join(f"{k} = {v!r}" for k, v in {"name": name, **params}.items())
        msg = (
            f"{where} cannot be built from the spec {{ {table} }}: {exc}; pass its required "
            "parameters as params={...}"
        )
        raise AssertionError(msg) from None


def _check_rebuilt(registry: Registry, kind: str, name: str, component: Any) -> None:
    reported = {k: plain(v, f"parameter {k!r}") for k, v in params_of(component).items()}
    try:
        rebuilt = registry.create(kind, {"name": name, **reported}, path=kind)
    except SpecError as exc:
        msg = (
            f"the parameters it reports, {reported!r}, do not rebuild it through the "
            f"registry: {exc}; the registered factory must accept the same keyword "
            "parameters the component keeps"
        )
        raise AssertionError(msg) from None
    if params_of(rebuilt) != params_of(component) or type(rebuilt) is not type(component):
        msg = (
            f"rebuilt from the spec {{name = {name!r}, **{reported!r}}} it becomes "
            f"{label(rebuilt)}, not {label(component)}"
        )
        raise AssertionError(msg)


def _check_dataset_factory(factory: Callable[..., Any], params: dict[str, Any],
                           where: str) -> None:
    with no_global_randomness(where):
        first = call("building it", lambda: factory(**params))
        second = call("building it", lambda: factory(**params))
    check_dataset(first)
    for field in ("X", "y", "X_test", "y_test"):
        a, b = getattr(first, field), getattr(second, field)
        if (a is None) != (b is None) or (a is not None and a.tobytes() != b.tobytes()):
            msg = f"is not deterministic: two calls with {params!r} gave different {field}"
            raise AssertionError(msg)


def components_of(distribution: str, *, kinds: Sequence[str] | None = None,
                  params: Mapping[str, Mapping[str, Any]] | None = None,
                  registry: Registry | None = None) -> list[Any]:
    """Every component ``distribution`` registers, as pytest parameters ``(kind, name, params)``.

    Use it to run the kit over a whole plugin::

        @pytest.mark.parametrize(("kind", "name", "params"), components_of("npframe-example"))
        def test_conforms(kind, name, params):
            check_registered(kind, name, params=params)

    ``name`` is the qualified name (``npframe-example:snake``) and the test id
    ``kind:name`` (``activation:snake``). Without ``registry`` the components come from
    a registry of the built-ins and ``distribution`` only (``kit_registry``), the one
    ``check_registered`` then builds them from. ``params`` gives spec parameters for
    components that need some, keyed like the test ids: ``{"schedule:cosine":
    {"epochs": 10}}``; the others get ``{}``. Distribution names compare as pip
    compares them (``npframe_example`` == ``npframe-example``). An unknown distribution,
    one that failed to load, one that registers nothing, or a ``params`` key naming
    none of its components raises ``LookupError`` at collection, rather than silently
    testing nothing.
    """
    registry = registry or kit_registry(distribution)
    params = dict(params or {})
    wanted = normalize(distribution)
    entries = [e for e in registry.entries() if normalize(e.owner) == wanted
               and (kinds is None or e.kind in kinds)]
    if not entries:
        failed = [str(f) for f in registry.failures() if normalize(f.distribution) == wanted]
        owners = sorted({e.owner for e in registry.entries()})
        msg = f"no components registered by distribution {distribution!r}"
        if kinds is not None:
            msg += f" of kind {', '.join(kinds)}"
        if failed:
            msg += f": it failed to load: {'; '.join(failed)}"
        else:
            msg += (
                f"; components come from: {', '.join(owners) or 'nobody'}. Is it installed "
                "(pip install -e .), is its [project.entry-points.npframe] table right, and "
                f"does {ENV_VAR} (if set) include it?"
            )
        raise LookupError(msg)
    ids = [f"{e.kind}:{e.name}" for e in entries]
    stray = sorted(set(params) - set(ids))
    if stray:
        msg = (
            f"components_of({distribution!r}): params given for {', '.join(stray)}, which "
            f"it does not register; keys are 'kind:name', one of: {', '.join(ids)}"
        )
        raise LookupError(msg)
    rows = [(e.kind, e.qualified_name, dict(params.get(i, {}))) for e, i in zip(entries, ids,
                                                                                 strict=True)]
    if pytest is None:  # pragma: no cover
        return rows
    return [pytest.param(*row, id=i) for row, i in zip(rows, ids, strict=True)]
