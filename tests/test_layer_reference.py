"""The layer references are right before anything is compared with them.

Every analytic backward in ``layer_reference`` is checked against central finite
differences in float64, the running statistics against a loop over plain Python
floats, and the edge cases PyTorch documents (or enforces) one by one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from layer_reference import (
    batch_norm_backward,
    batch_norm_eval,
    batch_norm_train,
    dense_backward,
    dense_forward,
    dropout_backward,
    dropout_eval,
    dropout_forward,
    layer_norm_backward,
    layer_norm_forward,
)

EPS = 1e-6
RTOL = 1e-6
#: Central differences of an O(1) loss carry ~1e-10 of rounding; gradients that are
#: exactly 0 (a constant column's dL/dgamma) are compared with this absolute slack.
ATOL = 1e-8


def numerical_gradient(loss: Callable[[], float], a: np.ndarray) -> np.ndarray:
    """Central differences of ``loss()`` with respect to ``a``, which it reads in place."""
    grad = np.empty_like(a)
    for i in np.ndindex(a.shape):
        saved = a[i]
        a[i] = saved + EPS
        up = loss()
        a[i] = saved - EPS
        down = loss()
        a[i] = saved
        grad[i] = (up - down) / (2 * EPS)
    return grad


def assert_gradients(loss: Callable[[], float], arrays: dict[str, np.ndarray],
                     analytic: dict[str, np.ndarray]) -> None:
    for name, a in arrays.items():
        np.testing.assert_allclose(analytic[name], numerical_gradient(loss, a),
                                   rtol=RTOL, atol=ATOL, err_msg=f"dL/d{name}")


# --------------------------------------------------------------------------- dense


def test_dense_forward_is_x_at_W_plus_b_written_out(rng):
    x, W, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=2)
    expected = [[sum(x[i, k] * W[k, j] for k in range(4)) + b[j] for j in range(2)]
                for i in range(3)]
    np.testing.assert_allclose(dense_forward(x, W, b), expected, rtol=1e-14)


@pytest.mark.parametrize(("n", "fan_in", "units"), [(1, 1, 1), (5, 3, 4), (7, 6, 2)])
def test_dense_backward_matches_finite_differences(rng, n, fan_in, units):
    x, W, b = rng.normal(size=(n, fan_in)), rng.normal(size=(fan_in, units)), rng.normal(size=units)
    grad_y = rng.normal(size=(n, units))  # L = sum(y * grad_y), so dL/dy = grad_y
    grad_x, grad_W, grad_b = dense_backward(x, W, grad_y)
    assert_gradients(lambda: float(np.sum(dense_forward(x, W, b) * grad_y)),
                     {"x": x, "W": W, "b": b}, {"x": grad_x, "W": grad_W, "b": grad_b})


# --------------------------------------------------------------------------- dropout


def test_dropout_keeps_and_scales_or_zeroes(rng):
    x = rng.normal(size=(4, 5))
    mask = rng.random((4, 5)) >= 0.3
    y = dropout_forward(x, mask, 0.3)
    np.testing.assert_array_equal(y[~mask], 0.0)
    np.testing.assert_allclose(y[mask], x[mask] / 0.7, rtol=1e-15)
    assert mask.any() and (~mask).any()  # both branches were exercised


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.999])
def test_dropout_backward_matches_finite_differences(rng, rate):
    x, grad_y = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    mask = rng.random((6, 3)) >= 0.5
    assert_gradients(lambda: float(np.sum(dropout_forward(x, mask, rate) * grad_y)),
                     {"x": x}, {"x": dropout_backward(grad_y, mask, rate)})


def test_dropout_rate_zero_with_everything_kept_is_the_identity(rng):
    x = rng.normal(size=(3, 4))
    keep_all = np.ones((3, 4), dtype=bool)
    np.testing.assert_array_equal(dropout_forward(x, keep_all, 0.0), x)
    np.testing.assert_array_equal(dropout_backward(x, keep_all, 0.0), x)


def test_dropout_rate_close_to_one_scales_the_survivors_up(rng):
    x = rng.normal(size=(2, 3))
    mask = np.array([[True, False, False], [False, False, True]])
    y = dropout_forward(x, mask, 0.999)
    np.testing.assert_allclose(y[mask], 1000.0 * x[mask], rtol=1e-12)
    np.testing.assert_array_equal(y[~mask], 0.0)
    np.testing.assert_array_equal(dropout_forward(x, np.zeros((2, 3), dtype=bool), 0.999), 0.0)


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.9])
def test_inverted_scaling_keeps_the_expected_value(rng, rate):
    """What the 1/(1-rate) is for: averaged over keep-masks, training output == input."""
    x = rng.normal(size=(3, 4))
    draws = 20_000
    masks = rng.random((draws, 3, 4)) >= rate
    mean = dropout_forward(x, masks, rate).mean(axis=0)
    standard_error = np.abs(x) * np.sqrt(rate / (1 - rate) / draws)
    assert np.all(np.abs(mean - x) < 5 * standard_error)


def test_dropout_in_inference_is_the_identity(rng):
    x = rng.normal(size=(3, 4))
    y = dropout_eval(x)
    np.testing.assert_array_equal(y, x)
    assert y is not x


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rejects_a_rate_outside_zero_one(rate):
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        dropout_forward(np.ones((2, 2)), np.ones((2, 2), dtype=bool), rate)


def test_dropout_rejects_a_mask_that_is_not_boolean():
    with pytest.raises(TypeError, match="boolean keep-mask"):
        dropout_forward(np.ones((2, 2)), np.ones((2, 2)), 0.5)


# --------------------------------------------------------------------------- batch norm


def test_batch_norm_training_normalizes_each_column_with_the_biased_variance(rng):
    x = rng.normal(3.0, 2.0, size=(8, 3))
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 4.0])
    y, _, _, _ = batch_norm_train(x, gamma, beta, np.zeros(3), np.ones(3), 0.1, 1e-5)
    np.testing.assert_allclose(y.mean(axis=0), beta, atol=1e-13)
    # std of (y - beta)/gamma is sqrt(var/(var + eps)) with the biased var, not with ddof=1
    var = x.var(axis=0)
    np.testing.assert_allclose(((y - beta) / gamma).std(axis=0), np.sqrt(var / (var + 1e-5)),
                               rtol=1e-13)


BATCH_NORM_CASES = {
    "wide": (9, 4, False),
    "two samples": (2, 3, False),
    "constant column": (6, 3, True),
}


@pytest.mark.parametrize("case", BATCH_NORM_CASES)
def test_batch_norm_backward_matches_finite_differences(rng, case):
    n, features, constant = BATCH_NORM_CASES[case]
    x = rng.normal(1.0, 2.0, size=(n, features))
    if constant:
        x[:, 1] = 0.7
    gamma, beta = rng.uniform(0.5, 2.0, features), rng.normal(size=features)
    grad_y = rng.normal(size=(n, features))
    running = (rng.normal(size=features), rng.uniform(0.5, 2.0, features))

    def loss() -> float:
        return float(np.sum(batch_norm_train(x, gamma, beta, *running, 0.1, 1e-5)[0] * grad_y))

    cache = batch_norm_train(x, gamma, beta, *running, 0.1, 1e-5)[3]
    grad_x, grad_gamma, grad_beta = batch_norm_backward(grad_y, cache)
    assert_gradients(loss, {"x": x, "gamma": gamma, "beta": beta},
                     {"x": grad_x, "gamma": grad_gamma, "beta": grad_beta})


def hand_running_statistics(batches: list[np.ndarray], momentum: float,
                            ) -> tuple[list[float], list[float]]:
    """BatchNorm1d's update rule over plain Python floats, column by column."""
    features = batches[0].shape[1]
    mean, var = [0.0] * features, [1.0] * features
    for batch in batches:
        for j in range(features):
            column = [float(v) for v in batch[:, j]]
            m = sum(column) / len(column)
            unbiased = sum((v - m) ** 2 for v in column) / (len(column) - 1)
            mean[j] = (1 - momentum) * mean[j] + momentum * m
            var[j] = (1 - momentum) * var[j] + momentum * unbiased
    return mean, var


@pytest.mark.parametrize("momentum", [0.1, 0.3, 1.0])
def test_running_statistics_after_several_steps_follow_the_update_rule(rng, momentum):
    batches = [rng.normal(2.0, 3.0, size=(n, 3)) for n in (4, 7, 2, 5, 6)]
    gamma, beta = np.ones(3), np.zeros(3)
    running_mean, running_var = np.zeros(3), np.ones(3)
    for batch in batches:
        _, running_mean, running_var, _ = batch_norm_train(
            batch, gamma, beta, running_mean, running_var, momentum, 1e-5)
    mean, var = hand_running_statistics(batches, momentum)
    np.testing.assert_allclose(running_mean, mean, rtol=1e-13)
    np.testing.assert_allclose(running_var, var, rtol=1e-13)


def test_a_constant_column_gives_beta_and_shrinks_its_running_variance(rng):
    x = rng.normal(size=(5, 2))
    x[:, 0] = -3.0
    gamma, beta = np.array([2.0, 1.0]), np.array([0.25, 0.0])
    y, running_mean, running_var, _ = batch_norm_train(
        x, gamma, beta, np.zeros(2), np.ones(2), 0.1, 1e-5)
    np.testing.assert_array_equal(y[:, 0], 0.25)
    assert running_mean[0] == pytest.approx(-0.3, rel=1e-15)
    assert running_var[0] == pytest.approx(0.9, rel=1e-15)
    assert np.all(np.isfinite(y))


def test_batch_norm_in_inference_uses_the_running_statistics(rng):
    x = rng.normal(size=(4, 3))
    gamma, beta = rng.uniform(0.5, 2.0, 3), rng.normal(size=3)
    running_mean, running_var = rng.normal(size=3), rng.uniform(0.5, 2.0, 3)
    y = batch_norm_eval(x, gamma, beta, running_mean, running_var, 1e-5)
    for i in range(4):
        for j in range(3):
            expected = ((x[i, j] - running_mean[j]) / (running_var[j] + 1e-5) ** 0.5
                        * gamma[j] + beta[j])
            assert y[i, j] == pytest.approx(expected, rel=1e-14)
    # a fresh layer (running mean 0, variance 1) is nearly the identity
    np.testing.assert_allclose(batch_norm_eval(x, np.ones(3), np.zeros(3), np.zeros(3),
                                               np.ones(3), 1e-5), x / np.sqrt(1 + 1e-5))


def test_batch_norm_inference_of_one_sample_depends_on_nothing_else(rng):
    x = rng.normal(size=(4, 3))
    args = (np.ones(3), np.zeros(3), rng.normal(size=3), rng.uniform(0.5, 2.0, 3), 1e-5)
    np.testing.assert_array_equal(batch_norm_eval(x[:1], *args), batch_norm_eval(x, *args)[:1])


@pytest.mark.parametrize("shape", [(1, 3), (0, 3)])
def test_batch_norm_training_rejects_fewer_than_two_samples(shape):
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training"):
        batch_norm_train(np.ones(shape), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3))


# --------------------------------------------------------------------------- layer norm


def test_layer_norm_normalizes_each_sample_over_its_features(rng):
    x = rng.normal(3.0, 2.0, size=(5, 6))
    y, _ = layer_norm_forward(x, np.ones(6), np.zeros(6), 1e-5)
    var = x.var(axis=1)
    np.testing.assert_allclose(y.mean(axis=1), 0.0, atol=1e-13)
    np.testing.assert_allclose(y.std(axis=1), np.sqrt(var / (var + 1e-5)), rtol=1e-13)


LAYER_NORM_CASES = {
    "batch": (5, 4, False),
    "batch of one": (1, 5, False),
    "two features": (3, 2, False),
    "constant row": (4, 3, True),
}


@pytest.mark.parametrize("case", LAYER_NORM_CASES)
def test_layer_norm_backward_matches_finite_differences(rng, case):
    n, features, constant = LAYER_NORM_CASES[case]
    x = rng.normal(1.0, 2.0, size=(n, features))
    if constant:
        x[2] = -1.5
    gamma, beta = rng.uniform(0.5, 2.0, features), rng.normal(size=features)
    grad_y = rng.normal(size=(n, features))

    def loss() -> float:
        return float(np.sum(layer_norm_forward(x, gamma, beta, 1e-5)[0] * grad_y))

    grad_x, grad_gamma, grad_beta = layer_norm_backward(
        grad_y, layer_norm_forward(x, gamma, beta, 1e-5)[1])
    assert_gradients(loss, {"x": x, "gamma": gamma, "beta": beta},
                     {"x": grad_x, "gamma": grad_gamma, "beta": grad_beta})


def test_layer_norm_of_a_batch_of_one_is_that_sample_alone(rng):
    x = rng.normal(size=(4, 5))
    gamma, beta = rng.uniform(0.5, 2.0, 5), rng.normal(size=5)
    y, _ = layer_norm_forward(x, gamma, beta, 1e-5)
    for i in range(4):
        np.testing.assert_array_equal(layer_norm_forward(x[i:i + 1], gamma, beta, 1e-5)[0],
                                      y[i:i + 1])


def test_layer_norm_of_a_constant_row_is_beta(rng):
    beta = rng.normal(size=4)
    y, _ = layer_norm_forward(np.full((1, 4), 7.0), rng.uniform(0.5, 2.0, 4), beta, 1e-5)
    np.testing.assert_array_equal(y[0], beta)


# --------------------------------------------------------------------------- all


def call_every_reference(x: np.ndarray, mask: np.ndarray, params: np.ndarray,
                         grad_y: np.ndarray) -> None:
    features = x.shape[1]
    gamma, beta = params[:features], params[features:2 * features]
    running_mean, running_var = params[2 * features:3 * features], np.abs(params[3 * features:])
    W = np.outer(params[:features], params[:features])
    dense_backward(x, W, grad_y)
    dense_forward(x, W, beta)
    dropout_backward(grad_y, mask, 0.5)
    dropout_forward(x, mask, 0.5)
    dropout_eval(x)
    _, _, _, cache = batch_norm_train(x, gamma, beta, running_mean, running_var)
    batch_norm_backward(grad_y, cache)
    batch_norm_eval(x, gamma, beta, running_mean, running_var)
    _, cache = layer_norm_forward(x, gamma, beta)
    layer_norm_backward(grad_y, cache)


def test_no_reference_mutates_its_inputs(rng):
    arrays = {"x": rng.normal(size=(4, 3)), "mask": rng.random((4, 3)) >= 0.5,
              "params": rng.normal(size=12), "grad_y": rng.normal(size=(4, 3))}
    before = {name: a.copy() for name, a in arrays.items()}
    call_every_reference(**arrays)
    for name, a in arrays.items():
        np.testing.assert_array_equal(a, before[name], err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_references_compute_in_float64(rng, dtype):
    x = rng.normal(size=(4, 3)).astype(dtype)
    gamma, beta = np.ones(3, dtype), np.zeros(3, dtype)
    assert layer_norm_forward(x, gamma, beta)[0].dtype == np.float64
    assert batch_norm_train(x, gamma, beta, np.zeros(3, dtype), np.ones(3, dtype))[1].dtype \
        == np.float64
    assert dense_forward(x, np.ones((3, 2), dtype), np.zeros(2, dtype)).dtype == np.float64
