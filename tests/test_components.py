"""Every registered component, table-driven over ``registry.names(kind)``.

A component added by a built-in module or an installed plugin is picked up here
without editing this file: it gets the shape/dtype/mutation/overflow checks, a
central-difference gradient check (activations and losses), determinism and
statistics (initializers), convergence and exact resume (optimizers), and the
conformance kit of ``npframe.testing``. ``PARAMS`` supplies the spec parameters of
components that have required ones; ``VARIANTS`` adds configurations of built-ins
whose options change the arithmetic.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

import npframe
from npframe import testing
from npframe.errors import SpecError
from npframe.registry import default_registry

#: Required spec parameters, by (kind, name).
PARAMS = {
    ("schedule", "step"): {"step_size": 3},
    ("schedule", "exponential"): {"gamma": 0.9},
    ("schedule", "cosine"): {"epochs": 20},
    ("schedule", "warmup"): {"steps": 5},
}
#: Further configurations worth checking, by (kind, name).
VARIANTS = {
    ("activation", "gelu"): [{"approximate": "tanh"}],
    ("activation", "leaky_relu"): [{"alpha": 0.2}],
    ("activation", "elu"): [{"alpha": 0.5}],
    ("activation", "swish"): [{"beta": 1.7}],
    ("loss", "huber"): [{"delta": 0.3}],
    ("loss", "binary_crossentropy"): [{"from_logits": True}],
    ("loss", "categorical_crossentropy"): [{"from_logits": True}],
    ("initializer", "normal"): [{"std": 0.3, "mean": 1.5}],
    ("optimizer", "sgd"): [{"weight_decay": 0.1, "clip_norm": 0.5, "clip_value": 0.2}],
    ("optimizer", "momentum"): [{"nesterov": True}, {"dampening": 0.5, "weight_decay": 0.01}],
    ("optimizer", "adam"): [{"amsgrad": True, "weight_decay": 0.01, "clip_norm": 1.0}],
    ("optimizer", "adamw"): [{"amsgrad": True}],
    ("optimizer", "rmsprop"): [{"centered": True, "momentum": 0.5, "weight_decay": 0.01}],
    ("optimizer", "adagrad"): [{"lr_decay": 0.01, "initial_accumulator_value": 0.1}],
    ("metric", "accuracy"): [{"threshold": 0.0}],
    ("schedule", "cosine"): [{"epochs": 20, "warmup": 4, "min_factor": 0.1}],
    ("schedule", "linear"): [{"start_factor": 1.0, "end_factor": 0.0, "epochs": 10}],
}
#: Components with a known formula for their draws: (distribution, spread) with the
#: spread a function of (fan_in, fan_out); "normal" spread is the std, "uniform" the limit.
INITIALIZER_LAWS = {
    "he": ("normal", lambda i, o: math.sqrt(2 / i)),
    "he_uniform": ("uniform", lambda i, o: math.sqrt(6 / i)),
    "glorot": ("uniform", lambda i, o: math.sqrt(6 / (i + o))),
    "glorot_uniform": ("uniform", lambda i, o: math.sqrt(6 / (i + o))),
    "glorot_normal": ("normal", lambda i, o: math.sqrt(2 / (i + o))),
    "lecun": ("normal", lambda i, o: math.sqrt(1 / i)),
    "normal": ("normal", lambda i, o: 0.05),
}
DTYPES = [np.float64, np.float32]
RAISE = {"over": "raise", "divide": "raise", "invalid": "raise"}


def configurations(kind: str) -> list:
    """pytest params ``(name, params)`` for every registered ``kind`` and its variants."""
    out = []
    for name in default_registry().names(kind):
        base = PARAMS.get((kind, name), {})
        for params in [base, *VARIANTS.get((kind, name), [])]:
            label = name + "".join(f"-{k}={v}" for k, v in params.items() if k not in base)
            out.append(pytest.param(name, params, id=label))
    return out


def build(kind: str, name: str, params: dict):
    try:
        return default_registry().create(kind, {"name": name, **params})
    except SpecError as exc:
        pytest.skip(f"{kind} {name!r} needs parameters this table does not know: {exc}")


def central_differences(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d x elementwise, in float64."""
    grad = np.empty_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f(x)
        x[i] = old - eps
        down = f(x)
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


# -- every kind: the conformance kit ----------------------------------------------------
KIT_KINDS = ["activation", "loss", "initializer", "optimizer", "metric", "schedule"]


@pytest.mark.parametrize(
    ("kind", "name", "params"),
    [pytest.param(kind, *p.values, id=f"{kind}:{p.id}")
     for kind in KIT_KINDS for p in configurations(kind)],
)
def test_conformance_kit(kind, name, params):
    build(kind, name, params)
    testing.check_registered(kind, name, params=params)


def test_every_kind_has_builtins():
    for kind in [*KIT_KINDS, "dataset"]:
        owners = {e.owner for e in default_registry().entries(kind)}
        assert "npframe" in owners, kind


# -- activations ------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "params"), configurations("activation"))
@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_shapes_dtype_and_inputs(name, params, dtype, rng):
    act = build("activation", name, params)
    z = rng.standard_normal((7, 5)).astype(dtype)
    grad_a = rng.standard_normal((7, 5)).astype(dtype)
    z0, g0 = z.copy(), grad_a.copy()
    a = act.forward(z)
    a0 = a.copy()
    grad_z = act.backward(z, a, grad_a)
    for out in (a, grad_z):
        assert out.shape == z.shape
        assert out.dtype == dtype
        assert np.isfinite(out).all()
    np.testing.assert_array_equal(z, z0)
    np.testing.assert_array_equal(grad_a, g0)
    np.testing.assert_array_equal(a, a0)


@pytest.mark.parametrize(("name", "params"), configurations("activation"))
@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_quiet_and_finite_at_1e3(name, params, dtype):
    act = build("activation", name, params)
    z = np.array([[-1e3, 1e3, -1e3], [1e3, -1e3, 0.0], [-50.0, 50.0, 1e-3]], dtype=dtype)
    with np.errstate(**RAISE):
        a = act.forward(z)
        grad_z = act.backward(z, a, np.ones_like(z))
    assert a.dtype == grad_z.dtype == dtype
    assert np.isfinite(a).all() and np.isfinite(grad_z).all()


@pytest.mark.parametrize(("name", "params"), configurations("activation"))
def test_activation_gradient_matches_central_differences(name, params, rng):
    act = build("activation", name, params)
    z = rng.uniform(-3, 3, (6, 4))
    z = np.where(np.abs(z) < 0.1, 0.5, z)  # away from the kinks at 0
    weights = rng.standard_normal(z.shape)

    def objective(x):
        return float(np.sum(act.forward(x) * weights))

    numeric = central_differences(objective, z.copy())
    analytic = act.backward(z, act.forward(z), weights)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


# -- losses -----------------------------------------------------------------------------
def loss_data(loss, rng, shape=(6, 3), dtype=np.float64):
    """Targets and predictions in the loss's domain."""
    n, k = shape
    if getattr(loss, "prediction_domain", "real") == "probability":
        y_true = np.eye(k)[rng.integers(0, k, n)]
        logits = rng.uniform(-1.5, 1.5, shape)
        y_pred = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    else:
        y_true = rng.uniform(-2, 2, shape)
        offset = rng.uniform(0.05, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
        y_pred = y_true + offset  # away from |d| = 0 (mae) and |d| = delta (huber)
        if getattr(loss, "delta", None) is not None:
            close = np.abs(np.abs(offset) - loss.delta) < 0.05
            y_pred = np.where(close, y_pred + 0.2, y_pred)
    return y_true.astype(dtype), y_pred.astype(dtype)


@pytest.mark.parametrize(("name", "params"), configurations("loss"))
@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_shapes_dtype_and_inputs(name, params, dtype, rng):
    loss = build("loss", name, params)
    y_true, y_pred = loss_data(loss, rng, dtype=dtype)
    saved = y_true.copy(), y_pred.copy()
    value = loss.value(y_true, y_pred)
    grad = loss.gradient(y_true, y_pred)
    value2, grad2 = loss.value_and_gradient(y_true, y_pred)
    assert type(value) is float and math.isfinite(value)
    assert grad.shape == y_pred.shape and grad.dtype == dtype
    assert value2 == pytest.approx(value, rel=1e-6)
    np.testing.assert_allclose(grad2, grad, rtol=1e-6)
    np.testing.assert_array_equal(y_true, saved[0])
    np.testing.assert_array_equal(y_pred, saved[1])


@pytest.mark.parametrize(("name", "params"), configurations("loss"))
@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_quiet_and_finite_at_extremes(name, params, dtype):
    loss = build("loss", name, params)
    if getattr(loss, "prediction_domain", "real") == "probability":
        # saturated predictions, exactly 0 and 1 included: never log(0)
        y_true = np.eye(3, dtype=dtype)[[0, 1, 2]]
        y_pred = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1e-30, 1e-12, 1 - 1e-7]], dtype)
    else:
        y_pred = np.array([[1e3, -1e3, 0.0], [-1e3, 1e3, 1e3]], dtype=dtype)
        y_true = np.array([[-1e3, 1e3, 0.0], [0.0, 0.0, 1e3]], dtype=dtype)
    with np.errstate(**RAISE):
        value, grad = loss.value_and_gradient(y_true, y_pred)
        value2, grad2 = loss.value(y_true, y_pred), loss.gradient(y_true, y_pred)
    assert math.isfinite(value) and math.isfinite(value2)
    assert np.isfinite(grad).all() and np.isfinite(grad2).all() and grad.dtype == dtype


@pytest.mark.parametrize(("name", "params"), configurations("loss"))
def test_loss_gradient_matches_central_differences(name, params, rng):
    loss = build("loss", name, params)
    y_true, y_pred = loss_data(loss, rng)
    numeric = central_differences(lambda p: loss.value(y_true, p), y_pred.copy())
    np.testing.assert_allclose(loss.gradient(y_true, y_pred), numeric, rtol=1e-5, atol=1e-8)


# -- initializers -----------------------------------------------------------------------
@pytest.mark.parametrize(("name", "params"), configurations("initializer"))
def test_initializer_is_deterministic_and_shaped(name, params):
    init = build("initializer", name, params)
    first = init((5, 3), np.random.default_rng(7))
    again = init((5, 3), np.random.default_rng(7))
    assert first.shape == (5, 3) and np.isfinite(first).all()
    np.testing.assert_array_equal(first, again)
    other = init((5, 3), np.random.default_rng(8))
    if np.ptp(first) > 0:  # a constant initializer draws nothing
        assert not np.array_equal(first, other)


@pytest.mark.parametrize(("name", "params"), configurations("initializer"))
def test_initializer_statistics(name, params):
    law = INITIALIZER_LAWS.get(name)
    if law is None and name != "zeros":
        pytest.skip(f"no known law for initializer {name!r}")
    init = build("initializer", name, params)
    fan_in, fan_out = 300, 200
    W = init((fan_in, fan_out), np.random.default_rng(0))
    assert W.dtype == np.float64  # Network casts to the spec's dtype
    if name == "zeros":
        assert not W.any()
        return
    kind, spread = law
    mean = params.get("mean", 0.0)
    spread_value = params.get("std", spread(fan_in, fan_out))
    std = spread_value if kind == "normal" else spread_value / math.sqrt(3)
    n = W.size
    assert abs(W.mean() - mean) < 5 * std / math.sqrt(n)
    assert W.std() == pytest.approx(std, rel=0.02)
    if kind == "uniform":
        assert np.abs(W).max() <= spread_value
        assert np.abs(W).max() > 0.99 * spread_value


# -- optimizers -------------------------------------------------------------------------
def quadratic(rng, dtype):
    """``f(p) = 0.5 * sum(a * (p - c)**2)`` over a weight matrix and a bias."""
    shapes = [(4, 3), (3,)]
    a = [rng.uniform(0.5, 2.0, s).astype(dtype) for s in shapes]
    c = [rng.standard_normal(s).astype(dtype) for s in shapes]
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]

    def value(ps):
        return sum(float(np.sum(ai * (p - ci) ** 2)) / 2
                   for ai, p, ci in zip(a, ps, c, strict=True))

    def grads(ps):
        return [ai * (p - ci) for ai, p, ci in zip(a, ps, c, strict=True)]

    return params, value, grads


def optimizer(name, params, learning_rate=0.1):
    """The optimizer with a learning rate that makes progress in a few hundred steps."""
    try:
        return default_registry().create(
            "optimizer", {"name": name, **params, "learning_rate": learning_rate})
    except SpecError:
        return build("optimizer", name, params)


@pytest.mark.parametrize(("name", "params"), configurations("optimizer"))
@pytest.mark.parametrize("dtype", DTYPES)
def test_optimizer_decreases_a_quadratic_in_place(name, params, dtype, rng):
    opt = optimizer(name, params)
    ps, value, grads = quadratic(rng, dtype)
    ids = [id(p) for p in ps]
    start = value(ps)
    for _ in range(300):
        g = grads(ps)
        saved = [x.copy() for x in g]
        opt.step(ps, g)
        for x, y in zip(g, saved, strict=True):
            np.testing.assert_array_equal(x, y)  # gradients are never touched
    assert [id(p) for p in ps] == ids
    assert all(p.dtype == dtype for p in ps)
    assert value(ps) < 0.2 * start


def npz_roundtrip(state: dict) -> dict:
    """Through an .npz file without pickles: the state is plain numeric arrays."""
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize(("name", "params"), configurations("optimizer"))
@pytest.mark.parametrize("dtype", DTYPES)
def test_optimizer_state_dict_resumes_bit_for_bit(name, params, dtype, rng):
    ps, _, grads = quadratic(rng, dtype)
    gradients = [[g * rng.uniform(0.5, 1.5) for g in grads(ps)] for _ in range(10)]
    one = optimizer(name, params)
    for g in gradients[:5]:
        one.step(ps, g)
    state = one.state_dict()
    assert all(isinstance(k, str) for k in state)
    assert all(isinstance(v, np.ndarray) and v.dtype.kind in "iuf" for v in state.values())
    resumed_params = [p.copy() for p in ps]
    two = optimizer(name, params)
    two.load_state_dict(npz_roundtrip(state))
    for g in gradients[5:]:
        one.step(ps, g)
        two.step(resumed_params, g)
    for p, q in zip(ps, resumed_params, strict=True):
        assert p.dtype == q.dtype == dtype
        np.testing.assert_array_equal(p, q)
    assert {k: v.tobytes() for k, v in one.state_dict().items()} == {
        k: v.tobytes() for k, v in two.state_dict().items()}


# -- metrics ----------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "params"), configurations("metric"))
@pytest.mark.parametrize("dtype", DTYPES)
def test_metric_returns_a_float_and_leaves_inputs(name, params, dtype, rng):
    metric = build("metric", name, params)
    y_true = np.eye(3, dtype=dtype)[rng.integers(0, 3, 8)]
    y_pred = (y_true + rng.uniform(-0.3, 0.3, y_true.shape)).astype(dtype)
    saved = y_true.copy(), y_pred.copy()
    value = metric(y_true, y_pred)
    assert type(value) is float and math.isfinite(value)
    assert isinstance(metric.greater_is_better, bool)
    np.testing.assert_array_equal(y_true, saved[0])
    np.testing.assert_array_equal(y_pred, saved[1])


# -- schedules --------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "params"), configurations("schedule"))
def test_schedule_factors_are_finite_and_pure(name, params):
    schedule = build("schedule", name, params)
    factors = [schedule(epoch) for epoch in range(100)]
    assert all(type(f) is float and math.isfinite(f) and f >= 0 for f in factors)
    assert factors == [schedule(epoch) for epoch in range(100)]


def test_registered_names_match_the_documented_builtins():
    expected = {
        "activation": {"relu", "linear", "sigmoid", "tanh", "leaky_relu", "elu", "gelu",
                       "softplus", "swish", "silu", "softmax"},
        "loss": {"mse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy"},
        "initializer": {"he", "he_uniform", "glorot", "glorot_uniform", "glorot_normal",
                        "lecun", "zeros", "normal"},
        "optimizer": {"sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad"},
        "metric": {"mae", "mse", "rmse", "r2", "accuracy"},
        "schedule": {"constant", "step", "exponential", "cosine", "linear"},
    }
    for kind, names in expected.items():
        builtin = {e.name for e in default_registry().entries(kind) if e.owner == "npframe"}
        assert names <= builtin, (kind, names - builtin)


def test_builtin_components_are_importable_from_the_package():
    assert isinstance(npframe.registry.create("activation", "softmax"), npframe.Activation)
    assert isinstance(npframe.registry.create("metric", "r2"), npframe.Metric)
    assert isinstance(npframe.registry.create("schedule", {"name": "cosine", "epochs": 5}),
                      npframe.Schedule)


# -- the pieces together ----------------------------------------------------------------
def two_moons(rng, n):
    """Two interleaved half circles with noise, one-hot labels: made with NumPy only."""
    t = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    x = np.where(label == 0, np.cos(t), 1 - np.cos(t))
    y = np.where(label == 0, np.sin(t), 0.5 - np.sin(t))
    X = np.column_stack([x, y]) + rng.normal(0, 0.1, (n, 2))
    return X, np.eye(2)[label]


def classifier(output, loss, epochs=120):
    return npframe.Network.from_spec({
        "input": 2, "seed": 11, "loss": loss, "metrics": ["accuracy"],
        "optimizer": {"name": "adam", "learning_rate": 0.02},
        "schedule": {"name": "cosine", "epochs": epochs},
        "layers": [{"units": 16, "activation": "tanh", "initializer": "glorot"},
                   {"units": 16, "activation": "tanh", "initializer": "glorot"},
                   {"units": 2, "activation": output, "initializer": "glorot"}],
    })


def test_softmax_and_cross_entropy_classify_two_moons(rng):
    X, y = two_moons(rng, 800)
    net = classifier("softmax", "categorical_crossentropy")
    history = net.fit(X[:600], y[:600], epochs=120, batch_size=100)
    assert history.metrics["accuracy"][-1] > 0.97
    assert net.evaluate_metrics(X[600:], y[600:])["accuracy"] > 0.97
    probabilities = net.predict(X[600:])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)


def test_softmax_cross_entropy_equals_the_from_logits_form(rng):
    # d CE / d z is (softmax(z) - y) / n either way, so both nets train identically
    X, y = two_moons(rng, 200)
    probs = classifier("softmax", "categorical_crossentropy")
    logits = classifier("linear", {"name": "categorical_crossentropy", "from_logits": True})
    a = probs.fit(X, y, epochs=30, shuffle=False)
    b = logits.fit(X, y, epochs=30, shuffle=False)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-9)
    for wa, wb in zip(probs.get_weights(), logits.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-7, atol=1e-10)


# -- formulas, pinned to hand-computed values --------------------------------------------
def create(kind, ref):
    return default_registry().create(kind, ref)


def test_activation_values():
    z = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    values = {
        "tanh": np.tanh(z),
        "leaky_relu": np.array([[-0.02, -0.005, 0.0, 0.5, 2.0]]),
        "elu": np.array([[math.expm1(-2.0), math.expm1(-0.5), 0.0, 0.5, 2.0]]),
        "softplus": np.log1p(np.exp(z)),
        "silu": z / (1 + np.exp(-z)),
        "gelu": np.array([[x * 0.5 * math.erfc(-x / math.sqrt(2)) for x in z[0]]]),
    }
    for name, expected in values.items():
        np.testing.assert_allclose(create("activation", name).forward(z), expected,
                                   rtol=1e-14, atol=1e-300, err_msg=name)
    swish = create("activation", {"name": "swish", "beta": 2.0}).forward(z)
    np.testing.assert_allclose(swish, z / (1 + np.exp(-2 * z)), rtol=1e-14)
    tanh_gelu = create("activation", {"name": "gelu", "approximate": "tanh"}).forward(z)
    inner = math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)
    np.testing.assert_allclose(tanh_gelu, 0.5 * z * (1 + np.tanh(inner)), rtol=1e-14)


def test_exact_gelu_keeps_relative_accuracy_in_the_negative_tail():
    z = np.array([-30.0, -20.0, -10.0, -5.0, 5.0, 10.0])
    expected = [x * 0.5 * math.erfc(-x / math.sqrt(2)) for x in z]
    np.testing.assert_allclose(create("activation", "gelu").forward(z), expected, rtol=1e-12)


def test_softmax_rows_and_its_full_jacobian(rng):
    softmax = create("activation", "softmax")
    z = rng.standard_normal((3, 4)) * 5
    a = softmax.forward(z)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(softmax.forward(z + 1000.0), a, rtol=1e-12)  # shift-invariant
    g = rng.standard_normal(z.shape)
    for row in range(3):
        jacobian = np.diag(a[row]) - np.outer(a[row], a[row])
        np.testing.assert_allclose(softmax.backward(z, a, g)[row], jacobian @ g[row],
                                   rtol=1e-12, atol=1e-15)


def test_loss_values():
    y = np.array([[0.0, 1.0], [2.0, -1.0]])
    p = np.array([[0.5, 1.0], [0.0, 2.0]])  # d = 0.5, 0, -2, 3
    assert create("loss", "mse").value(y, p) == pytest.approx((0.25 + 4 + 9) / 4)
    assert create("loss", "mae").value(y, p) == pytest.approx(5.5 / 4)
    # huber with delta 1: 0.5 * 0.25, 0, 1 * (2 - 0.5), 1 * (3 - 0.5)
    assert create("loss", "huber").value(y, p) == pytest.approx((0.125 + 1.5 + 2.5) / 4)
    np.testing.assert_allclose(create("loss", "huber").gradient(y, p),
                               np.array([[0.5, 0.0], [-1.0, 1.0]]) / 4)


def test_cross_entropies_from_logits_equal_those_from_probabilities(rng):
    z = rng.standard_normal((5, 3)) * 3
    labels = np.eye(3)[rng.integers(0, 3, 5)]
    sigmoid = create("activation", "sigmoid").forward(z)
    softmax = create("activation", "softmax").forward(z)
    for loss, probs in (("binary_crossentropy", sigmoid), ("categorical_crossentropy", softmax)):
        from_probs = create("loss", loss).value(labels, probs)
        from_logits = create("loss", {"name": loss, "from_logits": True}).value(labels, z)
        assert from_logits == pytest.approx(from_probs, rel=1e-12)
    # and the hand-written formulas: mean over elements, and sum over classes / rows
    bce = -np.mean(labels * np.log(sigmoid) + (1 - labels) * np.log(1 - sigmoid))
    assert create("loss", "binary_crossentropy").value(labels, sigmoid) == pytest.approx(bce)
    cce = -np.sum(labels * np.log(softmax)) / 5
    assert create("loss", "categorical_crossentropy").value(labels, softmax) == pytest.approx(cce)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropies_clip_at_the_dtypes_epsilon(dtype):
    eps = float(np.finfo(dtype).eps)
    y = np.array([[1.0, 0.0]], dtype)
    p = np.array([[0.0, 1.0]], dtype)  # as wrong as it gets
    bce = create("loss", "binary_crossentropy")
    assert bce.value(y, p) == pytest.approx(-math.log(eps), rel=1e-6)
    grad = bce.gradient(y, p)
    assert grad.dtype == dtype and grad[0, 0] < 0 < grad[0, 1]  # still pushed back
    cce = create("loss", "categorical_crossentropy")
    assert cce.value(y, p) == pytest.approx(-math.log(eps), rel=1e-6)


def test_metric_values():
    y = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
    p = np.array([[1.5, 10.0], [2.0, 22.0], [2.0, 30.0], [4.0, 36.0]])
    assert create("metric", "mae")(y, p) == pytest.approx((0.5 + 1 + 2 + 4) / 8)
    assert create("metric", "mse")(y, p) == pytest.approx((0.25 + 1 + 4 + 16) / 8)
    assert create("metric", "rmse")(y, p) == pytest.approx(math.sqrt(21.25 / 8))
    # per output: 1 - 1.25 / 5 and 1 - 20 / 500, then their mean
    assert create("metric", "r2")(y, p) == pytest.approx(((1 - 1.25 / 5) + (1 - 20 / 500)) / 2)
    assert create("metric", "r2")(y, y) == 1.0


def test_r2_of_a_constant_target_column():
    y = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    r2 = create("metric", "r2")
    assert r2(y, y) == 1.0
    off = y.copy()
    off[:, 1] = 6.0
    assert r2(y, off) == pytest.approx(0.5)  # 1 for the first output, 0 for the constant one


def test_accuracy_multiclass_binary_and_thresholds():
    accuracy = create("metric", "accuracy")
    y = np.eye(3)[[0, 1, 2, 1]]
    p = np.array([[0.8, 0.1, 0.1], [0.3, 0.4, 0.3], [0.5, 0.2, 0.3], [-1.0, 2.0, 0.0]])
    assert accuracy(y, p) == 0.75
    labels = np.array([0.0, 1.0, 1.0, 0.0])
    assert accuracy(labels, np.array([0.2, 0.7, 0.4, 0.6])) == 0.5  # 1-D: one output
    logits = create("metric", {"name": "accuracy", "threshold": 0.0})
    assert logits(labels[:, None], np.array([[-1.0], [2.0], [0.5], [-0.1]])) == 1.0
    assert accuracy.greater_is_better and not create("metric", "mae").greater_is_better


def test_metrics_reject_mismatched_shapes():
    with pytest.raises(ValueError, match=r"metric 'mae': y_true \(3, 2\) and y_pred \(3, 1\)"):
        create("metric", "mae")(np.zeros((3, 2)), np.zeros((3, 1)))


def test_spec_metrics_are_logged_and_evaluated(rng):
    X = rng.uniform(-1, 1, (50, 2))
    y = X @ np.array([[1.0, -1.0], [2.0, 0.5]])
    net = npframe.Network.from_spec({
        "input": 2, "seed": 1, "metrics": ["mae", "rmse", "r2"], "standardize": True,
        "optimizer": {"name": "adam", "learning_rate": 0.05},
        "layers": [{"units": 2, "activation": "linear"}],
    })
    history = net.fit(X[:40], y[:40], epochs=200, validation_data=(X[40:], y[40:]))
    assert set(history.metrics) == {"mae", "rmse", "r2", "val_mae", "val_rmse", "val_r2"}
    assert history.metrics["r2"][-1] > 0.999 and history.metrics["val_mae"][-1] < 0.05
    evaluated = net.evaluate_metrics(X[40:], y[40:])
    pred = net.predict(X[40:])
    assert evaluated["mae"] == pytest.approx(np.mean(np.abs(pred - y[40:])), rel=1e-12)
