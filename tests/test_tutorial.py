"""The tutorial reproduced to the digit (``npframe_builtins.tutorial``), then beaten (examples).

The reference is an in-test copy of the notebook's code: features x samples arrays,
``np.dot``, per-layer objects that update themselves with
``W -= 0.01 * dZ @ A_prev.T / n`` from ``dA = y_hat - y``, all drawn from one legacy
``RandomState(42)`` (local here, where the notebook seeds the global one).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import attrs
import numpy as np
import pytest
from npframe_builtins import tutorial

import npframe
from npframe.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"


# -- the notebook, as written (features x samples) -----------------------------------------
def notebook_data(rs: np.random.RandomState):
    X_raw = rs.rand(2, 10000) * 100
    a, b = X_raw[0], X_raw[1]
    y_raw = np.vstack([a + b, a - b, np.abs(a - b)])
    n_train = int(0.7 * X_raw.shape[1])
    Xtr_raw, Xte_raw = X_raw[:, :n_train], X_raw[:, n_train:]
    ytr_raw, yte_raw = y_raw[:, :n_train], y_raw[:, n_train:]
    xm, xs = Xtr_raw.mean(axis=1, keepdims=True), Xtr_raw.std(axis=1, keepdims=True)
    ym, ys = ytr_raw.mean(axis=1, keepdims=True), ytr_raw.std(axis=1, keepdims=True)
    return (Xtr_raw - xm) / xs, (ytr_raw - ym) / ys, (Xte_raw - xm) / xs, (yte_raw - ym) / ys


def get_loss(y_hat, y):
    return np.mean(np.linalg.norm(0.5 * (y_hat - y) ** 2, axis=0))


class Layer:
    def __init__(self, n_in, n_out, activation, rs):
        self.W = rs.randn(n_out, n_in) * np.sqrt(2 / n_in)
        self.b = rs.randn(n_out, 1) * np.sqrt(2 / n_in)
        self.activation = activation

    def forward(self, A_prev):
        self.A_prev = A_prev
        self.Z = np.dot(self.W, A_prev) + self.b
        self.A = np.maximum(0, self.Z) if self.activation == "relu" else self.Z
        return self.A

    def backward(self, dA, learning_rate):
        derivative = (self.Z > 0).astype(float) if self.activation == "relu" else np.ones_like(
            self.Z)
        dZ = dA * derivative
        n = self.A_prev.shape[1]
        dW = np.dot(dZ, self.A_prev.T) / n
        db = np.sum(dZ, axis=1, keepdims=True) / n
        dA_prev = np.dot(self.W.T, dZ)
        self.W -= learning_rate * dW
        self.b -= learning_rate * db
        return dA_prev


class NotebookNetwork:
    def __init__(self, rs):
        self.layers = [Layer(2, 4, "relu", rs), Layer(4, 4, "relu", rs), Layer(4, 3, "linear", rs)]

    def forward(self, X):
        A = X
        for layer in self.layers:
            A = layer.forward(A)
        return A

    def train(self, X, y, epochs, learning_rate=0.01):
        for _ in range(epochs):
            dA = self.forward(X) - y
            for layer in reversed(self.layers):
                dA = layer.backward(dA, learning_rate)

    def weights(self):
        """In npframe's layout, to compare."""
        return [w for layer in self.layers for w in (layer.W.T, layer.b[:, 0])]


@pytest.fixture(scope="module")
def notebook():
    """``(net, (Xtr, ytr, Xte, yte))`` at the notebook's starting point."""
    rs = np.random.RandomState(42)
    data = notebook_data(rs)
    return NotebookNetwork(rs), data


@pytest.fixture(scope="module")
def data() -> tutorial.TutorialData:
    return tutorial.load_data()


def assert_close_relative(actual, expected, rtol, what):
    actual, expected = np.asarray(actual), np.asarray(expected)
    err = np.max(np.abs(actual - expected) / np.maximum(np.abs(expected), 1e-300))
    assert err <= rtol, f"{what}: relative error {err:.3g} > {rtol:g}"


# -- the pieces, bit for bit ---------------------------------------------------------------
def test_load_data_is_the_notebooks_arrays_batch_first(data):
    Xtr, ytr, Xte, yte = notebook_data(np.random.RandomState(42))
    assert data.X_train.shape == (7000, 2) and data.y_train.shape == (7000, 3)
    assert data.X_test.shape == (3000, 2) and data.y_test.shape == (3000, 3)
    for ours, theirs in [(data.X_train, Xtr), (data.y_train, ytr),
                         (data.X_test, Xte), (data.y_test, yte)]:
        np.testing.assert_array_equal(ours, theirs.T)
    # raw arrays and statistics agree with each other
    np.testing.assert_array_equal(data.y_train_raw, tutorial.targets(data.X_train_raw))
    np.testing.assert_array_equal(data.scaler.transform_x(data.X_test_raw), data.X_test)
    np.testing.assert_allclose(data.scaler.inverse_y(data.y_train), data.y_train_raw,
                               rtol=1e-12, atol=1e-12)
    assert data.X_train_raw.min() >= 0 and data.X_train_raw.max() < 100


def test_the_registered_dataset_is_the_same_draw(data):
    ds = npframe.registry.create("dataset", "tutorial")
    np.testing.assert_array_equal(ds.X, data.X_train_raw)
    np.testing.assert_array_equal(ds.y_test, data.y_test_raw)
    np.testing.assert_array_equal(ds.examples, tutorial.CASES)
    assert ds.target_names == ("a+b", "a-b", "|a-b|")
    small = npframe.registry.create("dataset", {"name": "tutorial", "n_samples": 100})
    assert small.X.shape == (70, 2) and small.X_test.shape == (30, 2)


def test_initial_weights_are_the_notebooks_draw():
    ours = tutorial.initial_weights()
    assert [w.shape for w in ours] == [(2, 4), (4,), (4, 4), (4,), (4, 3), (3,)]
    fresh = NotebookNetwork(_after_data_draw())
    for a, b in zip(ours, fresh.weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def _after_data_draw() -> np.random.RandomState:
    rs = np.random.RandomState(42)
    rs.rand(2, 10000)
    return rs


def test_nothing_touches_numpys_global_random_state():
    # only read, to show the global state is left alone
    before = np.random.get_state(legacy=False)  # noqa: NPY002
    tutorial.load_data()
    tutorial.initial_weights()
    tutorial.parity_network()
    after = np.random.get_state(legacy=False)  # noqa: NPY002
    np.testing.assert_array_equal(before["state"]["key"], after["state"]["key"])
    assert before["state"]["pos"] == after["state"]["pos"]


def test_initial_weights_reject_bad_sizes():
    with pytest.raises(ValueError, match=r"'sizes' must be at least two positive ints"):
        tutorial.initial_weights([2])
    with pytest.raises(ValueError, match=r"'sizes'.*\(got \[2, 0, 3\]\)"):
        tutorial.initial_weights([2, 0, 3])
    with pytest.raises(ValueError, match=r"'seed' must be an int in \[0, 2\*\*32\)"):
        tutorial.initial_weights(seed=-1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n_samples": 1}, r"'n_samples' must be an int >= 2 \(got 1\)"),
     ({"n_samples": True}, r"'n_samples' must be an int"),
     ({"train_fraction": 1.0}, r"'train_fraction' must be a number in \(0, 1\) \(got 1.0\)"),
     ({"n_samples": 3, "train_fraction": 0.2}, r"leaves an empty training or test set")],
)
def test_load_data_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tutorial.load_data(**kwargs)


def test_tutorial_metric_by_hand():
    y = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    pred = np.array([[2.0, 0.0, 0.0], [1.0, 3.0, 3.0]])
    # sample 0: 0.5*(2, 0, 0)**2 = (2, 0, 0) -> norm 2; sample 1: (0, 2, 2) -> sqrt(8)
    assert tutorial.tutorial_metric(y, pred) == pytest.approx((2 + np.sqrt(8)) / 2, rel=1e-15)
    metric = npframe.registry.create("metric", "tutorial_loss")
    assert metric(y, pred) == tutorial.tutorial_metric(y, pred)
    assert metric.greater_is_better is False
    with pytest.raises(ValueError, match=r"tutorial_metric: .*got \(2, 3\) and \(3,\)"):
        tutorial.tutorial_metric(y, pred[0])


def test_metric_before_the_first_update_is_the_notebooks(data, notebook):
    net = tutorial.parity_network()
    value = net.evaluate_metrics(data.X_train, data.y_train)["tutorial_loss"]
    assert round(value, 4) == tutorial.NOTEBOOK["initial_train_metric"] == 3.7697
    nb, (Xtr, ytr, _, _) = notebook
    assert value == pytest.approx(get_loss(nb.forward(Xtr), ytr), rel=1e-14)


def test_parity_spec_file_is_parity_spec():
    from_file = npframe.NetworkSpec.load(EXAMPLES / "tutorial_parity.toml")
    assert from_file == npframe.NetworkSpec.load(tutorial.parity_spec())
    assert from_file.optimizer.params["learning_rate"] == tutorial.PARITY_LEARNING_RATE


def test_parity_learning_rate_is_the_notebooks_step_on_mse():
    # mse's gradient is 2 (y_hat - y) / (n * 3); the notebook's is (y_hat - y) / n
    n_outputs = tutorial.SIZES[-1]
    assert tutorial.PARITY_LEARNING_RATE * 2 / n_outputs == pytest.approx(
        tutorial.LEARNING_RATE, rel=1e-15)


# -- the trajectory ------------------------------------------------------------------------
def test_training_follows_the_notebook(data):
    """Weights and metrics agree with the notebook's loop to 1e-9 over 2,000 epochs."""
    rs = np.random.RandomState(42)
    Xtr, ytr, Xte, yte = notebook_data(rs)
    nb = NotebookNetwork(rs)
    net = tutorial.parity_network(metrics=())
    for chunk in range(4):
        nb.train(Xtr, ytr, 500)
        net.fit(data.X_train, data.y_train, epochs=500, batch_size=None, shuffle=False)
        where = f"after {500 * (chunk + 1)} epochs"
        for i, (ours, theirs) in enumerate(zip(net.get_weights(), nb.weights(), strict=True)):
            assert_close_relative(ours, theirs, 1e-9, f"{where}, weight {i}")
        assert_close_relative(
            tutorial.tutorial_metric(data.y_train, net.predict(data.X_train)),
            get_loss(nb.forward(Xtr), ytr), 1e-9, f"{where}, train metric")
        assert_close_relative(
            tutorial.tutorial_metric(data.y_test, net.predict(data.X_test)),
            get_loss(nb.forward(Xte), yte), 1e-9, f"{where}, test metric")
    assert net.epoch == 2000
    # the notebook's loss has come down from 3.77, and so has ours
    assert tutorial.tutorial_metric(data.y_train, net.predict(data.X_train)) < 0.6


# 30 full-batch epochs leave the loss above the targets' variance: rightly a warning
@pytest.mark.filterwarnings("ignore::npframe.ConvergenceWarning")
def test_history_records_the_notebooks_metric_every_epoch(data):
    rs = np.random.RandomState(42)
    Xtr, ytr, _, _ = notebook_data(rs)
    nb = NotebookNetwork(rs)
    expected = []
    for _ in range(30):
        nb.train(Xtr, ytr, 1)
        expected.append(get_loss(nb.forward(Xtr), ytr))
    history = tutorial.parity_network().fit(data.X_train, data.y_train, epochs=30,
                                            shuffle=False)
    assert_close_relative(history.metrics["tutorial_loss"], expected, 1e-12, "history")
    # the loss is mse before each update: 2/3 of the notebook's half-SSE, so compare it too
    assert history.loss[0] == pytest.approx(
        np.mean((tutorial.parity_network().predict(data.X_train) - data.y_train) ** 2),
        rel=1e-14)


def test_parity_network_works_with_a_fresh_registry(data):
    net = tutorial.parity_network(registry=Registry())
    assert net.metrics.keys() == {"tutorial_loss"}
    assert net.spec.optimizer.params == {"learning_rate": 0.015}


# -- the report ----------------------------------------------------------------------------
def exact_weights(data: tutorial.TutorialData) -> list[np.ndarray]:
    """A 2-4-4-3 ReLU net that computes (a+b, a-b, |a-b|) exactly on standardized data."""
    s = data.scaler
    sd, mu = s.x_std, s.x_mean
    # layer 1 on raw a = sd0 x0 + mu0, b = sd1 x1 + mu1: relu(a-b), relu(b-a), relu(a+b)
    W1 = np.array([[sd[0], -sd[1]], [-sd[0], sd[1]], [sd[0], sd[1]], [0.0, 0.0]])
    b1 = np.array([mu[0] - mu[1], mu[1] - mu[0], mu[0] + mu[1], 0.0])
    # layer 2: relu(u1 - u2 + 1000) = a - b + 1000, relu(u1 + u2) = |a-b|, relu(u3) = a+b
    W2 = np.array([[1.0, -1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
    b2 = np.array([1000.0, 0, 0, 0])
    # layer 3: the raw targets, then the tutorial's target standardization
    W3 = np.array([[0.0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]]) / s.y_std[:, None]
    b3 = (np.array([0.0, -1000, 0]) - s.y_mean) / s.y_std
    return [W1.T, b1, W2.T, b2, W3.T, b3]


def test_report_of_an_exact_network(data):
    net = tutorial.parity_network(metrics=())
    net.set_weights(exact_weights(data))
    rep = tutorial.report(net, data)
    assert rep.test_metric < 1e-20 and rep.train_mse < 1e-20
    assert max(rep.mae) < 1e-9
    assert rep.dead_units == (1, 1)  # the construction leaves one unit per layer unused
    np.testing.assert_allclose(rep.predictions, [[100, -40, 40], [100, 40, 40], [8, -2, 2],
                                                 [1010, 766, 766]], atol=1e-9)
    np.testing.assert_array_equal(rep.truth, tutorial.targets(tutorial.CASES))
    text = rep.format()
    assert "(888, 122)" in text and "1010.00" in text and "|a-b|" in text


def test_report_feeds_a_standardizing_network_raw_data(data):
    spec = tutorial.parity_spec(metrics=())
    spec["standardize"] = True
    net = npframe.Network.from_spec(spec)
    net.scaler = data.scaler  # as fit would learn it, up to rounding; the exact weights use it
    net.set_weights(exact_weights(data))
    rep = tutorial.report(net, data)
    assert rep.test_metric < 1e-20 and max(rep.mae) < 1e-9
    np.testing.assert_allclose(rep.predictions[:3], [[100, -40, 40], [100, 40, 40], [8, -2, 2]],
                               atol=1e-9)


# -- the long runs (the notebook's own checkpoints) ----------------------------------------
@pytest.mark.slow
def test_100k_and_200k_epochs_give_the_notebooks_metric(data):
    net = tutorial.parity_network(metrics=())
    net.fit(data.X_train, data.y_train, epochs=100_000, shuffle=False)
    at_100k = tutorial.tutorial_metric(data.y_train, net.predict(data.X_train))
    net.fit(data.X_train, data.y_train, epochs=100_000, shuffle=False)
    at_200k = tutorial.tutorial_metric(data.y_train, net.predict(data.X_train))
    assert round(at_100k, 4) == tutorial.NOTEBOOK["train_metric_100k"] == 0.3502
    assert round(at_200k, 4) == tutorial.NOTEBOOK["train_metric_200k"] == 0.3450


@pytest.mark.slow
def test_1m_epochs_give_the_notebooks_test_metric_and_predictions(data):
    net = tutorial.parity_network(metrics=())
    net.fit(data.X_train, data.y_train, epochs=1_000_000, shuffle=False)
    rep = tutorial.report(net, data)
    assert rep.test_metric == pytest.approx(tutorial.NOTEBOOK["test_metric_1m"], rel=1e-9)
    assert round(rep.train_metric, 4) == 0.3450
    np.testing.assert_allclose(rep.predictions[0], tutorial.NOTEBOOK["prediction_30_70_1m"],
                               atol=0.005)


# -- the example script --------------------------------------------------------------------
def test_tutorial_example_runs_end_to_end():
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "tutorial.py"), "--epochs", "300"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    assert "3.7697" in out  # the metric before training, as the notebook prints it
    assert "tutorial metric" in out and "mse" in out
    for query in ("(30, 70)", "(70, 30)", "(3, 5)", "(888, 122)"):
        assert query in out


# -- the tutorial, beaten ------------------------------------------------------------------
def load_example(name: str):
    """Import ``examples/<name>.py`` (a script, not a package) as a module."""
    module_name = f"npframe_example_{name}"
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def beaten():
    return load_example("beaten")


def test_beaten_specs_train_on_the_tutorials_data_and_split(beaten):
    sizes = set()
    for name in beaten.SPECS:
        spec = npframe.NetworkSpec.load(EXAMPLES / name)
        assert spec.train.dataset.to_data() == "tutorial"
        assert (spec.train.epochs, spec.train.batch_size, spec.train.shuffle) == (4000, None, False)
        assert spec.standardize and spec.loss.name == "mse" and spec.input == 2
        sizes.add(npframe.check_spec(spec).sizes)
        if spec.optimizer.name == "adam":
            assert spec.schedule.to_data() == {"name": "cosine", "epochs": 4000}
        else:
            assert spec.optimizer.params == {"learning_rate": tutorial.PARITY_LEARNING_RATE}
    assert sizes == {(2, 4, 4, 3), (2, 16, 16, 3)}


def shortened(spec: npframe.NetworkSpec, epochs: int) -> npframe.NetworkSpec:
    schedule = attrs.evolve(spec.schedule, params={**spec.schedule.params, "epochs": epochs})
    return attrs.evolve(spec, schedule=schedule, train=attrs.evolve(spec.train, epochs=epochs))


def test_adam_beats_the_tutorial_quickly(beaten, data):
    """A quarter of the spec's schedule already leaves the tutorial's 0.319 far behind."""
    spec = shortened(npframe.NetworkSpec.load(EXAMPLES / "tutorial_adam.toml"), 1000)
    run = beaten.train(spec, data)
    assert run.report.test_metric < 1e-3 < tutorial.NOTEBOOK["test_metric_1m"] / 100
    assert run.in_range_error < 1.0  # the full 4,000 epochs get within 0.1 (below)
    assert run.name == "2-4-4-3 adam + cosine"


def test_adam_beats_the_tutorial_from_its_spec(beaten, data):
    """Issue 7's targets for the tutorial's own architecture, from tutorial_adam.toml."""
    run = beaten.train(npframe.NetworkSpec.load(EXAMPLES / "tutorial_adam.toml"), data)
    assert run.report.test_metric < beaten.TARGET_METRIC == 1e-3
    np.testing.assert_allclose(run.report.predictions[:3], [[100, -40, 40], [100, 40, 40],
                                                           [8, -2, 2]], atol=0.1)
    assert run.meets_target
    assert max(run.report.mae) < 0.1


def test_beaten_tables(beaten, data):
    net = tutorial.parity_network(metrics=())
    net.set_weights(exact_weights(data))
    exact = beaten.Run("2-4-4-3 exact", 7, 1.25, tutorial.report(net, data))
    poor = beaten.Run("2-4-4-3 exact", 8, 2.0, tutorial.report(tutorial.parity_network(), data))
    assert exact.meets_target and not poor.meets_target
    table = beaten.table([exact])
    assert "| 2-4-4-3 exact | 7 | 1.2 |" in table
    assert "100.00, -40.00, 40.00" in table and "| truth |" in table
    sweep = beaten.sweep([exact, poor])
    assert "| 2-4-4-3 exact | 2 |" in sweep and "| 1/2 |" in sweep


def test_beaten_needs_a_dataset_in_the_spec(beaten):
    spec = npframe.NetworkSpec.load(tutorial.parity_spec())
    with pytest.raises(ValueError, match=r"\[train\] table naming its dataset"):
        beaten.train(spec)


# -- classification --------------------------------------------------------------------------
@pytest.mark.parametrize("data_seed", [0, 1])
def test_two_moons_reach_97_percent_test_accuracy(data_seed):
    classification = load_example("classification")
    net, accuracy, _ = classification.run(EXAMPLES / "moons.toml", data_seed=data_seed)
    assert accuracy > 0.97
    assert net.spec.layers[-1].params["activation"] == "softmax"
    assert net.spec.loss.name == "categorical_crossentropy"


def test_moons_are_two_balanced_one_hot_classes():
    classification = load_example("classification")
    X, y = classification.make_moons(101, 0.0, np.random.default_rng(3))
    assert X.shape == (101, 2) and y.shape == (101, 2)
    assert set(y.sum(axis=1)) == {1.0} and y[:, 0].sum() == 50
    upper, lower = X[y[:, 0] == 1], X[y[:, 1] == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0)  # noise 0: exactly on the arcs
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0)
