"""The component registry: lookups, creation with parameter checks, clashes, threads."""

from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest
from attrs import define, field, validators

import npframe
from npframe import Activation, Optimizer, RegistryError, SpecError, UnknownComponentError
from npframe.plugins import Staging
from npframe.registry import KINDS, Registry


# -- small components used below ----------------------------------------------------------
class Identity(Activation):
    def forward(self, z):
        return z.copy()

    def backward(self, z, a, grad_a):
        return grad_a.copy()


class Relu(Identity):
    pass


class Sigmoid(Identity):
    pass


@define
class Scaled(Activation):
    factor: float = field(default=1.0, converter=float, validator=validators.gt(0.0))

    def forward(self, z):
        return z * self.factor

    def backward(self, z, a, grad_a):
        return grad_a * self.factor


@define
class Sgd(Optimizer):
    learning_rate: float = field(default=0.01, converter=float, validator=validators.gt(0.0))

    def step(self, params, grads):
        for p, g in zip(params, grads, strict=True):
            p -= self.learning_rate * g


@pytest.fixture
def small() -> Registry:
    """An empty registry (no plugins) holding exactly linear, relu, sigmoid and sgd."""
    reg = Registry(load_plugins=False)
    reg.register("activation", "linear", Identity, owner="core")
    reg.register("activation", "relu", Relu, owner="core")
    reg.register("activation", "sigmoid", Sigmoid, owner="core")
    reg.register("activation", "scaled", Scaled, owner="core")
    reg.register("optimizer", "sgd", Sgd, owner="core")
    return reg


# -- lookups -------------------------------------------------------------------------------
def test_names_are_sorted_and_per_kind(small):
    assert small.names("activation") == ["linear", "relu", "scaled", "sigmoid"]
    assert small.names("optimizer") == ["sgd"]
    assert small.names("loss") == []


def test_get_returns_the_registered_factory(small):
    assert small.get("activation", "relu") is Relu
    entry = small.entry("activation", "relu")
    assert (entry.kind, entry.name, entry.factory, entry.owner) == ("activation", "relu",
                                                                     Relu, "core")


def test_create_from_a_name_and_from_a_table(small):
    assert isinstance(small.create("activation", "relu"), Relu)
    opt = small.create("optimizer", {"name": "sgd", "learning_rate": 0.5})
    assert isinstance(opt, Sgd)
    assert opt.learning_rate == 0.5


def test_the_builtins_arrive_through_the_default_registry():
    for kind, name in [("activation", "relu"), ("activation", "linear"),
                       ("activation", "sigmoid"), ("loss", "mse"), ("initializer", "he"),
                       ("optimizer", "sgd")]:
        assert name in npframe.registry.names(kind)
        assert npframe.registry.entries(kind)  # owners are known
    opt = npframe.registry.create("optimizer", {"name": "sgd", "learning_rate": 0.1})
    assert opt.learning_rate == 0.1
    owners = {e.owner for e in npframe.registry.entries() if e.name in ("relu", "mse", "sgd")}
    assert owners == {"npframe"}
    assert npframe.registry.failures() == []


def test_module_level_register_and_unregister():
    npframe.registry.register("activation", "test_registry_identity", Identity)
    try:
        entry = npframe.registry.default_registry().entry("activation",
                                                           "test_registry_identity")
        assert entry.owner == f"module {__name__}"
        assert npframe.registry.get("activation", "test_registry_identity") is Identity
        assert "test_registry_identity" in npframe.registry.names("activation")
    finally:
        npframe.registry.default_registry().unregister("activation", "test_registry_identity")
    assert "test_registry_identity" not in npframe.registry.names("activation")


# -- unknown kinds and names ----------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda r: r.names("actvation"),
    lambda r: r.get("actvation", "relu"),
    lambda r: r.create("actvation", "relu"),
    lambda r: r.register("actvation", "x", Identity),
    lambda r: r.entries("actvation"),
])
def test_an_unknown_kind_lists_the_kinds(small, call):
    kinds = ", ".join(sorted(KINDS))
    expected = (f"unknown component kind 'actvation'; did you mean 'activation'? "
                f"known kinds: {kinds}")
    with pytest.raises(RegistryError) as info:
        call(small)
    assert str(info.value) == expected


def test_a_kind_that_is_not_a_string_is_a_registry_error(small):
    with pytest.raises(RegistryError, match=r"unknown component kind \['activation'\]"):
        small.names(["activation"])


def test_an_unknown_name_suggests_the_closest_and_lists_the_known(small):
    with pytest.raises(UnknownComponentError) as info:
        small.create("activation", "rleu", path="layers[1].activation")
    assert str(info.value) == (
        "layers[1].activation: unknown activation 'rleu'; did you mean 'relu'? "
        "known: linear, relu, scaled, sigmoid"
    )
    assert info.value.path == "layers[1].activation"
    # both except clauses catch it
    assert isinstance(info.value, SpecError)
    assert isinstance(info.value, RegistryError)
    assert isinstance(info.value, ValueError)


def test_an_unknown_name_without_a_close_match_only_lists(small):
    with pytest.raises(UnknownComponentError) as info:
        small.get("activation", "qqqqq")
    assert str(info.value) == "unknown activation 'qqqqq'; known: linear, relu, scaled, sigmoid"


def test_an_unknown_name_in_the_default_registry_names_the_path():
    pattern = (r"^layers\[1\]\.activation: unknown activation 'rleu'; did you mean 'relu'\? "
               r"known: (\w+, )*linear, (\w+, )*relu, (\w+, )*sigmoid")
    with pytest.raises(UnknownComponentError, match=pattern):
        npframe.registry.create("activation", "rleu", path="layers[1].activation")


def test_the_path_defaults_to_the_kind(small):
    with pytest.raises(UnknownComponentError, match=r"^optimizer: unknown optimizer 'sdg'; "
                                                    r"did you mean 'sgd'\?"):
        small.create("optimizer", "sdg")


def test_an_empty_registry_lists_none(small):
    with pytest.raises(UnknownComponentError, match=r"^loss: unknown loss 'mse'; known: \(none\)$"):
        small.create("loss", "mse")


# -- create: references and parameters ------------------------------------------------------
def test_an_unknown_parameter_is_checked_before_construction(small):
    built = []

    class Spy(Sgd):
        def __init__(self, learning_rate=0.01):
            super().__init__(learning_rate)
            built.append(self)

    small.register("optimizer", "spy", Spy)
    with pytest.raises(SpecError) as info:
        small.create("optimizer", {"name": "spy", "learning_rat": 0.1})
    assert str(info.value).startswith(
        "optimizer: unknown parameter 'learning_rat' for 'spy'; did you mean 'learning_rate'?")
    assert built == []
    small.create("optimizer", {"name": "spy", "learning_rate": 0.1})
    assert len(built) == 1


def test_the_sgd_parameter_message_matches_the_contract():
    with pytest.raises(SpecError) as info:
        npframe.registry.create("optimizer", {"name": "sgd", "learning_rat": 0.1})
    assert str(info.value).startswith(
        "optimizer: unknown parameter 'learning_rat' for 'sgd'; did you mean 'learning_rate'?")


def test_a_component_without_parameters_says_so(small):
    with pytest.raises(SpecError) as info:
        small.create("activation", {"name": "relu", "alpha": 0.1}, path="layers[0].activation")
    assert str(info.value) == (
        "layers[0].activation: unknown parameter 'alpha' for 'relu', which takes no parameters")


def test_parameters_are_bound_against_plain_signatures_too(small):
    def factory(*, gain, bias=0.0):
        return Scaled(factor=gain)

    small.register("activation", "gain", factory)
    assert small.create("activation", {"name": "gain", "gain": 2.0}).factor == 2.0
    with pytest.raises(SpecError, match=r"^activation\.gain: required parameter of 'gain' is "
                                        r"missing$"):
        small.create("activation", "gain")


def test_a_factory_taking_kwargs_accepts_anything(small):
    small.register("activation", "loose", lambda **kw: Scaled(factor=kw.get("factor", 1)))
    assert small.create("activation", {"name": "loose", "factor": 3, "other": 1}).factor == 3.0


@pytest.mark.parametrize(("value", "pattern"), [
    (-1.0, r"^optimizer\.learning_rate: must be > 0\.0 \(got -1\.0\)$"),
    ("fast", r"^optimizer\.learning_rate: must be a number, not a string \(got 'fast'\)"),
    ("1e-3", r"^optimizer\.learning_rate: must be a number, not a string \(got '1e-3'\)"),
    (True, r"^optimizer\.learning_rate: must be a number, not a bool \(got True\)"),
    ([0.1], r"^optimizer\.learning_rate: must be a number \(got list \[0\.1\]\)"),
    (10**400, r"^optimizer: invalid parameters for optimizer 'sgd': int too large"),
])
def test_invalid_values_become_spec_errors(small, value, pattern):
    with pytest.raises(SpecError, match=pattern):
        small.create("optimizer", {"name": "sgd", "learning_rate": value})


def test_attrs_validator_messages_are_reported_without_their_internals(small):
    @define
    class Mode(Activation):
        mode: str = field(default="a", validator=validators.in_(("a", "b")))
        flag: bool = field(default=False, validator=validators.instance_of(bool))

        def forward(self, z):
            return z

        def backward(self, z, a, grad_a):
            return grad_a

    small.register("activation", "mode", Mode)
    with pytest.raises(SpecError) as info:
        small.create("activation", {"name": "mode", "mode": "c"})
    assert str(info.value) == "activation.mode: must be in ('a', 'b') (got 'c')"
    assert info.value.path == "activation.mode"
    with pytest.raises(SpecError, match=r"^activation\.flag: must be true or false \(got 1\)$"):
        small.create("activation", {"name": "mode", "flag": 1})


def test_invalid_values_for_the_builtin_sgd_become_spec_errors():
    with pytest.raises(SpecError, match=r"^optimizer\.learning_rate: must be >= 0\.0"):
        npframe.registry.create("optimizer", {"name": "sgd", "learning_rate": -1.0})


@pytest.mark.parametrize(("ref", "pattern"), [
    ({"learning_rate": 0.1}, r"^optimizer: a optimizer table needs a 'name' key \(got keys: "
                             r"learning_rate\)$"),
    ({"name": 3}, r"^optimizer: 'name' must be a string \(got int 3\)$"),
    (3, r"^optimizer: a optimizer must be a registered name or a table"),
    (None, r"^optimizer: a optimizer must be a registered name or a table"),
])
def test_malformed_references(small, ref, pattern):
    with pytest.raises(SpecError, match=pattern):
        small.create("optimizer", ref)


def test_a_factory_returning_the_wrong_kind_is_a_spec_error(small):
    small.register("optimizer", "liar", lambda: Identity())
    with pytest.raises(SpecError, match=r"^optimizer: optimizer 'liar' produced a Identity, "
                                        r"not an npframe.Optimizer$"):
        small.create("optimizer", "liar")


# -- registration ---------------------------------------------------------------------------
def test_a_clash_names_both_owners(small):
    with pytest.raises(RegistryError) as info:
        small.register("activation", "relu", Identity, owner="npframe-fancy")
    assert str(info.value) == (
        "activation 'relu' is already registered by core; npframe-fancy tried to register it "
        "again"
    )
    assert small.get("activation", "relu") is Relu  # the first registration stands


def test_a_plugin_registering_a_name_twice_is_refused(small):
    staging = Staging("npframe-fancy 0.3", small.get, small.names)
    staging.register("activation", "fancy", Identity)
    staging.register("activation", "relu", Identity)  # beside the core's: qualified apart
    with pytest.raises(RegistryError, match=r"^npframe-fancy 0\.3 registers activation 'fancy' "
                                            r"twice$"):
        staging.register("activation", "fancy", Identity)


def test_the_same_name_in_another_kind_is_no_clash(small):
    small.register("optimizer", "relu", Sgd)
    assert small.get("optimizer", "relu") is Sgd


def test_a_staging_area_sees_the_registry_and_what_it_staged(small):
    staging = Staging("npframe-staged", small.get, small.names)
    staging.register("activation", "staged", Identity)
    assert "staged" in staging.names("activation")
    assert staging.get("activation", "staged") is Identity
    assert staging.get("activation", "relu") is Relu
    assert "staged" not in small.names("activation")  # committed only by the registry


@pytest.mark.parametrize(("name", "factory", "pattern"), [
    ("", Identity, r"^activation names must be non-empty strings \(got ''\)$"),
    (3, Identity, r"^activation names must be non-empty strings \(got 3\)$"),
    ("x", 42, r"^activation 'x': the registered object must be a class or factory \(got 42\)$"),
    ("x", Sgd, r"^activation 'x': (tests\.)?test_registry\.Sgd must subclass npframe\.Activation$"),
])
def test_bad_registrations(small, name, factory, pattern):
    with pytest.raises(RegistryError, match=pattern):
        small.register("activation", name, factory)
    assert small.names("activation") == ["linear", "relu", "scaled", "sigmoid"]


def test_a_component_missing_a_method_fails_loudly():
    class Half(Activation):
        def forward(self, z):
            return z

    with pytest.raises(TypeError, match="abstract"):
        Half()
    reg = Registry(load_plugins=False)
    with pytest.raises(RegistryError, match=r"^activation 'half': .*Half does not implement "
                                            r"backward$"):
        reg.register("activation", "half", Half)


def test_unregister(small):
    small.unregister("activation", "relu")
    assert "relu" not in small.names("activation")
    with pytest.raises(UnknownComponentError):
        small.unregister("activation", "relu")


def test_stateless_optimizers_have_an_empty_state():
    opt = Sgd()
    assert opt.state_dict() == {}
    opt.load_state_dict({})
    with pytest.raises(ValueError, match=r"Sgd is stateless but was given state for: velocity"):
        opt.load_state_dict({"velocity": np.zeros(3)})


# -- threads --------------------------------------------------------------------------------
class _SlowPlugin:
    """Registers ten activations, sleeping between them, and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    @npframe.hookimpl
    def npframe_register(self, registry):
        self.calls += 1
        for i in range(10):
            registry.register("activation", f"slow{i}", Identity)
            time.sleep(0.005)


class _Dist:
    def __init__(self, name: str, version: str) -> None:
        self.name, self.version, self.metadata = name, version, {"Name": name}


class _EntryPoint:
    """Just enough of ``importlib.metadata.EntryPoint`` for ``load_plugins``."""

    def __init__(self, name: str, obj: object, dist: _Dist) -> None:
        self.name, self.value, self.dist, self._obj = name, f"fake:{name}", dist, obj
        self.loads = 0

    def load(self) -> object:
        self.loads += 1
        return self._obj


def test_many_threads_see_a_fully_loaded_registry_loaded_once():
    plugin = _SlowPlugin()
    ep = _EntryPoint("slow", plugin, _Dist("npframe-slow", "1.0"))
    reg = Registry(entry_points=[ep])
    start = threading.Barrier(16)
    seen: list[object] = []

    def worker(i: int) -> None:
        start.wait()
        try:
            if i % 2:
                seen.append(reg.names("activation"))
            else:
                seen.append(type(reg.create("activation", "slow9")).__name__)
        except Exception as exc:  # recorded and asserted below
            seen.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = [f"slow{i}" for i in range(10)]
    assert plugin.calls == 1
    assert ep.loads == 1
    assert sorted(map(repr, seen)) == sorted([repr(expected)] * 8 + [repr("Identity")] * 8)
    assert reg.entry("activation", "slow0").provider == "npframe-slow 1.0"


def test_concurrent_registrations_all_land_exactly_once():
    reg = Registry(load_plugins=False)
    errors: list[Exception] = []

    def worker(i: int) -> None:
        for j in range(20):
            try:
                reg.register("activation", f"a{j}", Identity, owner=f"t{i}")
            except RegistryError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert reg.names("activation") == sorted(f"a{j}" for j in range(20))
    assert len(errors) == 7 * 20
    assert all(re.search(r"is already registered by t\d; t\d tried", str(e)) for e in errors)
