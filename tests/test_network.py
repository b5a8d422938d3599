"""``Network``: fit, predict, evaluate, weights, dtype, determinism, callbacks, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import npframe
from npframe import Callback, DivergenceError, Loss, Network, Optimizer

SMALL = {
    "input": 2, "seed": 7,
    "optimizer": {"name": "sgd", "learning_rate": 0.05},
    "layers": [{"units": 5, "activation": "sigmoid"}, {"units": 3, "activation": "linear"}],
}


def small_spec(**changes):
    return {**SMALL, **changes}


@pytest.fixture
def data(rng):
    X = rng.uniform(-1, 1, (40, 2))
    y = np.column_stack([X[:, 0] + X[:, 1], X[:, 0] - X[:, 1], X[:, 0] * X[:, 1]])
    return X, y


def weights_equal(a, b) -> bool:
    return len(a) == len(b) and all(
        x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b, strict=True))


class SpyLoss(Loss):
    """MSE that records every training batch it sees and the loss it returned."""

    def __init__(self) -> None:
        self.batches: list[tuple[np.ndarray, float]] = []

    def value(self, y_true, y_pred):
        return float(np.mean((y_pred - y_true) ** 2))

    def gradient(self, y_true, y_pred):
        return 2 * (y_pred - y_true) / y_pred.size

    def value_and_gradient(self, y_true, y_pred):
        value = self.value(y_true, y_pred)
        self.batches.append((y_true.copy(), value))
        return value, self.gradient(y_true, y_pred)


@pytest.fixture
def spy_registry(registry):
    registry.register("loss", "spy", SpyLoss)
    return registry


# -- the basics -----------------------------------------------------------------------------------
def test_fit_predict_evaluate_and_weights(data):
    X, y = data
    net = Network.from_spec(SMALL)
    weights = net.get_weights()
    assert [w.shape for w in weights] == [(2, 5), (5,), (5, 3), (3,)]
    assert all(np.array_equal(b, np.zeros_like(b)) for b in weights[1::2])  # biases start at 0
    before = net.evaluate(X, y)
    history = net.fit(X, y, epochs=5)
    assert isinstance(history, npframe.History)
    assert len(history.loss) == 5
    assert all(type(v) is float for v in history.loss)
    assert history.val_loss == []
    # full batch: epoch 0's loss is the loss before training (memory layouts may differ
    # between training and evaluate, so equal up to rounding)
    assert history.loss[0] == pytest.approx(before, rel=1e-13)
    assert history.loss == sorted(history.loss, reverse=True)
    assert net.epoch == 5
    pred = net.predict(X)
    assert pred.shape == (40, 3)
    assert net.evaluate(X, y) == pytest.approx(np.mean((pred - y) ** 2), rel=1e-12)
    assert net.evaluate(X, y) < before


def test_predict_is_the_forward_pass_written_out(data):
    X, _ = data
    net = Network.from_spec(SMALL)
    W1, b1, W2, b2 = net.get_weights()
    hidden = 1 / (1 + np.exp(-(X @ W1 + b1)))
    np.testing.assert_allclose(net.predict(X), hidden @ W2 + b2, rtol=1e-12)


def test_get_weights_returns_copies_and_set_weights_replaces_them(data, rng):
    X, _ = data
    net = Network.from_spec(SMALL)
    weights = net.get_weights()
    weights[0][...] = 123.0
    assert not np.any(net.get_weights()[0] == 123.0)
    new = [rng.normal(size=w.shape) for w in weights]
    net.set_weights(new)
    assert weights_equal(net.get_weights(), new)
    new[0][...] = 0  # set_weights copied, too
    assert not np.array_equal(net.get_weights()[0], new[0])
    other = Network.from_spec(small_spec(seed=99))
    other.set_weights(net.get_weights())
    np.testing.assert_array_equal(other.predict(X), net.predict(X))


def test_set_weights_accepts_lists_and_other_dtypes():
    net = Network.from_spec(small_spec(dtype="float32"))
    lists = [w.astype(np.float64).tolist() for w in net.get_weights()]
    net.set_weights(lists)
    assert all(w.dtype == np.float32 for w in net.get_weights())


def test_a_1d_y_is_one_output(rng):
    X = rng.uniform(-1, 1, (30, 2))
    y = X.sum(axis=1)
    spec = small_spec(layers=[{"units": 4, "activation": "sigmoid"},
                              {"units": 1, "activation": "linear"}])
    a, b = Network.from_spec(spec), Network.from_spec(spec)
    ha = a.fit(X, y, epochs=3, batch_size=8)
    hb = b.fit(X, y[:, None], epochs=3, batch_size=8)
    assert ha.loss == hb.loss
    assert weights_equal(a.get_weights(), b.get_weights())
    assert a.predict(X).shape == (30, 1)
    assert a.evaluate(X, y) == a.evaluate(X, y[:, None])


def test_repr_and_sizes():
    net = Network.from_spec(SMALL)
    assert repr(net) == "<Network 2-5-3 float64 epoch=0>"
    assert net.n_parameters == 2 * 5 + 5 + 5 * 3 + 3


# -- dtype ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("batch_size", [None, 16])
def test_float32_is_kept_end_to_end(data, standardize, batch_size):
    X, y = data
    net = Network.from_spec(small_spec(dtype="float32", standardize=standardize))
    assert all(w.dtype == np.float32 for w in net.get_weights())
    _, grads = net.gradients(X, y)
    assert all(g.dtype == np.float32 for g in grads)
    history = net.fit(X, y, epochs=3, batch_size=batch_size, validation_data=(X, y))
    assert all(w.dtype == np.float32 for w in net.get_weights())
    assert all(np.isfinite(v) for v in history.loss + history.val_loss)
    assert net.predict(X).dtype == np.float32
    assert net.predict(X.astype(np.int64)).dtype == np.float32
    assert all(g.dtype == np.float32 for g in net.gradients(X, y)[1])
    if standardize:
        assert all(a.dtype == np.float32 for a in net.scaler.state_dict().values())


def test_float64_is_the_default_and_int_inputs_are_converted():
    net = Network.from_spec(SMALL)
    X = np.array([[1, 2], [3, 4]])
    assert net.predict(X).dtype == np.float64
    np.testing.assert_array_equal(net.predict(X), net.predict(X.astype(float)))


# -- determinism and randomness -------------------------------------------------------------------
@pytest.mark.parametrize(("batch_size", "shuffle"), [(None, True), (7, True), (7, False)])
def test_same_spec_seed_and_data_give_bit_identical_weights(data, batch_size, shuffle):
    X, y = data
    runs = []
    for _ in range(2):
        net = Network.from_spec(small_spec(dtype="float32"))
        history = net.fit(X, y, epochs=4, batch_size=batch_size, shuffle=shuffle)
        runs.append((net.get_weights(), history.loss))
    assert weights_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    different = Network.from_spec(small_spec(dtype="float32", seed=8))
    different.fit(X, y, epochs=4, batch_size=batch_size, shuffle=shuffle)
    assert not weights_equal(runs[0][0], different.get_weights())


def test_shuffling_uses_its_own_seeded_stream_and_never_numpys_global_state(data):
    X, y = data
    state = np.random.get_state()  # noqa: NPY002 - the global state is what is checked
    shuffled = Network.from_spec(SMALL)
    ordered = Network.from_spec(SMALL)
    assert weights_equal(shuffled.get_weights(), ordered.get_weights())  # same init either way
    shuffled.fit(X, y, epochs=3, batch_size=8, shuffle=True)
    ordered.fit(X, y, epochs=3, batch_size=8, shuffle=False)
    Network.from_spec({**SMALL, "seed": None}).fit(X, y, epochs=1, batch_size=8)
    after = np.random.get_state()  # noqa: NPY002
    assert state[0] == after[0]
    assert np.array_equal(state[1], after[1])
    assert state[2:] == after[2:]
    assert not weights_equal(shuffled.get_weights(), ordered.get_weights())


def test_each_shuffled_epoch_visits_every_sample_once(spy_registry, data):
    X, y = data
    net = Network.from_spec(small_spec(loss="spy"), registry=spy_registry)
    net.fit(X, y, epochs=2, batch_size=16, shuffle=True)
    sizes = [b.shape[0] for b, _ in net.loss.batches]
    assert sizes == [16, 16, 8, 16, 16, 8]
    first = np.concatenate([b for b, _ in net.loss.batches[:3]])
    second = np.concatenate([b for b, _ in net.loss.batches[3:]])
    key = np.lexsort(y.T)
    np.testing.assert_array_equal(first[np.lexsort(first.T)], y[key])
    np.testing.assert_array_equal(second[np.lexsort(second.T)], y[key])
    assert not np.array_equal(first, y)
    assert not np.array_equal(first, second)


def test_minibatches_in_order_keep_the_short_last_batch(spy_registry, data):
    X, y = data
    net = Network.from_spec(small_spec(loss="spy"), registry=spy_registry)
    history = net.fit(X[:10], y[:10], epochs=2, batch_size=4, shuffle=False)
    batches = net.loss.batches
    assert [b.shape[0] for b, _ in batches] == [4, 4, 2, 4, 4, 2]
    for (b, _), (start, stop) in zip(batches, [(0, 4), (4, 8), (8, 10)] * 2, strict=True):
        np.testing.assert_array_equal(b, y[start:stop])
    losses = [v for _, v in batches]
    assert history.loss == [np.mean(losses[:3]), np.mean(losses[3:])]


def test_a_batch_larger_than_the_data_is_one_full_batch(spy_registry, data):
    X, y = data
    net = Network.from_spec(small_spec(loss="spy"), registry=spy_registry)
    net.fit(X, y, epochs=1, batch_size=1000)
    assert [b.shape[0] for b, _ in net.loss.batches] == [40]


# -- validation -----------------------------------------------------------------------------------
def test_validation_data_gives_val_loss_after_each_epoch(data):
    X, y = data
    Xv, yv = X[:10] + 0.1, y[:10]
    seen = []

    class Check:
        def on_epoch_end(self, epoch, logs):
            seen.append((logs["val_loss"], net.evaluate(Xv, yv)))

    net = Network.from_spec(SMALL)
    history = net.fit(X, y, epochs=3, validation_data=(Xv, yv), callbacks=[Check()])
    assert len(history.val_loss) == 3
    assert [a for a, _ in seen] == history.val_loss
    assert all(a == pytest.approx(b, rel=1e-13) for a, b in seen)


def test_validation_split_holds_out_the_last_samples(spy_registry, data):
    X, y = data
    net = Network.from_spec(small_spec(loss="spy"), registry=spy_registry)
    history = net.fit(X, y, epochs=2, validation_split=0.25)
    trained_on = net.loss.batches[0][0]
    np.testing.assert_array_equal(trained_on, y[:30])
    assert history.val_loss[-1] == pytest.approx(net.evaluate(X[30:], y[30:]), rel=1e-13)


def test_validation_data_wins_over_validation_split(data):
    X, y = data
    net = Network.from_spec(SMALL)
    history = net.fit(X, y, epochs=1, validation_data=(X[:5], y[:5]), validation_split=0.5)
    assert history.val_loss == [pytest.approx(net.evaluate(X[:5], y[:5]), rel=1e-13)]


# -- callbacks ------------------------------------------------------------------------------------
def test_duck_typed_callbacks_get_every_hook_in_order(data):
    X, y = data
    calls = []

    class Recorder:
        def set_network(self, network):
            calls.append(("set_network", network))

        def on_train_begin(self, logs):
            calls.append(("train_begin", logs))

        def on_epoch_begin(self, epoch, logs):
            calls.append(("epoch_begin", epoch))

        def on_epoch_end(self, epoch, logs):
            calls.append(("epoch_end", epoch, sorted(logs)))

        def on_train_end(self, logs):
            calls.append(("train_end", logs))

    class OnlyEnd:
        def __init__(self):
            self.epochs = []

        def on_epoch_end(self, epoch, logs):
            self.epochs.append(epoch)

    only_end = OnlyEnd()
    net = Network.from_spec(SMALL)
    net.fit(X, y, epochs=2, validation_data=(X, y), callbacks=[Recorder(), only_end])
    assert calls == [
        ("set_network", net),
        ("train_begin", {"epochs": 2, "initial_epoch": 0, "steps_per_epoch": 1,
                         "plan": npframe.TrainingPlan(epochs=2, steps_per_epoch=1)}),
        ("epoch_begin", 0), ("epoch_end", 0, ["loss", "val_loss"]),
        ("epoch_begin", 1), ("epoch_end", 1, ["loss", "val_loss"]),
        ("train_end", {"epochs_trained": 2}),
    ]
    assert only_end.epochs == [0, 1]


def test_a_callback_can_stop_training(data):
    X, y = data

    class StopAt(Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 2:
                self.network.stop_training = True

    net = Network.from_spec(SMALL)
    history = net.fit(X, y, epochs=10, callbacks=[StopAt()])
    assert len(history.loss) == 3
    assert net.epoch == 3
    assert len(net.fit(X, y, epochs=2).loss) == 2  # the flag is reset by the next fit


def test_epochs_are_numbered_across_fit_calls(data):
    X, y = data
    net = Network.from_spec(SMALL)
    first = net.fit(X, y, epochs=3)
    seen = []

    class Seen:
        def on_train_begin(self, logs):
            seen.append(logs["initial_epoch"])

        def on_epoch_end(self, epoch, logs):
            seen.append(epoch)

    second = net.fit(X, y, epochs=2, callbacks=Seen())
    assert first.epochs == [0, 1, 2]
    assert second.epochs == [3, 4]
    assert seen == [3, 3, 4]
    assert net.epoch == 5
    # two fits of 3 + 2 epochs are one fit of 5
    once = Network.from_spec(SMALL)
    once.fit(X, y, epochs=5)
    assert weights_equal(once.get_weights(), net.get_weights())


@pytest.mark.parametrize("callbacks", [[Callback], [print], ["x"], [object()]])
def test_things_that_are_not_callbacks_are_rejected(data, callbacks):
    X, y = data
    net = Network.from_spec(SMALL)
    with pytest.raises(TypeError, match=r"^fit: callbacks\[0\] \(\w+\) defines none of "
                                        r"on_train_begin, on_epoch_begin, on_epoch_end, "
                                        r"on_train_end"):
        net.fit(X, y, epochs=1, callbacks=callbacks)
    assert net.epoch == 0


# -- bad input leaves the network exactly as it was -----------------------------------------------
def _with(array, index, value):
    out = np.array(array, dtype=float)
    out[index] = value
    return out


X0 = np.linspace(-1, 1, 20).reshape(10, 2)
Y0 = np.linspace(0, 1, 30).reshape(10, 3)

BAD_CALLS = {
    "nan in X": (lambda n: n.fit(_with(X0, (3, 1), np.nan), Y0, epochs=1),
                 r"fit: X contains nan at row 3, column 1; remove or impute non-finite values"),
    "inf in y": (lambda n: n.fit(X0, _with(Y0, (9, 0), -np.inf), epochs=1),
                 r"fit: y contains -inf at row 9, column 0"),
    "too many features": (lambda n: n.fit(np.ones((10, 3)), Y0, epochs=1),
                          r"fit: expected 2 features, got 3"),
    "too few outputs": (lambda n: n.fit(X0, np.ones((10, 2)), epochs=1),
                        r"fit: expected 3 outputs, got 2"),
    "1-D y for three outputs": (lambda n: n.fit(X0, np.ones(10), epochs=1),
                                r"fit: expected y of shape \(n_samples, 3\), got \(10,\)"),
    "1-D X": (lambda n: n.fit(np.ones(10), Y0, epochs=1),
              r"fit: expected X of shape \(n_samples, 2\), got \(10,\) \(use X\.reshape"),
    "sample counts differ": (lambda n: n.fit(X0, Y0[:9], epochs=1),
                             r"fit: X has 10 samples but y has 9; they must match"),
    "no samples": (lambda n: n.fit(np.ones((0, 2)), np.ones((0, 3)), epochs=1),
                   r"fit: X has no samples"),
    "strings": (lambda n: n.fit([["a", "b"]], [[1, 2, 3]], epochs=1),
                r"fit: X must be numeric \(got an array of dtype <U1\)"),
    "ragged": (lambda n: n.fit([[1.0, 2.0], [1.0]], Y0[:2], epochs=1),
               r"fit: X could not be read as a numeric array"),
    "complex": (lambda n: n.fit(X0 + 1j, Y0, epochs=1), r"fit: X must be real, not complex"),
    "too large for float32": (lambda n: n.fit(_with(X0, (2, 0), 1e300), Y0, epochs=1),
                              r"fit: X holds 1e\+300 at row 2, column 0, beyond the range of "
                              r"float32"),
    "epochs negative": (lambda n: n.fit(X0, Y0, epochs=-1),
                        r"fit: epochs must be an int >= 0 \(got -1\)"),
    "epochs float": (lambda n: n.fit(X0, Y0, epochs=2.0),
                     r"fit: epochs must be an int >= 0 \(got 2\.0\)"),
    "epochs bool": (lambda n: n.fit(X0, Y0, epochs=True),
                    r"fit: epochs must be an int >= 0 \(got True\)"),
    "batch_size zero": (lambda n: n.fit(X0, Y0, batch_size=0),
                        r"fit: batch_size must be None \(full batch\) or an int >= 1 \(got 0\)"),
    "batch_size float": (lambda n: n.fit(X0, Y0, batch_size=4.0),
                         r"fit: batch_size must be None \(full batch\) or an int >= 1"),
    "validation not a pair": (lambda n: n.fit(X0, Y0, validation_data=X0),
                              r"fit: validation_data must be a pair \(X_val, y_val\)"),
    "validation nan": (lambda n: n.fit(X0, Y0, validation_data=(X0, _with(Y0, (0, 0), np.nan))),
                       r"fit validation_data: y contains nan at row 0, column 0"),
    "validation features": (lambda n: n.fit(X0, Y0, validation_data=(np.ones((2, 5)), Y0[:2])),
                            r"fit validation_data: expected 2 features, got 5"),
    "validation_split one": (lambda n: n.fit(X0, Y0, validation_split=1.0),
                             r"fit: validation_split must be in \[0, 1\) \(got 1\.0\)"),
    "validation_split string": (lambda n: n.fit(X0, Y0, validation_split="0.2"),
                                r"fit: validation_split must be in \[0, 1\) \(got '0\.2'\)"),
    "validation_split empty": (lambda n: n.fit(X0[:2], Y0[:2], validation_split=0.1),
                               r"fit: validation_split=0\.1 of 2 samples leaves an empty"),
    "predict features": (lambda n: n.predict(np.ones((4, 3))), r"predict: expected 2 features, "
                                                               r"got 3"),
    "predict nan": (lambda n: n.predict(_with(X0, (0, 0), np.nan)), r"predict: X contains nan"),
    "evaluate inf": (lambda n: n.evaluate(X0, _with(Y0, (1, 2), np.inf)),
                     r"evaluate: y contains inf at row 1, column 2"),
    "evaluate counts": (lambda n: n.evaluate(X0[:3], Y0), r"evaluate: X has 3 samples but y has "
                                                          r"10"),
    "gradients outputs": (lambda n: n.gradients(X0, Y0[:, :2]), r"gradients: expected 3 outputs"),
    "set_weights count": (lambda n: n.set_weights(n.get_weights()[:3]),
                          r"set_weights: expected 4 arrays \(W1, b1, W2, b2\), got 3"),
    "set_weights shape": (lambda n: n.set_weights([np.ones((2, 4)), *n.get_weights()[1:]]),
                          r"set_weights: W1 must have shape \(2, 5\), got \(2, 4\)$"),
    "set_weights transposed": (lambda n: n.set_weights([w.T for w in n.get_weights()]),
                               r"set_weights: W1 must have shape \(2, 5\), got \(5, 2\) "
                               r"\(transposed\? W is \(fan_in, fan_out\)\)"),
    "set_weights bias shape": (lambda n: n.set_weights([*n.get_weights()[:3], np.ones(4)]),
                               r"set_weights: b2 must have shape \(3,\), got \(4,\)"),
    "set_weights last nan": (lambda n: n.set_weights(
        [*n.get_weights()[:3], np.array([0.0, np.nan, 0.0])]),
        r"set_weights: b2 holds nan at \(1,\); weights must be finite"),
    "set_weights complex": (lambda n: n.set_weights([*n.get_weights()[:3], np.ones(3) * 1j]),
                            r"set_weights: b2 must hold real numbers \(got dtype complex128\)"),
    "set_weights bool": (lambda n: n.set_weights([*n.get_weights()[:3], np.ones(3, bool)]),
                         r"set_weights: b2 must hold real numbers \(got dtype bool\)"),
    "set_weights float32 overflow": (lambda n: n.set_weights(
        [*n.get_weights()[:3], np.array([0.0, 0.0, 1e300])]),
        r"set_weights: b2 holds 1e\+300 at row 2, beyond the range of float32"),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_input_is_a_value_error_and_changes_nothing(data, case):
    call, pattern = BAD_CALLS[case]
    net = Network.from_spec(small_spec(dtype="float32", standardize=True))
    X, y = data
    net.fit(X, y, epochs=1, batch_size=8)
    weights = net.get_weights()
    rng_state = net.loop.shuffle_rng.bit_generator.state
    scaler = net.scaler.state_dict()
    with pytest.raises(ValueError, match=f"^{pattern}"):
        call(net)
    assert weights_equal(net.get_weights(), weights)
    assert net.epoch == 1
    assert net.loop.shuffle_rng.bit_generator.state == rng_state
    assert all(np.array_equal(v, scaler[k]) for k, v in net.scaler.state_dict().items())


def test_standardize_stats_are_not_fitted_by_a_failing_first_fit(data):
    net = Network.from_spec(small_spec(standardize=True))
    with pytest.raises(ValueError):
        net.fit(data[0], data[1][:5])
    assert net.scaler is None


# -- divergence -----------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [None, 2000])
def test_a_diverging_loss_raises_before_overflow_and_rolls_back_to_a_finite_loss(
        tutorial_spec, tutorial_data, batch_size):
    # raw data and no ReLU to die: the loss blows up after a few epochs
    tutorial_spec["optimizer"] = {"name": "sgd", "learning_rate": 5e-5}
    for layer in tutorial_spec["layers"]:
        layer["activation"] = "linear"
    net = Network.from_spec(tutorial_spec)
    snapshots = {}

    class Snapshot:
        def on_epoch_begin(self, epoch, logs):
            snapshots[epoch] = (net.get_weights(), net.loop.shuffle_rng.bit_generator.state)

    with pytest.raises(DivergenceError, match=r"^fit: the loss (became (nan|inf|-inf)|exploded "
                                              r"to \S+, over 1e\+06 times the first loss of this "
                                              r"fit \(\S+\)) in epoch (\d+) .*rolled back to "
                                              r"epoch (\d+).*try a smaller one") as info:
        net.fit(tutorial_data.X, tutorial_data.y, epochs=50, batch_size=batch_size,
                callbacks=[Snapshot()])
    assert isinstance(info.value, FloatingPointError)
    back_to = int(str(info.value).split("rolled back to epoch ")[1].split()[0].rstrip(","))
    assert net.epoch == back_to
    weights, rng_state = snapshots[back_to]
    assert weights_equal(net.get_weights(), weights)  # a state that was verified finite
    assert net.loop.shuffle_rng.bit_generator.state == rng_state
    assert np.isfinite(net.evaluate(tutorial_data.X, tutorial_data.y))
    # the advice works: a smaller learning rate continues from there
    net.optimizer.learning_rate = 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", npframe.ConvergenceWarning)  # 1e-12 learns nothing
        history = net.fit(tutorial_data.X, tutorial_data.y, epochs=2, batch_size=batch_size)
    assert all(np.isfinite(history.loss))


class Explode(Optimizer):
    """Writes inf into the weights on its third step: the loss it saw was still finite."""

    def __init__(self) -> None:
        self.steps = 0

    def step(self, params, grads):
        self.steps += 1
        for p, g in zip(params, grads, strict=True):
            p -= 0.01 * g
            if self.steps == 3:
                p[...] = np.inf


def test_weights_that_overflow_after_the_last_step_are_caught_too(registry, data):
    registry.register("optimizer", "explode", Explode)
    X, y = data
    net = Network.from_spec(small_spec(optimizer="explode"), registry=registry)
    net.fit(X, y, epochs=2)
    before = net.get_weights()
    with pytest.raises(DivergenceError, match=r"^fit: the weights overflowed in epoch 2 \(the "
                                              r"loss was still \d"):
        net.fit(X, y, epochs=5)
    assert weights_equal(net.get_weights(), before)
    assert net.epoch == 2


# -- standardize ----------------------------------------------------------------------------------
def test_standardize_fits_statistics_on_the_first_fit_and_predicts_raw_scale(data):
    X, y = data
    X, y = X * 50 + 10, y * 1000 - 3
    net = Network.from_spec(small_spec(standardize=True))
    net.fit(X, y, epochs=2)
    np.testing.assert_allclose(net.scaler.x_mean, X.mean(axis=0))
    np.testing.assert_allclose(net.scaler.x_std, X.std(axis=0))
    np.testing.assert_allclose(net.scaler.y_mean, y.mean(axis=0))
    np.testing.assert_allclose(net.scaler.y_std, y.std(axis=0))
    stats = net.scaler.state_dict()
    net.fit(X[:10] * 3, y[:10], epochs=1)  # later fits keep the first statistics
    assert all(np.array_equal(v, stats[k]) for k, v in net.scaler.state_dict().items())
    # predict: standardized forward pass mapped back to the raw target scale
    W1, b1, W2, b2 = net.get_weights()
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    raw = (1 / (1 + np.exp(-(Xs @ W1 + b1))) @ W2 + b2) * y.std(axis=0) + y.mean(axis=0)
    np.testing.assert_allclose(net.predict(X), raw, rtol=1e-10)
    # evaluate: the loss on the standardized scale, as training measures it
    ys = (y - y.mean(axis=0)) / y.std(axis=0)
    standardized = (raw - y.mean(axis=0)) / y.std(axis=0)
    assert net.evaluate(X, y) == pytest.approx(np.mean((standardized - ys) ** 2), rel=1e-10)


def test_training_reduces_the_loss_on_the_tutorial_data(tutorial_spec, tutorial_data):
    tutorial_spec["standardize"] = True
    d = tutorial_data
    net = Network.from_spec(tutorial_spec)
    test_before = net.evaluate(d.X_test, d.y_test)
    full = net.fit(d.X, d.y, epochs=150)
    assert full.loss[-1] < 0.5 * full.loss[0]
    assert all(b <= a for a, b in zip(full.loss, full.loss[1:], strict=False))
    mini = net.fit(d.X, d.y, epochs=3, batch_size=64)
    assert mini.loss[-1] < full.loss[-1]
    assert net.evaluate(d.X_test, d.y_test) < 0.5 * test_before
