"""Learning-rate schedules: their formulas, their validation, and a spec's schedule in fit."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from npframe_builtins.schedules import Constant, Cosine, Exponential, LinearSchedule, Step

import npframe
from npframe.errors import SpecError


def test_constant():
    assert [Constant()(e) for e in (0, 5, 10_000)] == [1.0, 1.0, 1.0]
    assert Constant(factor=0.5)(3) == 0.5


def test_step_multiplies_by_gamma_every_step_size_epochs():
    schedule = Step(step_size=3, gamma=0.5)
    assert [schedule(e) for e in range(8)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert Step(step_size=2)(4) == pytest.approx(0.01)  # PyTorch's default gamma 0.1


def test_exponential():
    schedule = Exponential(gamma=0.9)
    assert [schedule(e) for e in range(3)] == [1.0, 0.9, 0.9**2]
    assert schedule(50) == pytest.approx(0.9**50)


def test_cosine_follows_cosine_annealing_and_stays_at_its_floor():
    schedule = Cosine(epochs=10, min_factor=0.1)
    # PyTorch's CosineAnnealingLR closed form with eta_max = 1, eta_min = 0.1, T_max = 10
    expected = [0.1 + 0.9 * (1 + math.cos(math.pi * e / 10)) / 2 for e in range(11)]
    assert [schedule(e) for e in range(11)] == pytest.approx(expected, rel=1e-15)
    assert schedule(0) == 1.0
    assert schedule(5) == pytest.approx(0.55)
    assert schedule(10) == schedule(11) == schedule(10_000) == pytest.approx(0.1)
    factors = [schedule(e) for e in range(12)]
    assert all(a >= b for a, b in itertools.pairwise(factors))


def test_cosine_warmup_rises_linearly_then_decays_over_the_rest():
    schedule = Cosine(epochs=14, warmup=4)
    assert [schedule(e) for e in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert schedule(4) == 1.0
    assert schedule(9) == pytest.approx(0.5)  # halfway through the 10 decay epochs
    assert schedule(14) == pytest.approx(0.0, abs=1e-15)


def test_linear_is_pytorchs_linear_lr():
    warmup = LinearSchedule()  # start 1/3, end 1, over 5 epochs
    assert [warmup(e) for e in range(7)] == pytest.approx(
        [1 / 3 + (2 / 3) * min(e, 5) / 5 for e in range(7)], rel=1e-15)
    decay = LinearSchedule(start_factor=1.0, end_factor=0.0, epochs=4)
    assert [decay(e) for e in range(6)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]


@pytest.mark.parametrize(
    ("ref", "word"),
    [
        ({"name": "step"}, "step_size"),
        ({"name": "step", "step_size": 0}, "step_size"),
        ({"name": "step", "step_size": 2.5}, "step_size"),
        ({"name": "exponential"}, "gamma"),
        ({"name": "exponential", "gamma": -0.5}, "gamma"),
        ({"name": "cosine"}, "epochs"),
        ({"name": "cosine", "epochs": 10, "warmup": 10}, "warmup"),
        ({"name": "cosine", "epochs": 10, "min_factor": 1.5}, "min_factor"),
        ({"name": "linear", "epochs": 0}, "epochs"),
        ({"name": "cosine", "epochs": 10, "T_max": 5}, "T_max"),
    ],
)
def test_bad_parameters_are_spec_errors_with_the_path(ref, word):
    with pytest.raises(SpecError, match=rf"^schedule(: .*{word}|\.{word}: )"):
        npframe.registry.create("schedule", ref, path="schedule")


@pytest.mark.parametrize("epoch", [-1, 1.5, True, "3"])
def test_epochs_must_be_non_negative_ints(epoch):
    with pytest.raises(ValueError, match="epoch must be an int >= 0"):
        Cosine(epochs=5)(epoch)


def test_numpy_integer_epochs_are_accepted():
    assert Step(step_size=2)(np.int64(4)) == pytest.approx(0.01)


class RecordLearningRate(npframe.Callback):
    def __init__(self):
        self.rates = {}

    def on_epoch_begin(self, epoch, logs):
        self.rates[epoch] = self.network.optimizer.learning_rate


def small_problem(rng):
    X = rng.uniform(-1, 1, (64, 2))
    y = np.column_stack([X[:, 0] + X[:, 1], X[:, 0] - X[:, 1]])
    return X, y


def spec_with(schedule, optimizer=None):
    return {
        "input": 2, "seed": 3,
        "optimizer": optimizer or {"name": "adam", "learning_rate": 0.02},
        "schedule": schedule,
        "layers": [{"units": 8, "activation": "tanh"}, {"units": 2, "activation": "linear"}],
    }


def test_a_spec_schedule_sets_the_learning_rate_every_epoch_across_fits(rng):
    net = npframe.Network.from_spec(spec_with({"name": "cosine", "epochs": 10, "warmup": 2}))
    assert isinstance(net.schedule, Cosine)
    X, y = small_problem(rng)
    record = RecordLearningRate()
    net.fit(X, y, epochs=6, callbacks=[record])
    net.fit(X, y, epochs=6, callbacks=[record])  # the schedule continues from epoch 6
    expected = {e: 0.02 * Cosine(epochs=10, warmup=2)(e) for e in range(12)}
    assert record.rates == pytest.approx(expected, rel=1e-15)
    assert net.optimizer.learning_rate == 0.0  # epoch 11 is past the end: min_factor 0


def test_a_spec_schedule_round_trips_through_to_spec():
    spec = spec_with({"name": "step", "step_size": 5, "gamma": 0.5})
    net = npframe.Network.from_spec(spec)
    assert net.to_spec()["schedule"] == {"name": "step", "step_size": 5, "gamma": 0.5}
    assert npframe.Network.from_spec(net.to_spec()).schedule == Step(step_size=5, gamma=0.5)


def test_adam_with_cosine_decay_trains_from_a_spec(rng):
    net = npframe.Network.from_spec(spec_with({"name": "cosine", "epochs": 300}))
    X, y = small_problem(rng)
    history = net.fit(X, y, epochs=300, shuffle=False)
    assert history.loss[-1] < 0.01 * history.loss[0]
    # the last epochs move little: the learning rate has decayed to almost nothing
    assert abs(history.loss[-1] - history.loss[-2]) < 1e-3 * history.loss[-1]


def test_a_schedule_needs_an_optimizer_with_a_learning_rate():
    class Fixed(npframe.Optimizer):
        def step(self, params, grads):
            for p, g in zip(params, grads, strict=True):
                p -= 0.01 * g

    registry = npframe.registry.Registry()
    registry.register("optimizer", "fixed", Fixed)
    spec = spec_with({"name": "exponential", "gamma": 0.9}, optimizer="fixed")
    with pytest.raises(SpecError, match=r"^schedule: .*learning_rate"):
        npframe.Network.from_spec(spec, registry=registry)
