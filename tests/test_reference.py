"""An independent reference: SGD epochs written out by hand in plain NumPy.

Nothing from npframe is used on the reference side except the starting weights, so a
wrong convention anywhere (the MSE's mean over samples *and* outputs, the order of
the batches, the short last batch, the mean of batch losses in the history) shows up.
"""

from __future__ import annotations

import numpy as np
import pytest

from npframe import Network

LR = 0.01


def relu(z):
    return np.maximum(z, 0.0)


def sgd_step(params, X, Y):
    """One SGD step on the tutorial's 2-4-4-3 ReLU-ReLU-linear net with mean MSE."""
    W1, b1, W2, b2, W3, b3 = params
    z1 = X @ W1 + b1
    a1 = relu(z1)
    z2 = a1 @ W2 + b2
    a2 = relu(z2)
    out = a2 @ W3 + b3
    n, k = Y.shape
    loss = np.sum((out - Y) ** 2) / (n * k)  # mean over samples and outputs
    d3 = 2.0 * (out - Y) / (n * k)
    gW3, gb3 = a2.T @ d3, d3.sum(axis=0)
    d2 = (d3 @ W3.T) * (z2 > 0)
    gW2, gb2 = a1.T @ d2, d2.sum(axis=0)
    d1 = (d2 @ W2.T) * (z1 > 0)
    gW1, gb1 = X.T @ d1, d1.sum(axis=0)
    grads = [gW1, gb1, gW2, gb2, gW3, gb3]
    return [p - LR * g for p, g in zip(params, grads, strict=True)], loss


def reference_epoch(params, X, Y, batch_size):
    """Batches in order, the last one short; returns new params and the mean batch loss."""
    losses = []
    n = X.shape[0]
    size = n if batch_size is None else batch_size
    for start in range(0, n, size):
        params, loss = sgd_step(params, X[start:start + size], Y[start:start + size])
        losses.append(loss)
    return params, sum(losses) / len(losses), len(losses)


@pytest.fixture
def problem(tutorial_spec, rng):
    X = rng.uniform(-2, 2, (200, 2))
    Y = np.column_stack([X.sum(axis=1), X[:, 0] - X[:, 1], np.abs(X[:, 0] - X[:, 1])])
    net = Network.from_spec(tutorial_spec)
    assert net.optimizer.learning_rate == LR
    return net, X, Y


@pytest.mark.parametrize(("batch_size", "n_batches"), [(None, 1), (64, 4)])
def test_sgd_epochs_match_the_hand_written_computation(problem, batch_size, n_batches):
    net, X, Y = problem
    params = net.get_weights()
    for _ in range(3):
        history = net.fit(X, Y, epochs=1, batch_size=batch_size, shuffle=False)
        params, mean_loss, batches = reference_epoch(params, X, Y, batch_size)
        assert batches == n_batches  # 200 = 3 * 64 + 8: the short batch is kept
        assert history.loss[0] == pytest.approx(mean_loss, rel=1e-12)
        for ours, theirs in zip(net.get_weights(), params, strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert net.epoch == 3


def test_several_epochs_in_one_fit_match_too(problem):
    net, X, Y = problem
    params = net.get_weights()
    history = net.fit(X, Y, epochs=4, batch_size=64, shuffle=False)
    losses = []
    for _ in range(4):
        params, loss, _ = reference_epoch(params, X, Y, 64)
        losses.append(loss)
    np.testing.assert_allclose(history.loss, losses, rtol=1e-12)
    for ours, theirs in zip(net.get_weights(), params, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_the_reference_itself_is_not_trivial(problem):
    net, X, Y = problem
    start = net.get_weights()
    after, _, _ = reference_epoch(start, X, Y, 64)
    assert all(np.abs(a - s).max() > 1e-6 for a, s in zip(after, start, strict=True))
