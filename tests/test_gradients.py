"""Whole-network weight gradients against central finite differences, in float64.

``Network.gradients`` runs exactly the forward/backward pass a training step runs, so
checking it checks backpropagation through every layer, activation and the loss.
"""

from __future__ import annotations

import numpy as np
import pytest

import npframe
from npframe import Network

EPS = 1e-6
RTOL = 1e-5
ATOL = 1e-8  # central differences of an O(1) loss are good to ~1e-10 absolute
#: Pre-activations are kept at least this far from 0, where ReLU-like functions bend;
#: a perturbation of EPS moves them by about EPS * |x|, far less.
MARGIN = 1e-3


def pre_activations(net: Network, X: np.ndarray) -> list[np.ndarray]:
    """Each dense layer's ``z = x @ W + b``."""
    zs, a = [], X
    for layer, params in zip(net.layers, net.loop.params, strict=True):
        zs.append(a @ params["W"] + params["b"])
        a, _ = layer.forward(a, params, training=False)
    return zs


def data_away_from_kinks(net: Network, rng: np.random.Generator, n: int, n_out: int,
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Inputs whose every hidden pre-activation is at least MARGIN away from 0."""
    for _ in range(200):
        X = rng.uniform(-1.5, 1.5, (n, net.n_inputs))
        if all(np.abs(z).min() > MARGIN for z in pre_activations(net, X)[:-1]):
            return X, rng.normal(size=(n, n_out))
    raise AssertionError("no data away from the kinks found; change the seed")


def finite_differences(net: Network, X: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """d evaluate / d every weight, by central differences; the weights end unchanged."""
    grads = []
    for p in net.loop.parameters:
        g = np.empty_like(p)
        for index in np.ndindex(p.shape):
            saved = p[index]
            p[index] = saved + EPS
            up = net.evaluate(X, y)
            p[index] = saved - EPS
            down = net.evaluate(X, y)
            p[index] = saved
            g[index] = (up - down) / (2 * EPS)
        grads.append(g)
    return grads


def check(net: Network, X: np.ndarray, y: np.ndarray) -> None:
    before = net.get_weights()
    loss, grads = net.gradients(X, y)
    assert loss == pytest.approx(net.evaluate(X, y), rel=1e-13)
    assert [g.shape for g in grads] == [p.shape for p in before]
    numeric = finite_differences(net, X, y)
    for i, (analytic, fd) in enumerate(zip(grads, numeric, strict=True)):
        name = f"{'Wb'[i % 2]}{i // 2 + 1}"
        np.testing.assert_allclose(analytic, fd, rtol=RTOL, atol=ATOL, err_msg=name)
    assert any(np.abs(g).max() > 1e-3 for g in grads)  # not vacuously zero
    assert all(np.array_equal(a, b) for a, b in zip(net.get_weights(), before, strict=True))


HIDDEN = sorted(set(npframe.registry.names("activation")))


@pytest.mark.parametrize("activation", HIDDEN)
def test_a_three_layer_network_with_each_hidden_activation(activation, rng):
    spec = {"input": 2, "seed": 3, "layers": [
        {"units": 4, "activation": activation},
        {"units": 4, "activation": activation},
        {"units": 3, "activation": "linear"},
    ]}
    net = Network.from_spec(spec)
    X, y = data_away_from_kinks(net, rng, 12, 3)
    check(net, X, y)


@pytest.mark.parametrize(("layers", "n_out"), [
    ([(5, "sigmoid"), (1, "sigmoid")], 1),
    ([(3, "relu"), (3, "linear"), (3, "relu"), (2, "linear")], 2),
    ([(6, "linear")], 6),
    ([(4, "relu"), (4, "sigmoid"), (4, "relu"), (4, "sigmoid"), (2, "linear")], 2),
])
def test_other_architectures(layers, n_out, rng):
    spec = {"input": 3, "seed": 11,
            "layers": [{"units": u, "activation": a} for u, a in layers]}
    net = Network.from_spec(spec)
    X, y = data_away_from_kinks(net, rng, 9, n_out)
    check(net, X, y if n_out > 1 else y[:, 0])


def test_gradients_after_training_and_with_standardize(tutorial_spec, rng):
    tutorial_spec["standardize"] = True
    net = Network.from_spec(tutorial_spec)
    X = rng.uniform(0, 100, (50, 2))
    y = np.column_stack([X.sum(axis=1), X[:, 0] - X[:, 1], np.abs(X[:, 0] - X[:, 1])])
    net.fit(X, y, epochs=20, batch_size=10)
    Xs = net.scaler.transform_x(X)
    keep = np.all([np.abs(z).min(axis=1) > MARGIN for z in pre_activations(net, Xs)[:-1]],
                  axis=0)
    assert keep.sum() > 25
    check(net, X[keep], y[keep])  # on the standardized scale, as training measures it


def test_one_sgd_step_is_minus_learning_rate_times_the_gradient(tutorial_spec, rng):
    net = Network.from_spec(tutorial_spec)
    X, y = rng.uniform(-1, 1, (20, 2)), rng.normal(size=(20, 3))
    before = net.get_weights()
    loss, grads = net.gradients(X, y)
    history = net.fit(X, y, epochs=1)
    assert history.loss == [pytest.approx(loss, rel=1e-13)]
    lr = net.optimizer.learning_rate
    # the training loop may fold the learning rate into the backward pass: equal up to
    # rounding, not bit for bit
    for new, old, g in zip(net.get_weights(), before, grads, strict=True):
        np.testing.assert_allclose(new, old - lr * g, rtol=1e-13, atol=1e-17)


def test_gradients_change_nothing(tutorial_spec, rng):
    net = Network.from_spec(tutorial_spec)
    X, y = rng.uniform(-1, 1, (20, 2)), rng.normal(size=(20, 3))
    reference = Network.from_spec(tutorial_spec)
    first = net.gradients(X, y)
    second = net.gradients(X[:7], y[:7])  # another batch size in between
    third = net.gradients(X, y)
    assert first[0] == third[0]
    assert all(np.array_equal(a, b) for a, b in zip(first[1], third[1], strict=True))
    assert second[0] != first[0]
    first[1][0][...] = 0  # copies, not the network's buffers
    assert not np.array_equal(net.gradients(X, y)[1][0], 0)
    net.fit(X, y, epochs=2, batch_size=5)
    reference.fit(X, y, epochs=2, batch_size=5)
    assert all(np.array_equal(a, b)
               for a, b in zip(net.get_weights(), reference.get_weights(), strict=True))
    assert net.epoch == 2
