"""The built-in layers against references written from PyTorch's documentation.

``layer_reference.py`` holds plain-NumPy formulas (each checked against finite
differences there, and against PyTorch itself out of band); here every built-in layer,
through the training loop's own path (``bind``) and the plain one, must agree with them
in float64: forward, all gradients, running statistics after several steps, inference.
Then the layers in networks: specs, save/load/resume, reproducibility, bad tables.
"""

from __future__ import annotations

import warnings

import layer_reference as ref
import numpy as np
import pytest

import npframe
from npframe import LayerContext, Network, SpecError

RTOL, ATOL = 1e-12, 1e-13


def build(table: dict) -> tuple[npframe.Layer, dict[str, np.ndarray]]:
    """A built-in layer from its spec table, with float64 parameters initialized."""
    layer = npframe.assembly.build_layer(table)
    n_in = 5
    params = {k: np.zeros(s) for k, s in layer.parameter_shapes(n_in).items()}
    layer.initialize(params, np.random.default_rng(0),
                     npframe.registry.create("initializer", "glorot"))
    return layer, params


def bound(layer, params, n, order="C", rng=None):
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    context = LayerContext(batch=n, dtype=np.dtype(np.float64), input_size=5,
                           output_size=layer.output_size(5), order=order, input_order=order,
                           rng=rng)
    forward, backward = layer.bind(params, grads, context)
    return forward, backward, grads


def close(got, want):
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


# -- each layer against its reference --------------------------------------------------
@pytest.mark.parametrize("order", ["C", "F"])
def test_dense_matches_linear(rng, order):
    layer, params = build({"units": 4, "activation": "linear"})
    params["b"][...] = rng.normal(size=4)
    x, grad_y = rng.normal(size=(7, 5)), rng.normal(size=(7, 4))
    forward, backward, grads = bound(layer, params, 7, order)
    close(forward(np.asarray(x, order=order)), ref.dense_forward(x, params["W"], params["b"]))
    grad_x, grad_W, grad_b = ref.dense_backward(x, params["W"], grad_y)
    close(backward(x, None, grad_y.copy()), grad_x)
    close(grads["W"], grad_W)
    close(grads["b"], grad_b)


def test_dense_without_bias_has_only_W(rng):
    layer, params = build({"units": 3, "activation": "linear", "use_bias": False})
    assert list(params) == ["W"]
    x = rng.normal(size=(4, 5))
    close(layer.forward(x, params, training=False)[0], x @ params["W"])


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("rate", [0.0, 0.2, 0.9])
def test_dropout_matches_inverted_dropout(rng, order, rate):
    layer, params = build({"type": "dropout", "rate": rate})
    x, grad_y = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    forward, backward, _ = bound(layer, params, 6, order, np.random.default_rng(9))
    y = forward(np.asarray(x, order=order))
    if rate == 0.0:
        close(y, x)
        return
    mask = y != 0
    assert 0 < mask.mean() < 1
    close(y, ref.dropout_forward(x, mask, rate))
    close(backward(x, y, grad_y.copy()), ref.dropout_backward(grad_y, mask, rate))
    close(layer.forward(x, params, training=False)[0], ref.dropout_eval(x))


def test_dropout_keeps_each_element_with_probability_one_minus_rate():
    layer, params = build({"type": "dropout", "rate": 0.25})
    y, _ = layer.forward(np.ones((400, 5)), params, training=True,
                         rng=np.random.default_rng(1))
    assert abs((y != 0).mean() - 0.75) < 0.02
    assert set(np.unique(y)) == {0.0, 1 / 0.75}


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("momentum", [0.1, 0.37])
def test_batch_norm_matches_batch_norm_1d_over_several_steps(rng, order, momentum):
    layer, params = build({"type": "batch_norm", "momentum": momentum})
    params["gamma"][...] = rng.uniform(0.5, 2.0, 5)
    params["beta"][...] = rng.normal(size=5)
    running_mean, running_var = np.zeros(5), np.ones(5)
    forward, backward, grads = bound(layer, params, 8, order)
    for step in range(5):
        x = rng.normal(loc=step, scale=1 + step, size=(8, 5))
        grad_y = rng.normal(size=(8, 5))
        y, running_mean, running_var, cache = ref.batch_norm_train(
            x, params["gamma"], params["beta"], running_mean, running_var, momentum, 1e-5)
        close(forward(np.asarray(x, order=order)), y)
        grad_x, grad_gamma, grad_beta = ref.batch_norm_backward(grad_y, cache)
        close(backward(x, y, grad_y.copy()), grad_x)
        close(grads["gamma"], grad_gamma)
        close(grads["beta"], grad_beta)
    state = layer.state_dict()
    close(state["running_mean"], running_mean)
    close(state["running_var"], running_var)
    x = rng.normal(size=(3, 5))
    close(layer.forward(x, params, training=False)[0],
          ref.batch_norm_eval(x, params["gamma"], params["beta"], running_mean, running_var,
                              1e-5))


def test_batch_norm_refuses_a_training_batch_of_one_sample():
    layer, params = build({"type": "batch_norm"})
    with pytest.raises(ValueError, match="batch_norm cannot train on a batch of 1 sample"):
        layer.forward(np.ones((1, 5)), params, training=True)


@pytest.mark.parametrize("order", ["C", "F"])
def test_layer_norm_matches_layer_norm(rng, order):
    layer, params = build({"type": "layer_norm", "eps": 1e-3})
    params["gamma"][...] = rng.uniform(0.5, 2.0, 5)
    params["beta"][...] = rng.normal(size=5)
    for n in (1, 6):
        x, grad_y = rng.normal(3.0, 2.0, size=(n, 5)), rng.normal(size=(n, 5))
        forward, backward, grads = bound(layer, params, n, order)
        y, cache = ref.layer_norm_forward(x, params["gamma"], params["beta"], 1e-3)
        close(forward(np.asarray(x, order=order)), y)
        grad_x, grad_gamma, grad_beta = ref.layer_norm_backward(grad_y, cache)
        close(backward(x, y, grad_y.copy()), grad_x)
        close(grads["gamma"], grad_gamma)
        close(grads["beta"], grad_beta)
        close(layer.forward(x, params, training=False)[0], y)  # the same in inference


# -- layers in networks ------------------------------------------------------------------
SPEC = {
    "input": 3, "seed": 5, "optimizer": {"name": "adam", "learning_rate": 0.01},
    "layers": [
        {"units": 16, "activation": "relu"},
        {"type": "batch_norm"},
        {"type": "dropout", "rate": 0.2},
        {"units": 8, "activation": "tanh"},
        {"type": "layer_norm"},
        {"units": 2, "activation": "linear"},
    ],
}


@pytest.fixture
def data(rng):
    X = rng.normal(size=(90, 3))
    return X, np.stack([X.sum(axis=1), X[:, 0] * X[:, 1]], axis=1)


def test_a_spec_with_every_layer_trains_and_reports_its_layers(data):
    net = Network.from_spec(SPEC)
    assert net.sizes == (3, 16, 16, 16, 8, 8, 2)
    assert [w.shape for w in net.get_weights()] == [
        (3, 16), (16,), (16,), (16,), (16, 8), (8,), (8,), (8,), (8, 2), (2,)]
    history = net.fit(*data, epochs=30, batch_size=16)
    assert history.loss[-1] < 0.5 * history.loss[0]
    summary = net.summary()
    for text in ("batch_norm", "dropout", "rate=0.2", "layer_norm", "64  W(3, 16) b(16,)",
                 "32  gamma(16,) beta(16,)", "266 parameters"):
        assert text in summary, summary
    assert npframe.check_spec(SPEC).n_parameters == 266


def test_inference_is_deterministic_and_ignores_dropout(data):
    net = Network.from_spec(SPEC)
    net.fit(*data, epochs=2, batch_size=16)
    first = net.predict(data[0])
    np.testing.assert_array_equal(first, net.predict(data[0]))
    assert net.evaluate(*data) == net.evaluate(*data)


def test_training_is_bit_reproducible_with_dropout(data):
    runs = []
    for _ in range(2):
        net = Network.from_spec(SPEC)
        net.fit(*data, epochs=3, batch_size=16)
        runs.append(net.get_weights())
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_save_load_resume_is_exact_with_batch_norm_and_dropout(data, tmp_path):
    once = Network.from_spec(SPEC)
    once.fit(*data, epochs=5, batch_size=16)
    twice = Network.from_spec(SPEC)
    twice.fit(*data, epochs=2, batch_size=16)
    twice.save(tmp_path / "m.npz")
    loaded = npframe.load(tmp_path / "m.npz")
    state = loaded.state_dict()
    np.testing.assert_array_equal(state["layers/2/running_mean"],
                                  twice.state_dict()["layers/2/running_mean"])
    np.testing.assert_array_equal(loaded.predict(data[0]), twice.predict(data[0]))
    loaded.fit(*data, epochs=3, batch_size=16)
    for a, b in zip(loaded.get_weights(), once.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    for key in ("layers/2/running_mean", "layers/2/running_var"):
        np.testing.assert_array_equal(loaded.state_dict()[key], once.state_dict()[key])


class InterruptAt:
    """Raises KeyboardInterrupt from a callback after the given global step."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_batch_end(self, step, logs):
        if step == self.step:
            raise KeyboardInterrupt


def test_an_interrupt_mid_epoch_resumes_exactly_from_a_saved_file(data, tmp_path):
    """A KeyboardInterrupt at a step boundary leaves a consistent mid-epoch state: saved,
    loaded and trained on, it reproduces the uninterrupted run (dropout masks included)."""
    once = Network.from_spec(SPEC)
    once.fit(*data, epochs=3, batch_size=16)
    cut = Network.from_spec(SPEC)
    with pytest.raises(KeyboardInterrupt):
        cut.fit(*data, epochs=3, batch_size=16, callbacks=[InterruptAt(8)])
    # a callback's exception rolls back to the start of its epoch (epoch 1, step 6)
    assert (cut.epoch, cut.loop.position.step) == (1, 6)
    cut.save(tmp_path / "m.npz")
    resumed = npframe.load(tmp_path / "m.npz")
    resumed.fit(*data, epochs=2, batch_size=16)
    for a, b in zip(resumed.get_weights(), once.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_clean_stop_mid_epoch_is_resumed_exactly(data, tmp_path, monkeypatch):
    """The deferred Ctrl-C path: the step in flight completes, the epoch is left
    unfinished, and a resume (with the same data and batch size) finishes it."""
    once = Network.from_spec(SPEC)
    once.fit(*data, epochs=3, batch_size=16)
    cut = Network.from_spec(SPEC)
    flag = npframe.training.InterruptFlag()

    class Request:
        def on_batch_end(self, step, logs):
            if step == 8:
                flag.requested = True

    batches = npframe.training.Batches(cut.loop, *[np.ascontiguousarray(a) for a in data],
                                       None, 16, True)
    cut.loop.run_epoch(batches)
    with pytest.raises(KeyboardInterrupt):
        cut.loop.run_epoch(batches, flag, (), [Request().on_batch_end])
    assert (cut.epoch, cut.loop.position.step, cut.loop.position.batch) == (1, 9, 3)
    cut.save(tmp_path / "m.npz")
    resumed = npframe.load(tmp_path / "m.npz")
    assert resumed.loop.position.batch == 3
    resumed.fit(*data, epochs=2, batch_size=16)  # finishes epoch 1, then epoch 2
    assert resumed.epoch == 3
    for a, b in zip(resumed.get_weights(), once.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="stopped in the middle of epoch"):
        again = npframe.load(tmp_path / "m.npz")
        again.fit(*data, epochs=1, batch_size=32)


# -- sample and class weights ------------------------------------------------------------
def test_sample_weights_make_the_loss_a_weighted_mean(rng):
    spec = {"input": 2, "seed": 1, "layers": [{"units": 2, "activation": "linear"}],
            "optimizer": {"name": "sgd", "learning_rate": 0.01}}
    net = Network.from_spec(spec)
    X, Y = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    w = np.array([1.0, 0.0, 2.0, 0.5, 0.0, 3.0])
    W, b = net.get_weights()
    history = net.fit(X, Y, epochs=1, sample_weight=w)
    per_sample = np.mean((X @ W + b - Y) ** 2, axis=1)
    assert history.loss[0] == pytest.approx(np.sum(w * per_sample) / np.sum(w), rel=1e-12)
    # one SGD step on the weighted mean, by hand
    grad_P = 2 * (X @ W + b - Y) / 2 * (w / w.sum())[:, None]
    W2, b2 = net.get_weights()
    np.testing.assert_allclose(W2, W - 0.01 * X.T @ grad_P, rtol=1e-12)
    np.testing.assert_allclose(b2, b - 0.01 * grad_P.sum(axis=0), rtol=1e-12)


def test_class_weights_weigh_each_label(rng):
    spec = {"input": 2, "seed": 1, "loss": "categorical_crossentropy",
            "layers": [{"units": 3, "activation": "softmax"}]}
    X = rng.normal(size=(8, 2))
    labels = np.array(["a", "b", "c", "a", "a", "b", "c", "a"])
    weighted = Network.from_spec(spec)
    h1 = weighted.fit(X, labels, epochs=1, class_weight={"a": 0.5, "b": 2.0, "c": 1.0})
    by_sample = Network.from_spec(spec)
    weights = np.array([{"a": 0.5, "b": 2.0, "c": 1.0}[v] for v in labels])
    h2 = by_sample.fit(X, labels, epochs=1, sample_weight=weights)
    assert h1.loss == h2.loss
    for a, b in zip(weighted.get_weights(), by_sample.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    balanced = Network.from_spec(spec)
    balanced.fit(X, labels, epochs=1, class_weight="balanced")
    counts = {"a": 4, "b": 2, "c": 2}
    expected = Network.from_spec(spec)
    expected.fit(X, labels, epochs=1,
                 sample_weight=np.array([8 / (3 * counts[v]) for v in labels]))
    for a, b in zip(balanced.get_weights(), expected.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13)


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"sample_weight": [1.0, 2.0]}, r"sample_weight must be 8 non-negative numbers"),
    ({"sample_weight": [-1.0] * 8}, r"sample_weight must be finite and >= 0"),
    ({"class_weight": {"z": 1.0}}, r"class_weight names 'z', which is not a class"),
    ({"class_weight": "even"}, r"class_weight must be a mapping or 'balanced'"),
])
def test_bad_weights_are_refused_before_training(rng, kwargs, pattern):
    spec = {"input": 2, "seed": 1, "loss": "categorical_crossentropy",
            "layers": [{"units": 2, "activation": "softmax"}]}
    net = Network.from_spec(spec)
    before = net.get_weights()
    with pytest.raises(ValueError, match=pattern):
        net.fit(rng.normal(size=(8, 2)), np.array(list("abababab")), epochs=1, **kwargs)
    for a, b in zip(net.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)


# -- bad layer tables ------------------------------------------------------------------
@pytest.mark.parametrize(("layer", "pattern"), [
    ({"type": "batchnorm"}, r"layers\[1\]\.type: unknown layer 'batchnorm'; did you mean "
                            r"'batch_norm'\?"),
    ({"type": 3}, r"layers\[1\]\.type: must name a registered layer \(got int 3\)"),
    ({"type": "dropout"}, r"layers\[1\]\.rate: required key is missing"),
    ({"type": "dropout", "rate": 1.0}, r"layers\[1\]\.rate: must be in \[0, 1\) \(got 1\.0\)"),
    ({"type": "dropout", "rate": "0.2"}, r"layers\[1\]\.rate: must be a number, not a string"),
    ({"type": "dropout", "rate": 0.2, "units": 3},
     r"layers\[1\]\.units: unknown key 'units' for layer 'dropout'; allowed: rate, type"),
    ({"type": "batch_norm", "momentum": 1.5}, r"layers\[1\]\.momentum: must be <= 1\.0 "
                                              r"\(got 1\.5\)"),
    ({"type": "batch_norm", "eps": 0}, r"layers\[1\]\.eps: must be a finite number > 0 "
                                       r"\(got 0\.0\)"),
    ({"type": "layer_norm", "eps": -1e-5}, r"layers\[1\]\.eps: must be a finite number > 0"),
    ({"units": 3, "activation": "relu", "use_bias": "no"},
     r"layers\[1\]\.use_bias: must be true or false, not a string"),
])
def test_every_bad_layer_table_gets_its_error(layer, pattern):
    spec = {"input": 2, "layers": [{"units": 3, "activation": "relu"}, layer,
                                   {"units": 1, "activation": "linear"}]}
    with pytest.raises(SpecError, match=f"^{pattern}"):
        npframe.check_spec(spec)
    with pytest.raises(SpecError, match=f"^{pattern}"):
        Network.from_spec(spec)


def test_batch_norm_with_a_last_batch_of_one_sample_says_what_to_change(rng):
    spec = {"input": 2, "layers": [{"type": "batch_norm"}, {"units": 1, "activation": "linear"}]}
    net = Network.from_spec(spec)
    with pytest.raises(ValueError, match=r"batch_norm cannot train on a batch of 1 sample.*"
                                         r"batch_size"), warnings.catch_warnings():
        net.fit(rng.normal(size=(9, 2)), rng.normal(size=9), epochs=1, batch_size=4)
