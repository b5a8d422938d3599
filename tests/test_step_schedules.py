"""Per-step schedules (``one_cycle``, ``warmup``): their formulas, the kit, and exact resume.

``one_cycle`` is checked against a transcription of PyTorch's ``OneCycleLR.get_lr``
(torch/optim/lr_scheduler.py, two phases), driven as PyTorch drives it: the rate of
optimizer step ``s`` is computed with ``last_epoch = s``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from npframe_builtins.schedules import OneCycle, Warmup

import npframe
from npframe import TrainingPlan
from npframe.errors import SpecError
from npframe.testing import check_schedule


def torch_one_cycle(max_lr, total_steps, pct_start=0.3, div_factor=25.0,
                    final_div_factor=1e4, anneal_strategy="cos"):
    """The learning rates OneCycleLR gives steps 0 .. total_steps - 1 (one param group)."""
    def anneal_cos(start, end, pct):
        cos_out = math.cos(math.pi * pct) + 1
        return end + (start - end) / 2.0 * cos_out

    def anneal_linear(start, end, pct):
        return (end - start) * pct + start

    anneal = anneal_cos if anneal_strategy == "cos" else anneal_linear
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    phases = [
        {"end_step": float(pct_start * total_steps) - 1, "start_lr": initial_lr,
         "end_lr": max_lr},
        {"end_step": total_steps - 1, "start_lr": max_lr, "end_lr": min_lr},
    ]
    rates = []
    for step_num in range(total_steps):
        start_step = 0.0
        for i, phase in enumerate(phases):
            end_step = phase["end_step"]
            if step_num <= end_step or i == len(phases) - 1:
                pct = (step_num - start_step) / (end_step - start_step)
                rates.append(anneal(phase["start_lr"], phase["end_lr"], pct))
                break
            start_step = phase["end_step"]
    return rates


@pytest.mark.parametrize(("total", "params"), [
    (100, {}),
    (10, {"warmup_fraction": 0.25, "max_factor": 2.0}),
    (37, {"div_factor": 10.0, "final_div_factor": 100.0, "anneal": "linear"}),
    (7, {"warmup_fraction": 0.5}),
    (20, {"warmup_fraction": 0.0}),
])
def test_one_cycle_is_pytorchs_one_cycle_lr(total, params):
    schedule = OneCycle(**params)
    plan = TrainingPlan(epochs=total, steps_per_epoch=1)
    torch_names = {"warmup_fraction": "pct_start", "max_factor": "max_lr",
                   "anneal": "anneal_strategy"}
    kwargs = {torch_names.get(k, k): v for k, v in params.items()}
    kwargs.setdefault("max_lr", 1.0)
    expected = torch_one_cycle(total_steps=total, **kwargs)
    got = [schedule.at(step, step, plan) for step in range(total)]
    assert got == pytest.approx(expected, rel=1e-15, abs=1e-18)


def test_one_cycle_by_the_plan_or_by_total_steps():
    schedule = OneCycle()
    plan = TrainingPlan(epochs=4, steps_per_epoch=25)  # 100 steps
    factors = [schedule.at(s // 25, s, plan) for s in range(100)]
    assert factors[0] == pytest.approx(1 / 25)
    assert max(factors) == factors[29] == pytest.approx(1.0)  # the end of 30 % warmup
    assert factors[-1] == pytest.approx(1 / 25 / 1e4)
    assert schedule.at(4, 100, plan) == schedule.at(4, 5000, plan) == factors[-1]
    fixed = OneCycle(total_steps=100)
    other_plan = TrainingPlan(epochs=1, steps_per_epoch=3)
    assert [fixed.at(0, s, other_plan) for s in range(100)] == factors


def test_one_cycle_with_a_first_phase_of_one_step_does_not_divide_by_zero():
    # PyTorch raises ZeroDivisionError here (pct_start * total_steps == 1)
    schedule = OneCycle(warmup_fraction=0.5)
    plan = TrainingPlan(epochs=2, steps_per_epoch=1)
    assert schedule.at(0, 0, plan) == 1.0
    assert schedule.at(1, 1, plan) == pytest.approx(1 / 25 / 1e4)


def test_warmup_then_constant_or_cosine():
    plan = TrainingPlan(epochs=3, steps_per_epoch=4)  # 12 steps
    constant = Warmup(steps=4)
    assert [constant.at(s // 4, s, plan) for s in range(12)] == [
        0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    cosine = Warmup(steps=4, then="cosine", min_factor=0.1)
    factors = [cosine.at(s // 4, s, plan) for s in range(14)]
    assert factors[:5] == [0.25, 0.5, 0.75, 1.0, 1.0]
    expected = [0.1 + 0.9 * (1 + math.cos(math.pi * (s - 4) / 8)) / 2 for s in range(4, 12)]
    assert factors[4:12] == pytest.approx(expected, rel=1e-15)
    assert factors[12] == factors[13] == pytest.approx(0.1)  # past the plan: min_factor


@pytest.mark.parametrize("schedule", [
    OneCycle(), OneCycle(total_steps=50, anneal="linear"), Warmup(steps=3),
    Warmup(steps=30, then="cosine", min_factor=0.05),
], ids=repr)
def test_per_step_schedules_pass_the_kit(schedule):
    check_schedule(schedule)


@pytest.mark.parametrize(("ref", "where"), [
    ({"name": "one_cycle", "warmup_fraction": 1.5}, "warmup_fraction"),
    ({"name": "one_cycle", "anneal": "cosine"}, "anneal"),
    ({"name": "one_cycle", "total_steps": 0}, "total_steps"),
    ({"name": "one_cycle", "max_factor": 0}, "max_factor"),
    ({"name": "warmup"}, "steps"),
    ({"name": "warmup", "steps": 10, "then": "linear"}, "then"),
    ({"name": "warmup", "steps": 10, "min_factor": 0.1}, "min_factor"),
])
def test_bad_parameters_are_spec_errors_at_their_path(ref, where):
    with pytest.raises(SpecError, match=rf"^schedule(\.{where}: |: .*{where})"):
        npframe.registry.create("schedule", ref, path="schedule")


# -- exact resume, learning rates recorded per step ----------------------------------------
class RecordRates(npframe.Callback):
    """The learning rate of every optimizer step, after the scheduler set it."""

    def __init__(self):
        self.rates = []

    def on_batch_begin(self, step, logs):
        self.rates.append((step, self.network.optimizer.learning_rate))


class StopAfter(npframe.Callback):
    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs):
        if epoch + 1 == self.epochs:
            self.network.stop_training = True


def data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (60, 3))
    return X, np.sin(X @ np.array([[1.0], [-2.0], [0.5]]))


def spec(schedule):
    return {
        "input": 3, "seed": 5, "optimizer": {"name": "adam", "learning_rate": 0.01},
        "schedule": schedule,
        "layers": [{"units": 8, "activation": "tanh"}, {"type": "dropout", "rate": 0.1},
                   {"units": 1, "activation": "linear"}],
    }


def uninterrupted(schedule, epochs):
    net = npframe.Network.from_spec(spec(schedule))
    record = RecordRates()
    net.fit(*data(), epochs=epochs, batch_size=16, callbacks=[record])
    return net, record.rates


@pytest.mark.parametrize(("schedule", "stop_inside"), [
    ({"name": "warmup", "steps": 10}, False),
    ({"name": "warmup", "steps": 6, "then": "cosine", "min_factor": 0.1}, True),
    ({"name": "one_cycle", "total_steps": 28}, False),
    ({"name": "one_cycle"}, True),
], ids=["warmup", "warmup_cosine_by_plan", "one_cycle_total_steps", "one_cycle_by_plan"])
def test_a_per_step_schedule_resumes_exactly(tmp_path, schedule, stop_inside):
    """fit n, save, load, fit m == fit n + m: every step's learning rate and the weights.

    A schedule that plans by the run's length (``TrainingPlan``) sees the plan of each
    ``fit``; to resume it exactly, the first run is the long one, stopped after n epochs.
    """
    n, m = 3, 4  # 4 steps per epoch: 28 steps in all
    full, full_rates = uninterrupted(schedule, n + m)
    first = npframe.Network.from_spec(spec(schedule))
    record = RecordRates()
    callbacks = [record, StopAfter(n)] if stop_inside else [record]
    first.fit(*data(), epochs=n + m if stop_inside else n, batch_size=16, callbacks=callbacks)
    assert first.epoch == n
    first.save(tmp_path / "half.npz")
    resumed = npframe.load(tmp_path / "half.npz")
    resumed.fit(*data(), epochs=m, batch_size=16, callbacks=[record])
    assert [s for s, _ in record.rates] == list(range(28))
    assert record.rates == full_rates
    assert len({rate for _, rate in full_rates}) > 5  # the rate does change per step
    for a, b in zip(resumed.get_weights(), full.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_later_fit_replans_a_plan_based_schedule():
    """Documented behaviour: fit(3) then fit(4) plans 3, then 7 epochs; total_steps fixes it."""
    _, full_rates = uninterrupted({"name": "one_cycle"}, 7)
    net = npframe.Network.from_spec(spec({"name": "one_cycle"}))
    record = RecordRates()
    net.fit(*data(), epochs=3, batch_size=16, callbacks=[record])
    net.fit(*data(), epochs=4, batch_size=16, callbacks=[record])
    assert record.rates != full_rates
    assert record.rates[11][1] == pytest.approx(0.01 / 25 / 1e4)  # the first plan's end
