"""npframe-example's tests, written the way every plugin can write them.

npframe's kit is a pytest plugin, so the fixtures ``npframe_registry`` and
``npframe_rng`` are available here without an import or a conftest.py. The
``npframe_distribution`` option in pyproject.toml makes the session load only this
distribution and npframe's built-ins, whatever else is installed.
"""

from __future__ import annotations

import math

import npframe_example
import numpy as np
import pytest

import npframe
from npframe.testing import (
    check_activation,
    check_initializer,
    check_layer,
    check_registered,
    components_of,
)

DISTRIBUTION = "npframe-example"


def test_every_component_is_registered_by_this_distribution(npframe_registry):
    for kind, name, factory in npframe_example.COMPONENTS:
        entry = npframe_registry.entry(kind, name)
        assert entry.factory is factory
        assert entry.owner == DISTRIBUTION


# The conformance kit over everything this distribution registers: one test per component.
@pytest.mark.parametrize(("kind", "name", "params"), components_of(DISTRIBUTION))
def test_component_passes_the_kit(kind, name, params):
    check_registered(kind, name, params=params)


@pytest.mark.parametrize("alpha", [0.25, 1.0, 7.5])
def test_snake_passes_the_kit_for_any_alpha(npframe_registry, alpha):
    check_activation(npframe_registry.create("activation", {"name": "snake", "alpha": alpha}))


def test_snake_rejects_a_non_positive_alpha_with_the_spec_path():
    spec = {"input": 1, "layers": [{"units": 1, "activation": {"name": "snake", "alpha": 0}}]}
    with pytest.raises(npframe.SpecError, match=r"^layers\[0\]\.activation\.alpha: must be > 0"):
        npframe.Network.from_spec(spec)


def test_snake_is_periodic_around_the_identity():
    snake = npframe_example.Snake(alpha=2.0)
    z = np.linspace(-3, 3, 13).reshape(1, -1)
    assert np.allclose(snake.forward(z + math.pi / 2.0) - snake.forward(z), math.pi / 2.0)


def test_log_cosh_is_quadratic_near_zero_and_linear_far_out():
    loss = npframe_example.LogCosh()
    zero = np.zeros((1, 1))
    assert loss.value(zero, np.full((1, 1), 1e-3)) == pytest.approx(0.5e-6, rel=1e-6)
    assert loss.value(zero, np.full((1, 1), 800.0)) == pytest.approx(800.0 - math.log(2.0))


@pytest.mark.parametrize("shape", [(6, 6), (9, 4), (4, 9)])
def test_orthogonal_is_orthogonal(npframe_rng, shape):
    W = npframe_example.Orthogonal(gain=2.0)(shape, npframe_rng)
    small = min(shape)
    gram = W.T @ W if shape[0] >= shape[1] else W @ W.T
    assert np.allclose(gram, 4.0 * np.eye(small))


def test_orthogonal_with_a_gain_passes_the_kit():
    check_initializer(npframe_example.Orthogonal(gain=2.0))


def test_lion_first_step_is_a_sign_step():
    lion = npframe_example.Lion(learning_rate=0.1)
    p = np.array([1.0, -1.0, 0.5])
    lion.step([p], [np.array([3.0, -0.2, 0.0])])
    assert np.array_equal(p, [0.9, -0.9, 0.5])
    assert set(lion.state_dict()) == {"m.0"}


def test_lion_refuses_foreign_state():
    with pytest.raises(ValueError, match=r"unexpected: velocity\.0"):
        npframe_example.Lion().load_state_dict({"velocity.0": np.zeros(3)})


def test_linear_warmup_ramps_then_holds():
    warmup = npframe_example.LinearWarmup(warmup_epochs=4, start_factor=0.2)
    assert [warmup(e) for e in range(6)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0])


def test_max_error_is_the_worst_case():
    assert npframe_example.MaxError()(np.zeros((2, 2)), np.array([[0.1, -3.0], [2.0, 0.0]])) == 3.0


def test_sine_wave_depends_only_on_its_seed():
    a, b = npframe_example.sine_wave(seed=1), npframe_example.sine_wave(seed=1)
    assert np.array_equal(a.X, b.X) and a.X.shape == (192, 1) and a.X_test.shape == (64, 1)
    assert not np.array_equal(a.X, npframe_example.sine_wave(seed=2).X)


def test_a_network_built_from_this_plugin_learns_the_sine():
    data = npframe.registry.create("dataset", {"name": "sine_wave", "n_samples": 200})
    net = npframe.Network.from_spec({
        "input": 1,
        "seed": 0,
        "loss": "log_cosh",
        "initializer": {"name": "orthogonal", "gain": 1.0},
        "optimizer": {"name": "lion", "learning_rate": 0.003},
        "schedule": {"name": "linear_warmup", "warmup_epochs": 5},
        "metrics": ["max_error"],
        "layers": [
            {"units": 16, "activation": {"name": "snake", "alpha": 1.0}},
            {"units": 1, "activation": "linear"},
        ],
    })
    history = net.fit(data.X, data.y, epochs=150, batch_size=32)
    assert history.loss[-1] < 0.2 * history.loss[0]


@pytest.mark.parametrize("layer", [
    npframe_example.Scale(), npframe_example.Scale(init=-0.5),
    npframe_example.GaussianNoise(), npframe_example.GaussianNoise(stddev=0.0),
    npframe_example.GaussianNoise(stddev=2.5),
], ids=repr)
def test_the_layers_pass_the_kit(layer):
    check_layer(layer)
    check_layer(layer, input_size=1, batch=2)


def test_scale_starts_at_init_and_scales_each_feature():
    layer = npframe_example.Scale(init=2.0)
    params = {"scale": np.zeros(3)}
    layer.initialize(params, np.random.default_rng(0), initializer=None)
    assert np.array_equal(params["scale"], [2.0, 2.0, 2.0])
    params["scale"][...] = [1.0, -1.0, 0.5]
    y, _ = layer.forward(np.ones((2, 3)), params, training=True)
    assert np.array_equal(y, [[1.0, -1.0, 0.5]] * 2)


def test_gaussian_noise_is_drawn_from_the_rng_in_training_only(npframe_rng):
    layer = npframe_example.GaussianNoise(stddev=0.5)
    x = np.zeros((1000, 2), np.float32)
    y, _ = layer.forward(x, {}, training=True, rng=npframe_rng)
    assert y.dtype == np.float32
    assert abs(float(y.std()) - 0.5) < 0.05
    again, _ = layer.forward(x, {}, training=True, rng=np.random.default_rng(20240607))
    assert np.array_equal(y, again)  # the same stream gives the same noise
    same, _ = layer.forward(x, {}, training=False)
    assert np.array_equal(same, x)


# A few more epochs at the noise floor may end no better than they started.
@pytest.mark.filterwarnings("ignore::npframe.ConvergenceWarning")
def test_a_network_with_the_layers_trains_and_resumes_exactly(tmp_path):
    data = npframe_example.sine_wave(n_samples=200)
    spec = {
        "input": 1, "seed": 1, "optimizer": {"name": "adam", "learning_rate": 0.01},
        "layers": [{"type": "scale", "init": 0.5},
                   {"units": 16, "activation": "tanh"},
                   {"type": "gaussian_noise", "stddev": 0.05},
                   {"units": 1, "activation": "linear"}],
    }
    net = npframe.Network.from_spec(spec)
    history = net.fit(data.X, data.y, epochs=60, batch_size=32)
    assert history.loss[-1] < history.loss[0]
    assert net.evaluate(data.X_test, data.y_test) < 0.05  # sin(x) has variance 0.5
    assert net.get_weights()[0].shape == (1,)  # scale comes first, then dense W and b
    net.save(tmp_path / "net.npz")
    loaded = npframe.load(tmp_path / "net.npz")
    net.fit(data.X, data.y, epochs=3, batch_size=32)
    loaded.fit(data.X, data.y, epochs=3, batch_size=32)
    for a, b in zip(net.get_weights(), loaded.get_weights(), strict=True):
        assert np.array_equal(a, b)  # the noise stream was saved and resumed too
