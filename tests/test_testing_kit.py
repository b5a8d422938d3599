"""npframe.testing: every built-in passes the kit, and the kit catches what it promises.

The broken components below each carry exactly one defect; each test asserts the kit
fails it with a message that says what is wrong, where and by how much.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from attrs import define, field, frozen

import npframe
from npframe import Activation, Initializer, Layer, Loss, Metric, Optimizer, Schedule
from npframe.assembly import build_layer
from npframe.dataset import Dataset
from npframe.plugins import PluginSource
from npframe.registry import Registry
from npframe.testing import (
    check_activation,
    check_component,
    check_dataset,
    check_initializer,
    check_layer,
    check_loss,
    check_metric,
    check_optimizer,
    check_registered,
    check_schedule,
    components_of,
    isolated_registry,
)

#: Spec parameters for built-ins that need some (the kit cannot guess them).
REQUIRED_PARAMS = {
    "layer:dense": {"units": 3, "activation": "tanh"},
    "layer:dropout": {"rate": 0.3},
    "schedule:cosine": {"epochs": 50},
    "schedule:exponential": {"gamma": 0.9},
    "schedule:step": {"step_size": 3},
    "schedule:warmup": {"steps": 20},
}

#: Built-ins again with non-default parameters: other code paths, same kit.
VARIANTS = [
    ("layer", "dense", {"units": 4, "activation": "relu", "use_bias": False,
                        "initializer": "glorot_uniform"}),
    ("layer", "dense", {"units": 2, "activation": "softmax"}),
    ("layer", "batch_norm", {"momentum": 0.3, "eps": 1e-3}),
    ("layer", "dropout", {"rate": 0.0}),
    ("activation", "gelu", {"approximate": "tanh"}),
    ("activation", "leaky_relu", {"alpha": 0.2}),
    ("activation", "elu", {"alpha": 0.5}),
    ("activation", "swish", {"beta": 2.0}),
    ("loss", "huber", {"delta": 0.3}),
    ("loss", "binary_crossentropy", {"from_logits": True}),
    ("loss", "categorical_crossentropy", {"from_logits": True}),
    ("initializer", "normal", {"std": 1.0, "mean": 0.5}),
    ("optimizer", "adam", {"amsgrad": True, "weight_decay": 0.01}),
    ("optimizer", "momentum", {"nesterov": True, "weight_decay": 0.001}),
    ("optimizer", "rmsprop", {"centered": True, "momentum": 0.9}),
    ("optimizer", "sgd", {"clip_norm": 1.0}),
    ("optimizer", "adagrad", {"lr_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("schedule", "cosine", {"epochs": 50, "warmup": 5, "min_factor": 0.1}),
    ("schedule", "one_cycle", {"warmup_fraction": 0.1, "anneal": "linear", "total_steps": 40}),
    ("schedule", "warmup", {"steps": 7, "then": "cosine", "min_factor": 0.2}),
    ("dataset", "tutorial", {"n_samples": 100}),
]

_builtins = Registry()


# -- every built-in passes ----------------------------------------------------------------
@pytest.mark.parametrize(("kind", "name", "params"),
                         components_of("npframe", params=REQUIRED_PARAMS, registry=_builtins))
def test_builtin_passes_the_kit(kind, name, params):
    check_registered(kind, name, params=params, registry=_builtins)


@pytest.mark.parametrize(("kind", "name", "params"), VARIANTS,
                         ids=[f"{k}:{n}:{'-'.join(map(str, p.values()))}" for k, n, p in VARIANTS])
def test_builtin_variant_passes_the_kit(kind, name, params):
    check_registered(kind, name, params=params, registry=_builtins)


def test_every_kind_of_builtin_is_covered():
    kinds = {p.values[0] for p in components_of("npframe", params=REQUIRED_PARAMS,
                                                registry=_builtins)}
    assert kinds == set(npframe.registry.KINDS)


# -- broken activations ------------------------------------------------------------------
@frozen
class TanhWrongGradient(Activation):
    def forward(self, z):
        return np.tanh(z)

    def backward(self, z, a, grad_a):
        return grad_a * (1 - a)  # should be 1 - a**2


@frozen
class UpcastingHalf(Activation):
    def forward(self, z):
        return z * np.float64(0.5)  # a NumPy float64 scalar upcasts float32 arrays

    def backward(self, z, a, grad_a):
        return grad_a * 0.5


@frozen
class MutatingReLU(Activation):
    def forward(self, z):
        np.maximum(z, 0, out=z)
        return z

    def backward(self, z, a, grad_a):
        return grad_a * (z > 0)


@frozen
class NaiveSoftplus(Activation):
    def forward(self, z):
        return np.log(1 + np.exp(z))  # overflows for z > 709 (float64), 88 (float32)

    def backward(self, z, a, grad_a):
        return grad_a / (1 + np.exp(-z))


@frozen
class DiagonalSoftmax(Activation):
    """Row-wise forward, but a backward that forgets the off-diagonal Jacobian."""

    def forward(self, z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def backward(self, z, a, grad_a):
        return grad_a * a * (1 - a)


@frozen
class ShrinkingBackward(Activation):
    def forward(self, z):
        return z.copy()

    def backward(self, z, a, grad_a):
        return grad_a.sum(axis=0)


@frozen
class DoublingParam(Activation):
    """A converter that is not idempotent: the parameter changes on every rebuild."""

    alpha: float = field(default=1.0, converter=lambda x: 2.0 * float(x))

    def forward(self, z):
        return z * self.alpha

    def backward(self, z, a, grad_a):
        return grad_a * self.alpha


class ForgetfulScale(Activation):
    """Hand-written, keeps its parameter under another name."""

    def __init__(self, scale: float = 2.0) -> None:
        self.s = float(scale)

    def forward(self, z):
        return z * self.s

    def backward(self, z, a, grad_a):
        return grad_a * self.s


@frozen
class NumpyScalarParam(Activation):
    alpha: float = field(default=1.0, converter=np.float32)

    def forward(self, z):
        return z * float(self.alpha)

    def backward(self, z, a, grad_a):
        return grad_a * float(self.alpha)


class HandWrittenScale(Activation):
    """Hand-written and correct: the kit does not require attrs."""

    def __init__(self, scale: float = 2.0) -> None:
        self.scale = float(scale)

    def forward(self, z):
        return z * self.scale

    def backward(self, z, a, grad_a):
        return grad_a * self.scale


def test_wrong_gradient_is_caught_with_numbers():
    with pytest.raises(AssertionError) as info:
        check_activation(TanhWrongGradient())
    msg = str(info.value)
    assert "TanhWrongGradient()" in msg
    assert "disagrees with central finite differences" in msg
    assert "max abs error" in msg and "max relative error" in msg
    assert "at index (" in msg and "z=" in msg and "grad_a=" in msg


def test_hand_written_component_passes():
    check_activation(HandWrittenScale(scale=3.0))


# -- broken losses -----------------------------------------------------------------------
@frozen
class SumGradientMSE(Loss):
    """value is a mean, but the gradient is that of the sum."""

    def value(self, y_true, y_pred):
        return float(np.mean((y_pred - y_true) ** 2))

    def gradient(self, y_true, y_pred):
        return 2.0 * (y_pred - y_true)


@frozen
class ArrayValuedLoss(Loss):
    def value(self, y_true, y_pred):
        return (y_pred - y_true) ** 2

    def gradient(self, y_true, y_pred):
        return 2.0 * (y_pred - y_true) / y_pred.size


@frozen
class InconsistentPair(Loss):
    def value(self, y_true, y_pred):
        return float(np.mean((y_pred - y_true) ** 2))

    def gradient(self, y_true, y_pred):
        return 2.0 * (y_pred - y_true) / y_pred.size

    def value_and_gradient(self, y_true, y_pred):
        return self.value(y_true, y_pred), (y_pred - y_true) / y_pred.size


@frozen
class NaiveLogCosh(Loss):
    def value(self, y_true, y_pred):
        return float(np.mean(np.log(np.cosh(y_pred - y_true))))

    def gradient(self, y_true, y_pred):
        return np.tanh(y_pred - y_true) / y_pred.size


@frozen
class ClippingMSE(Loss):
    def value(self, y_true, y_pred):
        return float(np.mean((y_pred - y_true) ** 2))

    def gradient(self, y_true, y_pred):
        np.clip(y_pred, -1.0, 1.0, out=y_pred)
        return 2.0 * (y_pred - y_true) / y_pred.size


@frozen
class ProbabilityLoss(Loss):
    """Binary cross-entropy: refuses anything but probabilities (clipped, into a new array)."""

    def _clipped(self, y_pred):
        if np.any((y_pred < 0) | (y_pred > 1)):
            raise ValueError("y_pred must hold probabilities")
        return np.clip(y_pred, 1e-7, 1 - 1e-7)

    def value(self, y_true, y_pred):
        p = self._clipped(y_pred)
        return float(-np.mean(y_true * np.log(p) + (1 - y_true) * np.log1p(-p)))

    def gradient(self, y_true, y_pred):
        p = self._clipped(y_pred)
        return (p - y_true) / (p * (1 - p)) / y_pred.size


def test_loss_gradient_off_by_a_factor_is_caught():
    with pytest.raises(AssertionError) as info:
        check_loss(SumGradientMSE())
    msg = str(info.value)
    assert "gradient(y_true, y_pred) on real data disagrees with central finite differences" in msg
    assert "max abs error" in msg and "y_pred=" in msg and "max relative error" in msg


def test_probability_loss_is_checked_on_probabilities_automatically():
    check_loss(ProbabilityLoss())  # real data raises, so probabilities it is
    with pytest.raises(AssertionError, match=r"raised ValueError: y_pred must hold probabilities"):
        check_loss(ProbabilityLoss(), domain="real")


def test_prediction_domain_attribute_decides():
    class Declared(ProbabilityLoss):
        prediction_domain = "probability"

    check_loss(Declared())

    class Bogus(ProbabilityLoss):
        prediction_domain = "logits"

    with pytest.raises(AssertionError, match=r"prediction_domain must be one of 'real', "
                                             r"'probability' \(got 'logits'\)"):
        check_loss(Bogus())


# -- broken initializers -----------------------------------------------------------------
@frozen
class FreshEntropy(Initializer):
    def __call__(self, shape, rng):
        return np.random.default_rng().standard_normal(shape)


@frozen
class GlobalNumpyState(Initializer):
    def __call__(self, shape, rng):
        return np.random.standard_normal(shape)  # noqa: NPY002 - the defect under test


@frozen
class GlobalPythonRandom(Initializer):
    def __call__(self, shape, rng):
        return np.array([[random.gauss(0, 1) for _ in range(shape[1])] for _ in range(shape[0])])


@frozen
class Transposed(Initializer):
    def __call__(self, shape, rng):
        return rng.standard_normal(shape[::-1])


@frozen
class IntegerWeights(Initializer):
    def __call__(self, shape, rng):
        return rng.integers(-2, 3, shape)


# -- broken optimizers -------------------------------------------------------------------
@define
class NoisySGD(Optimizer):
    learning_rate: float = field(default=0.01, converter=float)

    def step(self, params, grads):
        for p, g in zip(params, grads, strict=True):
            p -= self.learning_rate * (g + np.random.normal(0, 1e-3, g.shape))  # noqa: NPY002


@define
class ForgetfulMomentum(Optimizer):
    """Keeps a velocity but leaves it out of its state_dict."""

    learning_rate: float = field(default=0.01, converter=float)
    momentum: float = field(default=0.9, converter=float)
    _velocity: list = field(factory=list, init=False, repr=False)

    def step(self, params, grads):
        if not self._velocity:
            self._velocity = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self._velocity, strict=True):
            v *= self.momentum
            v -= self.learning_rate * g
            p += v


@define
class ScalarStateMomentum(ForgetfulMomentum):
    """state_dict holds a Python int: it would need pickling to be saved."""

    def state_dict(self):
        return {"steps": 3}


@define
class RebindingSGD(Optimizer):
    learning_rate: float = field(default=0.01, converter=float)

    def step(self, params, grads):
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            params[i] = p - self.learning_rate * g


@define
class AscendingSGD(Optimizer):
    learning_rate: float = field(default=0.01, converter=float)

    def step(self, params, grads):
        for p, g in zip(params, grads, strict=True):
            p += self.learning_rate * g


@define
class GradScalingSGD(Optimizer):
    learning_rate: float = field(default=0.01, converter=float)

    def step(self, params, grads):
        for p, g in zip(params, grads, strict=True):
            g *= self.learning_rate
            p -= g


@define
class AliasingMomentum(ForgetfulMomentum):
    """Saves its state, but load_state_dict keeps the caller's arrays and the state
    is stored as references to the gradient buffers npframe reuses."""

    def step(self, params, grads):
        if not self._velocity:
            self._velocity = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self._velocity, strict=True):
            v *= self.momentum
            v -= self.learning_rate * g
            p += v

    def state_dict(self):
        return {f"v.{i}": v for i, v in enumerate(self._velocity)}

    def load_state_dict(self, state):
        self._velocity = [np.zeros_like(state[k]) for k in sorted(state)]  # drops the values


def test_state_dict_that_does_not_round_trip_is_caught():
    with pytest.raises(AssertionError) as info:
        check_optimizer(ForgetfulMomentum())
    msg = str(info.value)
    assert "state_dict does not round-trip: after 7 steps" in msg
    assert "params[0] differ by up to" in msg and "at index (" in msg
    assert "Keys saved: none" in msg


# -- metrics, schedules, datasets ---------------------------------------------------------
@frozen
class R2WrongDirection(Metric):
    greater_is_better = False  # R^2: higher is better

    def __call__(self, y_true, y_pred):
        resid = np.sum((y_true - y_pred) ** 2)
        total = np.sum((y_true - y_true.mean(axis=0)) ** 2)
        return float(1 - resid / total)


@frozen
class ArrayMetric(Metric):
    def __call__(self, y_true, y_pred):
        return np.abs(y_true - y_pred).mean(axis=0)


@define
class CountingSchedule(Schedule):
    _calls: int = field(default=0, init=False)

    def __call__(self, epoch):
        self._calls += 1
        return 1.0 / self._calls


@frozen
class NegativeSchedule(Schedule):
    def __call__(self, epoch):
        return 1.0 - epoch / 10


def test_dataset_problems_are_caught():
    X, y = np.zeros((4, 2)), np.zeros((4, 1))
    check_dataset(Dataset(X=X, y=y))
    with pytest.raises(AssertionError, match="X_test and y_test must be given together"):
        check_dataset(Dataset(X=X, y=y, X_test=X))
    with pytest.raises(AssertionError, match=r"y must be \(4,\) or \(4, n_outputs\), got \(3, 1\)"):
        check_dataset(Dataset(X=X, y=y[:3]))
    with pytest.raises(AssertionError, match=r"3 feature_names for 2 features"):
        check_dataset(Dataset(X=X, y=y, feature_names=("a", "b", "c")))


# -- dispatch, the registry helpers and the pytest plugin --------------------------------
def test_check_component_dispatches_by_base_class():
    check_component(HandWrittenScale())
    with pytest.raises(AssertionError, match=r"NaiveSoftplus"):
        check_component(NaiveSoftplus())
    with pytest.raises(AssertionError, match=r"builtins\.str is not an npframe component"):
        check_component("relu")


def test_check_registered_checks_the_factory_accepts_the_components_parameters():
    registry = Registry(load_plugins=False)

    def make_scale(factor: float = 2.0) -> HandWrittenScale:  # spec says factor, object scale
        return HandWrittenScale(scale=factor)

    registry.register("activation", "scale", make_scale, owner="npframe-test")
    with pytest.raises(AssertionError,
                       match=r"activation 'scale' \(registered by npframe-test\): the parameters "
                             r"it reports, \{'scale': 2\.0\}, do not rebuild it"):
        check_registered("activation", "scale", registry=registry)


def test_check_registered_catches_nondeterministic_datasets():
    registry = Registry(load_plugins=False)
    draws = iter(range(10))

    def drifting() -> Dataset:
        return Dataset(X=np.full((3, 1), float(next(draws))), y=np.zeros((3, 1)))

    registry.register("dataset", "drifting", drifting, owner="npframe-test")
    with pytest.raises(AssertionError, match=r"dataset 'drifting' .* is not deterministic"):
        check_registered("dataset", "drifting", registry=registry)


def test_components_of_fails_loudly_on_an_unknown_distribution():
    with pytest.raises(LookupError, match=r"no components registered by distribution "
                                          r"'npframe-exampel'; components come from: npframe"):
        components_of("npframe-exampel", registry=_builtins)


def test_components_of_rejects_params_for_components_it_does_not_have():
    with pytest.raises(LookupError, match=r"params given for schedule:cosin, which it does not "
                                          r"register"):
        components_of("npframe", params={"schedule:cosin": {}}, registry=_builtins)


def test_components_of_normalizes_names_and_filters_kinds():
    params = components_of("NPFRAME", kinds=["optimizer"], registry=_builtins)
    assert {p.id for p in params} >= {"optimizer:sgd", "optimizer:adam"}
    assert all(p.values[0] == "optimizer" and p.values[2] == {} for p in params)


def test_pytest_plugin_fixtures_are_available(npframe_registry, npframe_rng):
    # Requested without importing anything: the pytest11 entry point provides them.
    assert isinstance(npframe_registry, Registry)
    assert npframe_registry is not npframe.registry.default_registry()
    assert npframe_registry.entry("activation", "relu").owner == "npframe"
    assert isinstance(npframe_rng, np.random.Generator)


def test_npframe_rng_is_seeded(npframe_rng):
    assert npframe_rng.random() == np.random.default_rng(20240607).random()


# Every deliberately broken component above, the check that must reject it, and what
# its message must say: one row per defect, a catalogue of what the kit catches.
BROKEN_COMPONENTS = [
    pytest.param(
        lambda: check_activation(DiagonalSoftmax()),
        r"backward.*disagrees with central finite",
        id="row_wise_activation_is_checked_through_its_full_jacobian",
    ),
    pytest.param(
        lambda: check_activation(UpcastingHalf()),
        r"UpcastingHalf\(\)\.forward on float32 .* returned float64 for "
        r"float32 input .*Python floats",
        id="float64_upcast_is_caught",
    ),
    pytest.param(
        lambda: check_activation(MutatingReLU()),
        r"MutatingReLU\(\)\.forward on float64 z of shape \(1, 1\) wrote into one of its "
        r"inputs \(at tests/test_testing_kit\.py:\d+: np\.maximum\(z, 0, out=z\)\): NumPy "
        r"refused \(output array is read-only\)",
        id="mutating_input_is_caught",
    ),
    pytest.param(
        lambda: check_activation(NaiveSoftplus()),
        r"NaiveSoftplus\(\)\.forward on float64 z with \|z\| up to 1000 "
        r"warned: RuntimeWarning: overflow encountered in exp",
        id="overflow_warning_at_large_magnitude_is_caught",
    ),
    pytest.param(
        lambda: check_activation(ShrinkingBackward()),
        r"backward on .* returned shape \(1,\), expected",
        id="wrong_output_shape_is_caught",
    ),
    pytest.param(
        lambda: check_activation(DoublingParam(alpha=1.0)),
        r"parameters do not survive a spec round trip: built from "
        r"\{'alpha': 2\.0\}, the new instance reports \{'alpha': 4\.0\}",
        id="parameters_that_do_not_round_trip_are_caught",
    ),
    pytest.param(
        lambda: check_activation(ForgetfulScale()),
        r"parameter 'scale' of __init__ is not kept as an "
        r"attribute \(self\.scale or self\._scale\)",
        id="parameter_not_kept_as_attribute_is_caught",
    ),
    pytest.param(
        lambda: check_activation(NumpyScalarParam()),
        r"parameter 'alpha' is numpy\.float32 .*plain "
        r"Python numbers",
        id="numpy_scalar_parameter_is_caught",
    ),
    pytest.param(
        lambda: check_activation(HandWrittenScale),
        r"an activation must be an instance of "
        r"npframe\.Activation \(got the class .*"
        r"HandWrittenScale; pass an instance, e\.g\. "
        r"HandWrittenScale\(\)\)",
        id="a_class_instead_of_an_instance_is_explained",
    ),
    pytest.param(
        lambda: check_loss(ArrayValuedLoss(), domain="real"),
        r"ArrayValuedLoss\(\)\.value .*returned ndarray",
        id="loss_returning_an_array_is_caught",
    ),
    pytest.param(
        lambda: check_loss(InconsistentPair()),
        r"value_and_gradient on .* disagrees with "
        r"gradient\(\): max abs difference",
        id="value_and_gradient_must_agree_with_gradient",
    ),
    pytest.param(
        lambda: check_loss(NaiveLogCosh()),
        r"value on float64 data with \|y_pred\| up to 1000 "
        r"warned: RuntimeWarning: overflow encountered in cosh \(at tests/test_testing_kit\.py",
        id="loss_overflow_is_caught",
    ),
    pytest.param(
        lambda: check_loss(ClippingMSE()),
        r"ClippingMSE\(\)\.gradient on .* wrote into one of its inputs \(at "
        r"tests/test_testing_kit\.py:\d+: np\.clip\(y_pred, -1\.0, 1\.0, out=y_pred\)\)",
        id="loss_mutating_predictions_is_caught",
    ),
    pytest.param(
        lambda: check_initializer(FreshEntropy()),
        r"FreshEntropy\(\)\(shape=\(3, 3\), rng\) is not "
        r"deterministic: .*max abs difference",
        id="nondeterministic_initializer_is_caught",
    ),
    pytest.param(
        lambda: check_initializer(GlobalNumpyState()),
        r"changed NumPy's global random state",
        id="initializer_using_global_numpy_state_is_caught",
    ),
    pytest.param(
        lambda: check_initializer(GlobalPythonRandom()),
        r"changed the state of Python's global random",
        id="initializer_using_python_random_is_caught",
    ),
    pytest.param(
        lambda: check_initializer(Transposed()),
        r"returned shape \(2, 7\); expected \(7, 2\)",
        id="initializer_wrong_shape_is_caught",
    ),
    pytest.param(
        lambda: check_initializer(IntegerWeights()),
        r"returned dtype int64; weights must be floating",
        id="integer_weights_are_caught",
    ),
    pytest.param(
        lambda: check_optimizer(NoisySGD()),
        r"NoisySGD\(learning_rate=0\.01\)\.step changed "
        r"NumPy's global random state",
        id="optimizer_using_global_random_state_is_caught",
    ),
    pytest.param(
        lambda: check_optimizer(AliasingMomentum()),
        r"state_dict does not round-trip.*Keys saved: "
        r"\['v\.0', 'v\.1', 'v\.2'\]",
        id="state_dict_dropping_values_on_load_is_caught",
    ),
    pytest.param(
        lambda: check_optimizer(ScalarStateMomentum()),
        r"state_dict\(\)\['steps'\] is int; state must be "
        r"plain numeric numpy arrays",
        id="state_dict_with_non_arrays_is_caught",
    ),
    pytest.param(
        lambda: check_optimizer(RebindingSGD()),
        r"replaced arrays in the params list",
        id="optimizer_not_updating_in_place_is_caught",
    ),
    pytest.param(
        lambda: check_optimizer(AscendingSGD()),
        r"300 steps on the convex quadratic .* took it from [\d.]+ to "
        r"[\d.e+]+; an optimizer must decrease it",
        id="optimizer_that_ascends_is_caught",
    ),
    pytest.param(
        lambda: check_optimizer(GradScalingSGD()),
        r"\.step mutated its input 'grads\[0\]'",
        id="optimizer_mutating_gradients_is_caught",
    ),
    pytest.param(
        lambda: check_metric(R2WrongDirection()),
        r"a perfect prediction scored 1\.0 but a noisy one -\d\.\d{12,} "
        r".*Is greater_is_better right\?",
        id="metric_with_wrong_direction_is_caught",
    ),
    pytest.param(
        lambda: check_metric(ArrayMetric(), domain="real"),
        r"returned ndarray .* not a single real number",
        id="metric_returning_an_array_is_caught",
    ),
    pytest.param(
        lambda: check_schedule(CountingSchedule()),
        r"not a pure function of the epoch",
        id="stateful_schedule_is_caught",
    ),
    pytest.param(
        lambda: check_schedule(NegativeSchedule()),
        r"NegativeSchedule\(\)\(11\) returned -0\.1",
        id="negative_schedule_is_caught",
    ),
    pytest.param(
        lambda: check_registered("schedule", "cosine", registry=_builtins),
        r"schedule 'cosine' \(registered by npframe [\d.]+\) cannot be "
        r"built from the spec \{ name = 'cosine' \}: schedule\.epochs: required "
        r"parameter of 'cosine' is missing.*params=",
        id="check_registered_asks_for_required_parameters",
    ),
    pytest.param(
        lambda: check_registered("activation", "rleu", registry=_builtins),
        r"unknown activation 'rleu'; did you mean 'relu'",
        id="check_registered_reports_an_unknown_name_as_a_failure",
    ),
]


@pytest.mark.parametrize(("run_check", "message"), BROKEN_COMPONENTS)
def test_broken_component_is_caught(run_check, message):
    with pytest.raises(AssertionError, match=message):
        run_check()


# -- the fast path: every in-place variant the training loop calls agrees with the plain one
@frozen
class TanhTwice(Activation):
    """forward_into writes the formula a second time, as 2 sigmoid(2z) - 1: equal on paper,
    not in floating point, so training would see another activation than evaluate."""

    def forward(self, z):
        return np.tanh(z)

    def backward(self, z, a, grad_a):
        return grad_a * (1 - a * a)

    def forward_into(self, z, out):
        np.multiply(z, -2.0, out=out)
        np.exp(out, out=out)
        out += 1.0
        np.divide(2.0, out, out=out)
        out -= 1.0
        return out


@frozen
class TanhFalselyInPlace(Activation):
    """Promises in_place, but its backward_into takes its derivative from z: right when
    given z, wrong when the activation stands in for z (as a dense layer does)."""

    in_place = True

    def forward(self, z):
        return np.tanh(z)

    def backward(self, z, a, grad_a):
        return grad_a * (1 - a * a)

    def forward_into(self, z, out):
        return np.tanh(z, out=out)

    def backward_into(self, z, a, grad_a, out):
        t = np.tanh(z)
        return np.multiply(grad_a, 1 - t * t, out=out)


@frozen
class PlainMSE(Loss):
    def value(self, y_true, y_pred):
        return float(np.mean((y_pred - y_true) ** 2))

    def gradient(self, y_true, y_pred):
        return 2.0 * (y_pred - y_true) / y_pred.size


@frozen
class MSEWithFastGradientBug(PlainMSE):
    def value_and_gradient_into(self, y_true, y_pred, out):
        np.subtract(y_pred, y_true, out=out)
        value = float(np.mean(out * out))
        out *= 2.0  # forgot the mean's 1 / size
        return value


@frozen
class MSEWithFastValueBug(PlainMSE):
    def value_and_gradient_into(self, y_true, y_pred, out):
        np.copyto(out, self.gradient(y_true, y_pred))
        return float(np.sum((y_pred - y_true) ** 2))  # a sum, where value() is a mean


@frozen
class MSEPairRoundedDifferently(PlainMSE):
    """value_and_gradient writes the gradient again, rounded differently from gradient()."""

    def value_and_gradient(self, y_true, y_pred):
        return self.value(y_true, y_pred), (y_pred - y_true) * (2.0 / y_pred.size)


@frozen
class SummedSampleLosses(PlainMSE):
    def sample_losses(self, y_true, y_pred):
        return np.sum((y_pred - y_true) ** 2, axis=1, dtype=np.float64)  # not the mean


@frozen
class SoftmaxOverTheBatch(Loss):
    """Cross-entropy on logits whose probabilities normalize over the samples (axis 0)."""

    classification = True

    def _p(self, z):
        e = np.exp(z - z.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)

    def value(self, y_true, y_pred):
        shifted = y_pred - y_pred.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return float(-np.sum(y_true * log_p) / y_pred.shape[0])

    def gradient(self, y_true, y_pred):
        e = np.exp(y_pred - y_pred.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        return (p * y_true.sum(axis=1, keepdims=True) - y_true) / y_pred.shape[0]

    def probabilities(self, y_pred):
        return self._p(y_pred)


@define
class SGDCachingItsRate(Optimizer):
    """step_flat keeps the learning rate of its first call: a schedule cannot change it."""

    learning_rate: float = field(default=0.01, converter=float)
    _rate: float | None = field(default=None, init=False, repr=False)

    def step(self, params, grads):
        for p, g in zip(params, grads, strict=True):
            p -= self.learning_rate * g

    def step_flat(self, params, grads, flat_params, flat_grads):
        if self._rate is None:
            self._rate = self.learning_rate
        np.multiply(flat_grads, self._rate, out=flat_grads)
        np.subtract(flat_params, flat_grads, out=flat_params)


@define(eq=False)
class StaleScale(Layer):
    """``y = x * scale``; its bound backward uses the first batch's input forever."""

    def output_size(self, input_size):
        return input_size

    def parameter_shapes(self, input_size):
        return {"scale": (input_size,)}

    def initialize(self, params, rng, initializer):
        params["scale"][...] = 1.5

    def forward(self, x, params, *, training, rng=None):
        return x * params["scale"], x

    def backward(self, grad_y, cache, params, grads):
        grads["scale"][...] = np.sum(grad_y * cache, axis=0)
        return grad_y * params["scale"]

    def bind(self, params, grads, context):
        first = []

        def forward(x):
            if not first:
                first.append(x.copy())
            return x * params["scale"]

        def backward(x, y, grad_y):
            grads["scale"][...] = np.sum(grad_y * first[0], axis=0)
            return grad_y * params["scale"]

        return forward, backward


@define(eq=False)
class ScaleInPlace(StaleScale):
    """Scales its input in place."""

    def forward(self, x, params, *, training, rng=None):
        x *= params["scale"]
        return x, x


@frozen
class WarmupFromFirstCall(Schedule):
    """Warms up over 10 steps from the first step it is asked about: a resumed run
    would warm up all over again."""

    per_step = True
    _start: list = field(factory=list, init=False, repr=False, eq=False)

    def __call__(self, epoch):
        return 1.0

    def at(self, epoch, step, plan):
        if not self._start:
            self._start.append(step)
        return min(1.0, (step - self._start[0] + 1) / 10)


FAST_PATH_DISAGREEMENTS = [
    pytest.param(
        lambda: check_activation(TanhTwice()),
        r"TanhTwice\(\)\.forward_into\(z, out\) disagrees with forward on float64 z of shape "
        r"\(1, 1\) in samples x features \(C order\): 1 of 1 entries differ, the first at "
        r"index \(0, 0\) \(forward_into 0\.4525877734163992, forward 0\.4525877734163991\); "
        r"largest difference 1\.1102230246251565e-16\. The training loop calls forward_into",
        id="activation_forward_into",
    ),
    pytest.param(
        lambda: check_activation(TanhFalselyInPlace()),
        r"TanhFalselyInPlace\(\)\.backward_into\(a, a, grad_a, grad_a\) \(the in-place form "
        r"in_place = True promises\) disagrees with backward on float64 z of shape \(1, 1\) "
        r"in samples x features \(C order\)",
        id="activation_in_place_form",
    ),
    pytest.param(
        lambda: check_loss(MSEWithFastGradientBug()),
        r"MSEWithFastGradientBug\(\)\.value_and_gradient_into\(y_true, y_pred, out\) on "
        r"float64 real data of shape \(5, 1\) in samples x outputs \(C order\) wrote a "
        r"gradient that is not bit-identical to gradient\(\): 5 of 5 entries differ",
        id="loss_gradient_into",
    ),
    pytest.param(
        lambda: check_loss(MSEWithFastValueBug()),
        r"value_and_gradient_into\(y_true, y_pred, out\) on float64 real data of shape \(5, 1\) "
        r"in samples x outputs \(C order\) returned [\d.]+, but value\(\) gives [\d.]+; the "
        r"training loop's loss must be exactly the one evaluate\(\) reports",
        id="loss_value_into",
    ),
    pytest.param(
        lambda: check_loss(MSEPairRoundedDifferently()),
        r"value_and_gradient_into\(y_true, y_pred, out\) on .* \(npframe's default "
        r"value_and_gradient_into, which calls value_and_gradient: that one disagrees\) wrote "
        r"a gradient that is not bit-identical to gradient\(\)",
        id="loss_pair_through_the_default_into",
    ),
    pytest.param(
        lambda: check_loss(SummedSampleLosses()),
        r"SummedSampleLosses\(\)\.sample_losses on float64 real data of shape \(6, 3\): their "
        r"mean is [\d.]+ but value\(\) is [\d.]+",
        id="loss_sample_losses",
    ),
    pytest.param(
        lambda: check_loss(SoftmaxOverTheBatch(), domain="real"),
        r"SoftmaxOverTheBatch\(\)\.probabilities on float64 real data of shape \(5, 1\): row 0 "
        r"differs when computed alone; .*a softmax over axis 0\?",
        id="loss_probabilities",
    ),
    pytest.param(
        lambda: check_optimizer(SGDCachingItsRate()),
        r"SGDCachingItsRate\(learning_rate=0\.01\)\.step_flat \(step 7, float64\) disagrees "
        r"with step on params\[0\]: 12 of 12 entries differ.* The training loop calls "
        r"step_flat: it must update exactly as step does, bit for bit",
        id="optimizer_step_flat",
    ),
    pytest.param(
        lambda: check_layer(StaleScale()),
        r"StaleScale\(\)\.bind \(samples x features\), step 2: the gradient of 'scale' differs "
        r"from forward/backward's \(bit for bit\): 5 of 5 entries differ",
        id="layer_bind",
    ),
    pytest.param(
        lambda: check_schedule(WarmupFromFirstCall()),
        r"WarmupFromFirstCall\(\): a run resumed at epoch 4, step 20 \(the schedule rebuilt "
        r"from its parameters, as load does\) gets 0\.1 from WarmupFromFirstCall\(\)\.at\("
        r"epoch=4, step=20, plan=TrainingPlan\(epochs=12, steps_per_epoch=5\)\), the "
        r"uninterrupted run 1\.0",
        id="schedule_at",
    ),
]


@pytest.mark.parametrize(("run_check", "message"), FAST_PATH_DISAGREEMENTS)
def test_a_fast_path_that_disagrees_with_the_plain_method_fails(run_check, message):
    with pytest.raises(AssertionError, match=message):
        run_check()


@define(eq=False)
class GaussianNoise(Layer):
    """Adds N(0, 1) noise in training; says so (draws_noise defaults to True)."""

    def output_size(self, input_size):
        return input_size

    def forward(self, x, params, *, training, rng=None):
        return (x + rng.normal(size=x.shape).astype(x.dtype) if training else x.copy()), None

    def backward(self, grad_y, cache, params, grads):
        return grad_y.copy()


@define(eq=False)
class NoisyButSaysQuiet(GaussianNoise):
    """The same, claiming it draws nothing: the loop would not record its stream."""

    draws_noise = False


def test_a_layer_that_draws_noise_while_saying_it_does_not_fails():
    with pytest.raises(AssertionError, match=r"NoisyButSaysQuiet\(\) sets draws_noise = "
                       r"False, but forward\(training=True\) drew from its rng"):
        check_layer(NoisyButSaysQuiet())
    check_layer(GaussianNoise())  # the honest declaration passes


def test_a_correct_in_place_layer_and_activation_pass():
    check_activation(npframe.registry.create("activation", "relu"))  # in_place, own buffers
    check_layer(build_layer({"type": "dense", "units": 3, "activation": "relu"}))


# -- what the read-only and boundary inputs catch that the old kit did not -----------------
@frozen
class BCEClippingInPlace(Loss):
    """Clips y_pred into [1e-7, 1 - 1e-7] in place: on the kit's old data, 1e-6 away from
    0 and 1, that wrote the same values back and went unnoticed."""

    classification = True
    prediction_domain = "probability"

    def _clip(self, y_pred):
        return np.clip(y_pred, 1e-7, 1 - 1e-7, out=y_pred)

    def value(self, y_true, y_pred):
        p = self._clip(y_pred)
        return float(-np.mean(y_true * np.log(p) + (1 - y_true) * np.log1p(-p)))

    def gradient(self, y_true, y_pred):
        p = self._clip(y_pred)
        return (p - y_true) / (p * (1 - p)) / y_pred.size


@frozen
class UnclippedBCE(Loss):
    classification = True
    prediction_domain = "probability"

    def value(self, y_true, y_pred):
        return float(-np.mean(y_true * np.log(y_pred) + (1 - y_true) * np.log1p(-y_pred)))

    def gradient(self, y_true, y_pred):
        return (y_pred - y_true) / (y_pred * (1 - y_pred)) / y_pred.size


@frozen
class RelativeError(Loss):
    """mean(((y_pred - y_true) / y_true)**2): undefined for a target of exactly 0."""

    def value(self, y_true, y_pred):
        return float(np.mean(((y_pred - y_true) / y_true) ** 2))

    def gradient(self, y_true, y_pred):
        return 2.0 * (y_pred - y_true) / (y_true * y_true) / y_pred.size


@frozen
class SignActivation(Activation):
    """z / |z| smoothed nowhere: 0 / 0 at exactly 0."""

    def forward(self, z):
        return z / np.abs(z)

    def backward(self, z, a, grad_a):
        return grad_a * 0.0


@define
class NormalizedSGD(Optimizer):
    """p -= lr * g / |g|: undefined at a gradient of exactly zero."""

    learning_rate: float = field(default=0.01, converter=float)

    def step(self, params, grads):
        norm = np.sqrt(sum(float(np.sum(g * g)) for g in grads))
        for p, g in zip(params, grads, strict=True):
            p -= self.learning_rate * (g / np.asarray(norm, p.dtype))


@define
class NudgingSGD(Optimizer):
    """Moves every gradient entry by one ulp in place: a change that printing values at 6
    digits hid ("from 0.418371 to 0.418371")."""

    learning_rate: float = field(default=0.01, converter=float)

    def step(self, params, grads):
        for p, g in zip(params, grads, strict=True):
            np.nextafter(g, np.inf, out=g)
            p -= self.learning_rate * g


READ_ONLY_AND_BOUNDARIES = [
    pytest.param(
        lambda: check_loss(BCEClippingInPlace()),
        r"BCEClippingInPlace\(\)\.value on float64 probability data of shape \(1, 1\) wrote into "
        r"one of its inputs \(at tests/test_testing_kit\.py:\d+: return np\.clip\(y_pred, 1e-7, "
        r"1 - 1e-7, out=y_pred\)\)",
        id="in_place_write_that_leaves_values_unchanged",
    ),
    pytest.param(
        lambda: check_loss(UnclippedBCE()),
        r"UnclippedBCE\(\)\.value on float64 probabilities of exactly 0 and 1, some "
        r"confidently wrong warned: RuntimeWarning: divide by zero encountered in log \(at "
        r"tests/test_testing_kit\.py:\d+: return float\(-np\.mean",
        id="exact_0_and_1_probabilities",
    ),
    pytest.param(
        lambda: check_loss(RelativeError()),
        r"RelativeError\(\)\.value on float64 data with \|y_pred\| up to 1000 warned: "
        r"RuntimeWarning: divide by zero encountered in divide",
        id="loss_at_targets_of_exactly_zero",
    ),
    pytest.param(
        lambda: check_activation(SignActivation()),
        r"SignActivation\(\)\.forward on float64 z of exact zeros \(\+0\.0 and -0\.0\) warned: "
        r"RuntimeWarning: invalid value encountered in divide",
        id="activation_at_exact_zeros",
    ),
    pytest.param(
        lambda: check_optimizer(NormalizedSGD()),
        r"NormalizedSGD\(learning_rate=0\.01\)\.step with gradients of exactly zero \(float64\) "
        r"warned: RuntimeWarning: invalid value encountered in divide",
        id="optimizer_at_zero_gradients",
    ),
    pytest.param(
        lambda: check_layer(ScaleInPlace()),
        r"ScaleInPlace\(\)\.forward\(training=True\) on float64 x of shape \(6, 5\) wrote into "
        r"one of its inputs \(at tests/test_testing_kit\.py:\d+: x \*= params\[\"scale\"\]\)",
        id="layer_writing_its_input",
    ),
]


@pytest.mark.parametrize(("run_check", "message"), READ_ONLY_AND_BOUNDARIES)
def test_read_only_and_boundary_inputs_catch(run_check, message):
    with pytest.raises(AssertionError, match=message):
        run_check()


def test_changed_values_are_printed_at_full_precision():
    with pytest.raises(AssertionError) as info:
        check_optimizer(NudgingSGD())
    found = re.search(r"mutated its input 'grads\[0\]': 12 entries changed, first at index "
                      r"\(0, 0\) from (\S+) to (\S+);", str(info.value))
    assert found, str(info.value)
    before, after = (float(v) for v in found.groups())
    assert after == np.nextafter(before, np.inf), "the two values must read back exactly"


# -- a failure reads as one message, without the kit's frames -----------------------------
FAILING_TEST = '''
import numpy as np
from attrs import frozen
from npframe import Activation
from npframe.testing import check_activation


@frozen
class TanhWrongGradient(Activation):
    def forward(self, z):
        return np.tanh(z)

    def backward(self, z, a, grad_a):
        return grad_a * (1 - a)


def test_it():
    check_activation(TanhWrongGradient())
'''


def run_pytest(folder, *args, env=None):
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=folder, capture_output=True, text=True, timeout=300, check=False,
                          env=env)


def test_a_failure_prints_one_message_and_none_of_the_kits_frames(tmp_path):
    (tmp_path / "test_broken.py").write_text(FAILING_TEST, encoding="utf-8")
    result = run_pytest(tmp_path, "-q", "test_broken.py")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert [line for line in out.splitlines() if line.startswith("E ")] == [
        next(line for line in out.splitlines() if "AssertionError: TanhWrongGradient()" in line)]
    assert "direct cause" not in out and "During handling" not in out
    assert "npframe/testing" not in out and "_npframe_pytestplugin" not in out
    assert len(out.splitlines()) <= 20, out  # was 65 lines with the kit's frames shown


# -- the pytest plugin: cheap to import, isolating when asked ----------------------------
def test_the_pytest_plugin_imports_nothing_of_npframe(tmp_path):
    (tmp_path / "test_nothing.py").write_text("def test_it():\n    pass\n", encoding="utf-8")
    code = (
        "import sys, pytest\n"
        "assert pytest.main(['--co', '-q', '-p', 'no:cacheprovider', sys.argv[1]]) == 0\n"
        "assert '_npframe_pytestplugin' in sys.modules, 'the entry point was not loaded'\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('npframe', "
        "'npframe_builtins', 'numpy'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                            text=True, timeout=120, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_importing_the_kit_loads_no_plugins():
    code = (
        "import sys, npframe.testing, npframe.registry as r\n"
        "assert r._default is None, 'the default registry was created'\n"
        "assert 'npframe_builtins' not in sys.modules, 'plugins were imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_isolated_registry_loads_the_builtins_and_nothing_else():
    registry = isolated_registry("npframe")
    assert {e.owner for e in registry.entries()} == {"npframe"}
    assert registry.entry("activation", "relu").owner == "npframe"
    with pytest.raises(LookupError, match=r"no installed distribution 'npframe-exampel' "
                                          r"declares npframe plugins \(installed: npframe"):
        isolated_registry("npframe-exampel")


def test_isolated_registry_refuses_what_npframe_plugins_leaves_out(monkeypatch):
    monkeypatch.setenv("NPFRAME_PLUGINS", "-npframe-good")
    sources = [PluginSource("npframe-good", "1.0", "good", "good_plugin", entry_point=None)]
    monkeypatch.setattr("npframe.testing._registered.discover", lambda: sources)
    with pytest.raises(LookupError, match=r"NPFRAME_PLUGINS='-npframe-good' leaves out "
                                          r"'npframe-good', which was asked for"):
        isolated_registry("npframe-good")


@pytest.mark.npframe_distribution("npframe")
def test_the_marker_chooses_what_npframe_registry_loads(npframe_registry):
    assert npframe_registry.skipped() == []
    assert {s.distribution for s in npframe_registry.sources()} == {"npframe"}


GOOD_PLUGIN = '''
import numpy as np
from attrs import frozen

import npframe


@frozen
class Cube(npframe.Activation):
    def forward(self, z):
        return z * z * z

    def backward(self, z, a, grad_a):
        return grad_a * (3.0 * z * z)


@npframe.hookimpl
def npframe_register(registry):
    registry.register("activation", "cube", Cube)
'''

AUTHOR_TESTS = '''
import pytest

import npframe
from npframe.testing import check_registered, components_of


def test_registered(npframe_registry):
    assert npframe_registry.entry("activation", "cube").owner == "npframe-good"


@pytest.mark.parametrize(("kind", "name", "params"), components_of("npframe-good"))
def test_kit(kind, name, params):
    assert name == "npframe-good:cube"
    check_registered(kind, name, params=params)


def test_a_network_uses_it():
    spec = {"input": 1, "layers": [{"units": 1, "activation": "cube"}]}
    assert npframe.Network.from_spec(spec).predict([[1.0]]).shape == (1, 1)
'''


def fake_distribution(site, name, module, code):
    """A distribution installed by hand: its package and a dist-info with the entry point."""
    (site / module).mkdir(parents=True)
    (site / module / "__init__.py").write_text(code, encoding="utf-8")
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
                                   encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[npframe]\n{module} = {module}\n", encoding="utf-8")


@pytest.mark.parametrize("isolated", [True, False], ids=["with_the_ini_option", "without"])
def test_a_broken_plugin_elsewhere_cannot_break_an_isolated_session(tmp_path, isolated):
    site = tmp_path / "site"
    fake_distribution(site, "npframe-good", "good_plugin", GOOD_PLUGIN)
    fake_distribution(site, "npframe-broken", "broken_plugin",
                      "raise ImportError('broken on purpose')\n")
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    option = 'npframe_distribution = "npframe-good"\n' if isolated else ""
    (project / "pyproject.toml").write_text(
        f'[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n{option}', encoding="utf-8")
    (project / "tests" / "test_good.py").write_text(AUTHOR_TESTS, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("NPFRAME_PLUGINS", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = str(site)
    result = run_pytest(project, "-q", env=env)
    if isolated:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "3 passed" in result.stdout
    else:  # the proof that the option matters: the same tests fail without it
        assert result.returncode != 0
        assert "npframe-broken 1.0) failed to load: ImportError: broken on purpose" in (
            result.stdout + result.stderr)


@pytest.mark.slow
def test_npframes_wheel_ships_the_pytest_plugin_and_its_entry_point(tmp_path):
    """The plugin module lives outside the npframe package: the wheel must still hold it."""
    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
           "--no-index", "--no-cache-dir", "--disable-pip-version-check", "--quiet",
           "--wheel-dir", str(tmp_path), str(root)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = tmp_path.glob("npframe-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt")))
    assert "_npframe_pytestplugin.py" in names
    assert "npframe/testing/__init__.py" in names
    assert "[pytest11]\nnpframe = _npframe_pytestplugin" in entry_points.decode()
