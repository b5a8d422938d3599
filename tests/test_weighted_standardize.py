"""``sample_weight`` counts as repetition everywhere, the scaler's statistics included.

Found by scikit-learn's ``check_sample_weight_equivalence`` (tests/test_sklearn.py): the
standardizer ignored the weights, so weight k and k copies of a sample trained different
networks, and samples of weight 0 still moved the statistics.
"""

from __future__ import annotations

import numpy as np
import pytest

import npframe
from npframe.scaler import Standardizer, column_stats


def spec(standardize):
    return {"input": 3, "seed": 0, "standardize": standardize, "optimizer": "adam",
            "layers": [{"units": 4, "activation": "tanh"}, {"units": 2, "activation": "linear"}]}


def test_weighted_column_stats_equal_the_repeated_rows(rng):
    a = rng.normal(5.0, 3.0, (12, 3))
    w = rng.integers(0, 4, 12)
    mean, std = column_stats(a, weights=w.astype(float))
    np.testing.assert_allclose(mean, np.repeat(a, w, axis=0).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std, np.repeat(a, w, axis=0).std(axis=0), rtol=1e-12)
    mean32, std32 = column_stats(a.astype(np.float32), weights=w.astype(np.float32))
    assert mean32.dtype == std32.dtype == np.float32


def test_a_constant_weighted_column_keeps_std_one(rng):
    a = np.column_stack([np.ones(5), rng.normal(size=5)])
    _, std = column_stats(a, weights=np.array([1.0, 2, 0, 1, 1]))
    assert std[0] == 1.0


@pytest.mark.parametrize("standardize", [True, "inputs", "targets"])
def test_weights_are_repetitions_for_the_scaler(rng, standardize):
    X = rng.normal(10.0, 4.0, (20, 3))
    y = rng.normal(-3.0, 2.0, (20, 2))
    w = np.arange(20) % 3
    weighted = npframe.Network.from_spec(spec(standardize))
    weighted.fit(X, y, epochs=3, sample_weight=w, shuffle=False)
    repeated = npframe.Network.from_spec(spec(standardize))
    repeated.fit(np.repeat(X, w, axis=0), np.repeat(y, w, axis=0), epochs=3, shuffle=False)
    for key, value in repeated.scaler.state_dict().items():
        np.testing.assert_allclose(weighted.scaler.state_dict()[key], value, rtol=1e-12)
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-9)


def test_without_weights_the_statistics_are_unchanged(rng):
    X = rng.normal(size=(10, 3))
    plain = Standardizer.fit(X, None)
    np.testing.assert_array_equal(plain.x_mean, X.mean(axis=0))
    np.testing.assert_array_equal(plain.x_std, X.std(axis=0))


def test_all_zero_weights_are_an_error_before_anything_changes(rng):
    net = npframe.Network.from_spec(spec(True))
    before = net.get_weights()
    with pytest.raises(ValueError, match=r"^fit: the weight \(sample_weight, class_weight\) "
                                         r"of every training sample is zero"):
        net.fit(rng.normal(size=(6, 3)), rng.normal(size=(6, 2)), sample_weight=np.zeros(6))
    assert net.scaler is None and net.epoch == 0
    for a, b in zip(before, net.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
