"""npframe.testing: every built-in passes the kit, and the kit catches what it promises.

The broken components below each carry exactly one defect; each test asserts the kit
fails it with a message that says what is wrong, where and by how much.
"""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest
from attrs import define, field, frozen

import npframe
from npframe import Activation, Initializer, Loss, Metric, Optimizer, Schedule
from npframe.dataset import Dataset
from npframe.registry import Registry
from npframe.testing import (
    check_activation,
    check_component,
    check_dataset,
    check_initializer,
    check_loss,
    check_metric,
    check_optimizer,
    check_registered,
    check_schedule,
    components_of,
)

#: Spec parameters for built-ins that need some (the kit cannot guess them).
REQUIRED_PARAMS = {
    "layer:dense": {"units": 3, "activation": "tanh"},
    "layer:dropout": {"rate": 0.3},
    "schedule:cosine": {"epochs": 50},
    "schedule:exponential": {"gamma": 0.9},
    "schedule:step": {"step_size": 3},
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
    """Binary cross-entropy without clipping: only defined on probabilities."""

    def value(self, y_true, y_pred):
        return float(-np.mean(y_true * np.log(y_pred) + (1 - y_true) * np.log1p(-y_pred)))

    def gradient(self, y_true, y_pred):
        return (y_pred - y_true) / (y_pred * (1 - y_pred)) / y_pred.size


def test_loss_gradient_off_by_a_factor_is_caught():
    with pytest.raises(AssertionError) as info:
        check_loss(SumGradientMSE())
    msg = str(info.value)
    assert "gradient(y_true, y_pred) on real data disagrees with central finite differences" in msg
    assert "max abs error" in msg and "y_pred=" in msg and "max relative error" in msg


def test_probability_loss_is_checked_on_probabilities_automatically():
    check_loss(ProbabilityLoss())  # real data gives log of negatives, so probabilities it is
    with pytest.raises(AssertionError,
                       match=r"warned: RuntimeWarning: invalid value encountered in log"):
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


def test_importing_the_pytest_plugin_loads_no_plugins():
    code = (
        "import sys, npframe.testing, npframe.registry as r\n"
        "assert r._default is None, 'the default registry was created'\n"
        "assert 'npframe_builtins' not in sys.modules, 'plugins were imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr


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
        r"MutatingReLU\(\)\.forward .* mutated its input 'z': \d+ entries "
        r"changed, first at index \(\d+, \d+\) from -",
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
        r"value on float64 data with \|y_pred\| up to 1e3 "
        r"warned: RuntimeWarning: overflow",
        id="loss_overflow_is_caught",
    ),
    pytest.param(
        lambda: check_loss(ClippingMSE()),
        r"gradient on .* mutated its input 'y_pred'",
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
        r"\['v\.0', 'v\.1'\]",
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
        r"a perfect prediction scored 1 but a noisy one "
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
