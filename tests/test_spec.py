"""Specs: parsing from mappings and files, defaults, round trips, and every SpecError."""

from __future__ import annotations

import copy
import json
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import npframe
from npframe import Initializer, Network, NetworkSpec, SpecError
from npframe.spec import ComponentSpec, LayerSpec

TUTORIAL_TOML = """\
input = 2
seed = 42
loss = "mse"
initializer = "he"
optimizer = { name = "sgd", learning_rate = 0.01 }

[[layers]]
units = 4
activation = "relu"

[[layers]]
units = 4
activation = "relu"

[[layers]]
units = 3
activation = "linear"
"""

MINIMAL = {"input": 3, "layers": [{"units": 2, "activation": "linear"}]}


def assert_same_weights(a: Network, b: Network) -> None:
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb, strict=True):
        assert x.dtype == y.dtype
        assert np.array_equal(x, y)


# -- sources -------------------------------------------------------------------------------------
def test_mapping_json_and_toml_give_the_same_spec_and_weights(tmp_path, tutorial_spec):
    toml_path = tmp_path / "net.toml"
    toml_path.write_text(TUTORIAL_TOML)
    json_path = tmp_path / "net.json"
    json_path.write_text(json.dumps(tutorial_spec))
    specs = [NetworkSpec.load(tutorial_spec), NetworkSpec.load(json_path),
             NetworkSpec.load(str(toml_path))]
    assert specs[0] == specs[1] == specs[2]
    nets = [Network.from_spec(tutorial_spec), Network.from_spec(str(json_path)),
            Network.from_spec(toml_path)]
    assert_same_weights(nets[0], nets[1])
    assert_same_weights(nets[0], nets[2])
    assert [w.shape for w in nets[0].get_weights()] == [(2, 4), (4,), (4, 4), (4,), (4, 3), (3,)]


def test_the_parsed_tutorial_spec(tutorial_spec):
    spec = NetworkSpec.load(tutorial_spec)
    assert spec.input == 2
    assert spec.seed == 42
    assert spec.layers == (
        LayerSpec(type="dense", params={"units": 4, "activation": "relu"}),
        LayerSpec(type="dense", params={"units": 4, "activation": "relu"}),
        LayerSpec(type="dense", params={"units": 3, "activation": "linear"}),
    )
    assert spec.optimizer == ComponentSpec(name="sgd", params={"learning_rate": 0.01})
    blueprint = npframe.check_spec(spec)
    assert blueprint.sizes == (2, 4, 4, 3)
    assert [dict(s) for s in blueprint.shapes] == [
        {"W": (2, 4), "b": (4,)}, {"W": (4, 4), "b": (4,)}, {"W": (4, 3), "b": (3,)}]


def test_the_caller_mapping_is_not_mutated(tutorial_spec):
    before = copy.deepcopy(tutorial_spec)
    Network.from_spec(tutorial_spec).fit([[1.0, 2.0]], [[1.0, 2.0, 3.0]], epochs=1)
    assert tutorial_spec == before


# -- defaults, seed, round trip -------------------------------------------------------------------
def test_defaults_are_filled_as_in_the_contract():
    net = Network.from_spec(MINIMAL)
    out = net.to_spec()
    assert out == {
        "input": 3,
        "layers": [{"units": 2, "activation": "linear"}],
        "loss": "mse",
        "initializer": "he",
        "optimizer": {"name": "adam", "learning_rate": 0.001},  # docs/defaults.md
        "dtype": "float64",
        "standardize": False,
        "seed": net.spec.seed,
    }
    assert net.optimizer.learning_rate == 0.001
    assert net.dtype == np.float64
    assert net.scaler is None
    assert type(net.loss).__name__ == "MeanSquaredError"


def test_a_seed_is_drawn_when_absent_and_recorded():
    a, b = Network.from_spec(MINIMAL), Network.from_spec(MINIMAL)
    seed = a.to_spec()["seed"]
    assert isinstance(seed, int)
    assert 0 <= seed < 2**63
    assert seed != b.to_spec()["seed"]  # fresh entropy (a clash has probability 2**-63)
    assert_same_weights(a, Network.from_spec(a.to_spec()))


def test_an_explicit_null_seed_also_draws_one():
    spec = NetworkSpec.load({**MINIMAL, "seed": None})
    assert isinstance(spec.seed, int)


def test_to_spec_round_trips_exactly(tmp_path):
    spec = {
        "input": 2, "seed": 7, "dtype": "float32", "standardize": True,
        "initializer": "he",
        "optimizer": {"name": "sgd", "learning_rate": 0.5},
        "layers": [{"units": 5, "activation": "sigmoid", "initializer": "he"},
                   {"units": 1, "activation": "linear"}],
    }
    net = Network.from_spec(spec)
    out = net.to_spec()
    again = Network.from_spec(out)
    assert again.to_spec() == out
    assert again.spec == net.spec
    assert_same_weights(net, again)
    path = tmp_path / "out.json"
    path.write_text(json.dumps(out))  # plain data: JSON-serializable as is
    assert_same_weights(net, Network.from_spec(path))


def test_weights_after_a_round_trip_and_fit_agree(tutorial_spec, rng):
    X, y = rng.uniform(-1, 1, (32, 2)), rng.uniform(-1, 1, (32, 3))
    a = Network.from_spec(tutorial_spec)
    b = Network.from_spec(a.to_spec())
    a.fit(X, y, epochs=3, batch_size=8)
    b.fit(X, y, epochs=3, batch_size=8)
    assert_same_weights(a, b)


def test_numpy_integers_and_dtypes_normalize_to_plain_data():
    spec = NetworkSpec.load({"input": np.int64(2), "dtype": np.float32, "seed": np.uint32(5),
                             "layers": [{"units": np.int32(3), "activation": "relu"}]})
    assert spec.to_dict()["dtype"] == "float32"
    assert type(spec.input) is int
    assert type(spec.layers[0].units) is int
    assert type(spec.seed) is int
    assert NetworkSpec.load({**MINIMAL, "dtype": np.dtype("float32")}).dtype == "float32"
    json.dumps(spec.to_dict())
    params = NetworkSpec.load({**MINIMAL, "optimizer": {
        "name": "sgd", "learning_rate": np.float32(0.5)}}).optimizer.params
    assert type(params["learning_rate"]) is float
    assert params == {"learning_rate": 0.5}


def _registry_with_recording_initializer(name, draw):
    """A fresh registry whose initializer ``name`` records every shape it is asked for."""
    calls = []

    class Recording(Initializer):
        def __call__(self, shape, rng):
            calls.append(shape)
            return draw(shape, rng)

    registry = npframe.registry.Registry()
    registry.register("initializer", name, Recording)
    return registry, calls


def test_a_layer_may_override_the_initializer():
    registry, calls = _registry_with_recording_initializer(
        "ones", lambda shape, rng: np.ones(shape))
    spec = {"input": 2, "seed": 1, "layers": [{"units": 3, "activation": "relu"},
                                              {"units": 1, "activation": "linear",
                                               "initializer": "ones"}]}
    net = Network.from_spec(spec, registry=registry)
    assert calls == [(3, 1)]
    W1, b1, W2, b2 = net.get_weights()
    assert np.array_equal(W2, np.ones((3, 1)))
    assert not np.array_equal(W1, np.ones((2, 3)))
    assert not b1.any() and not b2.any()


# -- every SpecError path --------------------------------------------------------------------------
def _set(path, value):
    """A mutation of the tutorial spec setting ``path`` (keys and indexes) to ``value``."""
    def apply(spec):
        node = spec
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return spec
    return apply


def _delete(path):
    def apply(spec):
        node = spec
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        return spec
    return apply


CASES = {
    # structure
    "not a table": (lambda s: [s], r"spec: a spec must be a table \(a dict, or a \.json / "
                                   r"\.toml file holding one\), got list"),
    "non-string key": (_set((1,), 2), r"spec: keys must be strings \(got 1\)"),
    "unknown top-level key": (_set(("lyers",), []), r"lyers: unknown key 'lyers'; did you mean "
                                                    r"'layers'\? allowed: \w+(, \w+)*"),
    "junk top-level key": (_set(("zzz",), 1), r"zzz: unknown key 'zzz'; allowed: "),
    "unknown layer key": (_set(("layers", 0, "unit"), 4),
                          r"layers\[0\]\.unit: unknown key 'unit' for layer 'dense'; did you mean "
                          r"'units'\? allowed: activation, initializer, type, units, use_bias"),
    "missing input": (_delete(("input",)), r"input: required key is missing \(the number of "
                                           r"input features, e\.g\. input = 2\)"),
    "missing layers": (_delete(("layers",)), r"layers: required key is missing \(a list of "
                                             r"layer tables, each with units and activation\)"),
    "empty layers": (_set(("layers",), []), r"layers: needs at least one layer table with units "
                                            r"and activation \(got an empty list\)"),
    "layers not a list": (_set(("layers",), {"units": 4}),
                          r"layers: must be a list of layer tables \(got dict\)"),
    "layer not a table": (_set(("layers", 1), "relu"),
                          r"layers\[1\]: must be a table with 'units' and 'activation' "
                          r"\(got str 'relu'\)"),
    "missing units": (_delete(("layers", 2, "units")),
                      r"layers\[2\]\.units: required key is missing"),
    "missing activation": (_delete(("layers", 0, "activation")),
                           r"layers\[0\]\.activation: required key is missing \(a registered "
                           r"activation name, e\.g\. activation = \"relu\"\)"),
    # sizes
    "units True": (_set(("layers", 0, "units"), True),
                   r"layers\[0\]\.units: must be an int, not a bool \(got True\)"),
    "units string": (_set(("layers", 0, "units"), "4"),
                     r"layers\[0\]\.units: must be an int, not a string \(got '4'\)"),
    "units fractional": (_set(("layers", 0, "units"), 2.5),
                         r"layers\[0\]\.units: must be a positive int \(got 2\.5\)"),
    "units float": (_set(("layers", 0, "units"), 4.0),
                    r"layers\[0\]\.units: must be an int \(got float 4\.0; write 4\)"),
    "units zero": (_set(("layers", 1, "units"), 0),
                   r"layers\[1\]\.units: must be a positive int \(got 0\)"),
    "units negative": (_set(("layers", 2, "units"), -3),
                       r"layers\[2\]\.units: must be a positive int \(got -3\)"),
    "units nan": (_set(("layers", 0, "units"), math.nan),
                  r"layers\[0\]\.units: must be a finite number \(got nan\)"),
    "units None": (_set(("layers", 0, "units"), None),
                   r"layers\[0\]\.units: must be a positive int \(got None\)"),
    "input True": (_set(("input",), True), r"input: must be a positive int \(got True\)"),
    "input zero": (_set(("input",), 0), r"input: must be a positive int \(got 0\)"),
    # components
    "unknown activation": (_set(("layers", 1, "activation"), "rleu"),
                           r"layers\[1\]\.activation: unknown activation 'rleu'; did you mean "
                           r"'relu'\? known: (\w+, )*linear, (\w+, )*relu, (\w+, )*sigmoid"),
    "unknown loss": (_set(("loss",), "mes"),
                     r"loss: unknown loss 'mes'; did you mean '\w+'\? known: (\w+, )*mse"),
    "unknown initializer": (_set(("initializer",), "hee"),
                            r"initializer: unknown initializer 'hee'; did you mean 'he'\?"),
    "unknown layer initializer": (_set(("layers", 2, "initializer"), "hee"),
                                  r"layers\[2\]\.initializer: unknown initializer 'hee'"),
    "unknown optimizer": (_set(("optimizer",), "sgdd"),
                          r"optimizer: unknown optimizer 'sgdd'; did you mean 'sgd'\?"),
    "unknown optimizer in a table": (_set(("optimizer",), {"name": "sgdd"}),
                                     r"optimizer: unknown optimizer 'sgdd'"),
    "unknown parameter": (_set(("optimizer",), {"name": "sgd", "learning_rat": 0.1}),
                          r"optimizer: unknown parameter 'learning_rat' for 'sgd'; did you mean "
                          r"'learning_rate'\?"),
    "parameter on relu": (_set(("layers", 0, "activation"), {"name": "relu", "alpha": 1}),
                          r"layers\[0\]\.activation: unknown parameter 'alpha' for 'relu'"),
    "invalid parameter value": (_set(("optimizer", "learning_rate"), -1.0),
                                r"optimizer\.learning_rate: must be >= 0\.0 \(got -1\.0\)"),
    "non-finite parameter": (_set(("optimizer", "learning_rate"), math.inf),
                             r"optimizer\.learning_rate: must be a finite number \(got inf\)"),
    "non-plain parameter": (_set(("optimizer", "learning_rate"), {1, 2}),
                            r"optimizer\.learning_rate: must be plain data \(number, string, "
                            r"bool, list or table\), got set"),
    "component table without name": (_set(("optimizer",), {"learning_rate": 0.1}),
                                     r"optimizer: a optimizer table needs a 'name' key \(got "
                                     r"keys: learning_rate\)"),
    "component name not a string": (_set(("loss",), {"name": 3}),
                                    r"loss\.name: must be a non-empty string \(got 3\)"),
    "component name null": (_set(("loss",), {"name": None}),
                            r"loss\.name: must be a non-empty string \(got None\)"),
    "component empty name": (_set(("loss",), ""),
                             r"loss: must name a registered loss \(got an empty string\)"),
    "component wrong type": (_set(("layers", 0, "activation"), 3),
                             r"layers\[0\]\.activation: must be a registered activation name or "
                             r"a table with 'name' and parameters \(got int 3\)"),
    # scalars
    "bad dtype": (_set(("dtype",), "float16"), r"dtype: unknown dtype 'float16'; did you mean "
                                              r"'float\d\d'\? allowed: float32, float64"),
    "dtype wrong type": (_set(("dtype",), 32), r"dtype: unknown dtype 32; allowed: float32, "
                                               r"float64"),
    "dtype numpy int": (_set(("dtype",), np.int32), r"dtype: unknown dtype "),
    "standardize not bool": (_set(("standardize",), "yes"),
                             r"standardize: must be true \(inputs and targets\), false, \"inputs\" "
                             r"or \"targets\" \(got str 'yes'\)"),
    "standardize int": (_set(("standardize",), 1), r"standardize: must be true \(inputs and "
                                                   r"targets\), false, .* \(got int 1\)"),
    "standardize unknown": (_set(("standardize",), "outputs"),
                            r"standardize: must be true .*\(got str 'outputs'\)"),
    "standardize labels": (lambda spec: {**spec, "loss": "categorical_crossentropy",
                                         "standardize": True},
                           r"standardize: cannot standardize the targets of loss "
                           r"'categorical_crossentropy', which takes class labels or "
                           r"probabilities .*; use standardize = \"inputs\""),
    "seed negative": (_set(("seed",), -1), r"seed: must be an int in \[0, 2\*\*63\) \(got -1\)"),
    "seed too large": (_set(("seed",), 2**63), r"seed: must be an int in \[0, 2\*\*63\)"),
    "seed fractional": (_set(("seed",), 1.5), r"seed: must be an int in \[0, 2\*\*63\) "
                                              r"\(got 1\.5\)"),
    "seed string": (_set(("seed",), "42"), r"seed: must be an int in \[0, 2\*\*63\) "
                                           r"\(got '42'\)"),
    "seed bool": (_set(("seed",), True), r"seed: must be an int in \[0, 2\*\*63\) \(got True\)"),
    # optional tables
    "metrics not a list": (_set(("metrics",), 3), r"metrics: must be a list of metric names or "
                                                  r"tables \(got int\)"),
    "unknown metric": (_set(("metrics",), ["zzzmetric"]),
                       r"metrics\[0\]: unknown metric 'zzzmetric'; known: "),
    "unknown schedule": (_set(("schedule",), "zzzschedule"),
                         r"schedule: unknown schedule 'zzzschedule'; known: "),
    "train not a table": (_set(("train",), 3), r"train: must be a table \(got int 3\)"),
    "unknown train key": (_set(("train",), {"epoch": 3}),
                          r"train\.epoch: unknown key 'epoch'; did you mean 'epochs'\?"),
    "train epochs negative": (_set(("train",), {"epochs": -1}),
                              r"train\.epochs: must be an int >= 0 \(got -1\)"),
    "train batch_size zero": (_set(("train",), {"batch_size": 0}),
                              r"train\.batch_size: must be a positive int \(got 0\)"),
    "train validation_split": (_set(("train",), {"validation_split": 1.0}),
                               r"train\.validation_split: must be a number in \[0, 1\) "
                               r"\(got 1\.0\)"),
    "unknown dataset": (_set(("train",), {"dataset": "tutorail"}),
                        r"train\.dataset: unknown dataset 'tutorail'; did you mean 'tutorial'\?"),
    "unknown dataset parameter": (_set(("train",), {"dataset": {"name": "tutorial", "n": 3}}),
                                  r"train\.dataset: unknown parameter 'n' for 'tutorial'"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_problem_is_a_spec_error_starting_with_its_path(tutorial_spec, case):
    mutate, pattern = CASES[case]
    spec = mutate(tutorial_spec)
    with pytest.raises(SpecError, match=f"^{pattern}") as info:
        Network.from_spec(spec)
    assert isinstance(info.value, ValueError)
    path = pattern.split(":")[0].replace("\\", "")
    assert info.value.path == path
    with pytest.raises(SpecError, match=f"^{pattern}"):
        npframe.check_spec(spec)  # validation alone, nothing allocated


def test_spec_errors_come_before_any_array_is_allocated(tutorial_spec, monkeypatch):
    registry, calls = _registry_with_recording_initializer(
        "spy", lambda shape, rng: rng.standard_normal(shape))
    tutorial_spec["initializer"] = "spy"
    Network.from_spec(tutorial_spec, registry=registry)
    assert len(calls) == 3  # the spy sees every allocation of a valid spec
    calls.clear()

    def no_arrays(*args, **kwargs):
        raise AssertionError("an array was allocated before the spec was fully checked")

    for name in ("zeros", "empty", "ones", "zeros_like", "empty_like", "ascontiguousarray"):
        monkeypatch.setattr(np, name, no_arrays)
    for spec in (
        {**tutorial_spec, "optimizer": {"name": "sgd", "learning_rat": 1}},  # last checked
        {**tutorial_spec, "metrics": ["nope"]},
        {**tutorial_spec, "layers": [*tutorial_spec["layers"][:2],
                                     {"units": 3, "activation": "rleu"}]},
    ):
        with pytest.raises(SpecError):
            Network.from_spec(spec, registry=registry)
    assert calls == []


# -- files -----------------------------------------------------------------------------------------
def test_a_toml_file_that_does_not_parse_names_the_file_and_line(tmp_path):
    path = tmp_path / "net.toml"
    path.write_text('input = 2\nseed = 42\nloss = "mse\n')
    with pytest.raises(SpecError) as info:
        Network.from_spec(path)
    message = str(info.value)
    assert message.startswith(f"{path}: invalid TOML: ")
    assert "line 3" in message


def test_a_json_file_that_does_not_parse_names_the_file_and_line(tmp_path):
    path = tmp_path / "net.json"
    path.write_text('{\n  "input": 2,\n  "layers": [\n    {"units": 4,}\n  ]\n}\n')
    with pytest.raises(SpecError) as info:
        Network.from_spec(str(path))
    assert re.match(rf"^{re.escape(str(path))}: invalid JSON: .* \(at line 4, column \d+\)$",
                    str(info.value))


def test_an_error_inside_a_file_names_the_entry(tmp_path):
    path = tmp_path / "net.toml"
    path.write_text(TUTORIAL_TOML.replace('activation = "linear"', 'activation = "rleu"'))
    with pytest.raises(SpecError, match=r"^layers\[2\]\.activation: unknown activation 'rleu'"):
        Network.from_spec(path)


@pytest.mark.parametrize(("name", "pattern"), [
    ("net.yaml", r": unsupported spec file type '\.yaml'; use \.json or \.toml$"),
    ("net", r": unsupported spec file type '\(none\)'; use \.json or \.toml$"),
    ("missing.toml", r": no such file$"),
])
def test_unusable_paths(tmp_path, name, pattern):
    path = tmp_path / name
    if name == "net.yaml":
        path.write_text("input: 2\n")
    with pytest.raises(SpecError, match=re.escape(str(path)) + pattern):
        Network.from_spec(path)


def test_a_file_that_is_not_utf8_or_not_a_file(tmp_path):
    bad = tmp_path / "net.json"
    bad.write_bytes(b"\xff\xfe{}")
    with pytest.raises(SpecError, match=rf"^{re.escape(str(bad))}: not UTF-8 text \(invalid "
                                        r"start byte at byte 0\); save it as UTF-8"):
        NetworkSpec.load(bad)
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    with pytest.raises(SpecError, match=rf"^{re.escape(str(folder))}: is a folder, not a spec "):
        NetworkSpec.load(folder)


def test_a_json_file_holding_a_list_is_an_error(tmp_path):
    path = tmp_path / "net.json"
    path.write_text("[1, 2]")
    with pytest.raises(SpecError, match=r"^spec: a spec must be a table"):
        Network.from_spec(path)


# -- Hypothesis: malformed specs only ever raise SpecError ----------------------------------------
_NAMES = st.sampled_from([
    "relu", "linear", "sigmoid", "tanh", "mse", "mae", "he", "glorot", "sgd", "adam", "momentum",
    "step", "tutorial", "name", "units", "activation", "input", "layers", "learning_rate",
    "momentum", "beta1", "n_samples", "float32", "float64", "seed", "metrics", "schedule",
    "train", "epochs", "", "rleu",
])
_SCALARS = (
    st.none() | st.booleans() | st.integers(-3, 8)
    | st.sampled_from([2**63, -(2**70), 10**400, 0.5, -0.0, 1e300, 4.0])
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=6) | _NAMES
)
_JUNK = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(_NAMES | st.text(max_size=4) | st.integers(0, 3), inner, max_size=3),
    max_leaves=6,
)


def _mutate(data: st.DataObject, node):
    """One random change somewhere inside ``node``; returns the changed node."""
    ops = ["replace", "swap"]
    if isinstance(node, dict | list) and node:
        ops += ["descend", "descend", "descend", "delete"]
    if isinstance(node, dict | list):
        ops += ["add"]
    op = data.draw(st.sampled_from(ops))
    if op == "replace":
        return data.draw(_JUNK)
    if op == "swap":  # the same value in another type
        return data.draw(st.sampled_from([
            str(node), [node], {"name": node}, True, float(len(str(node))), None]))
    keys = list(node) if isinstance(node, dict) else list(range(len(node)))
    if op == "add":
        if isinstance(node, dict):
            node[data.draw(_NAMES | st.text(max_size=4) | st.integers(0, 2))] = data.draw(_JUNK)
        else:
            node.insert(data.draw(st.integers(0, len(node))), data.draw(_JUNK))
        return node
    key = data.draw(st.sampled_from(keys))
    if op == "delete":
        del node[key]
    else:
        node[key] = _mutate(data, node[key])
    return node


_VALID = {
    "input": 2, "seed": 3, "loss": "mse", "initializer": "he", "dtype": "float32",
    "standardize": True, "optimizer": {"name": "sgd", "learning_rate": 0.01},
    "layers": [{"units": 3, "activation": "relu", "initializer": "he"},
               {"units": 2, "activation": {"name": "sigmoid"}}],
    "train": {"dataset": "tutorial", "epochs": 2, "batch_size": 4, "shuffle": False},
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_specs_only_ever_raise_spec_error(data):
    spec = copy.deepcopy(_VALID)
    for _ in range(data.draw(st.integers(1, 3))):
        spec = _mutate(data, spec)
    try:
        blueprint = npframe.check_spec(spec)
    except SpecError as exc:
        assert str(exc).startswith(f"{exc.path}: ") if exc.path else str(exc)
        with pytest.raises(SpecError):  # building the network reports the same problem
            Network.from_spec(spec)
        return
    if max(blueprint.sizes) <= 64:
        net = Network.from_spec(spec)
        assert net.predict(np.zeros((1, net.n_inputs))).shape == (1, net.n_outputs)
        assert NetworkSpec.load(net.to_spec()) == net.spec
