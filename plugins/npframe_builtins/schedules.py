"""Built-in learning-rate schedules: factors of the base learning rate.

``LearningRateScheduler`` (which ``fit`` adds for a spec's ``schedule``) sets
``optimizer.learning_rate = base * factor`` before every epoch, asking
``schedule.at(epoch, step, plan)``; ``epoch`` and ``step`` are 0-based and count every
epoch and optimizer step the network has trained, and ``plan`` says how long the run
is meant to be. The per-epoch schedules depend on the epoch only (``schedule(epoch)``);
``one_cycle`` and ``warmup`` have ``per_step = True``: they are asked before every
optimizer step and depend on the step (and ``one_cycle`` on the plan). All are pure
functions, so a saved network resumes its schedule exactly. Referenced from a spec as
``schedule = { name = "cosine", epochs = 4000 }``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from attrs import field, frozen, validators

from npframe import Schedule, TrainingPlan

__all__ = ["Constant", "Cosine", "Exponential", "LinearSchedule", "OneCycle", "Step", "Warmup"]


def _check_count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        msg = f"schedule: {what} must be an int >= 0 (got {value!r})"
        raise ValueError(msg)
    return int(value)


def _check_epoch(epoch: Any) -> int:
    return _check_count(epoch, "epoch")


def _without_plan(schedule: Schedule, epoch: Any) -> float:
    """``schedule(epoch)`` for a per-step schedule: one step per epoch and a run that ends
    at ``epoch``, what ``LearningRateScheduler`` assumes when ``fit`` gives no plan."""
    epoch = _check_epoch(epoch)
    return schedule.at(epoch, epoch, TrainingPlan(epoch + 1, 1))


def _cosine(start: float, end: float, progress: float) -> float:
    """From ``start`` (progress 0) to ``end`` (progress 1) along half a cosine."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * progress) + 1.0)


def _positive_int(default: int | None = None) -> Any:
    kwargs = {} if default is None else {"default": default}
    return field(**kwargs, validator=[validators.instance_of(int), validators.ge(1)])


@frozen
class Constant(Schedule):
    """``factor`` at every epoch (1.0: the base learning rate throughout)."""

    factor: float = field(default=1.0, converter=float, validator=validators.ge(0.0))

    def __call__(self, epoch: int) -> float:
        _check_epoch(epoch)
        return self.factor


@frozen
class Step(Schedule):
    """``gamma ** (epoch // step_size)``: multiply by ``gamma`` every ``step_size`` epochs.

    PyTorch's ``StepLR`` (``gamma`` defaults to 0.1; ``step_size`` is required).
    """

    step_size: int = _positive_int()
    gamma: float = field(default=0.1, converter=float, validator=validators.ge(0.0))

    def __call__(self, epoch: int) -> float:
        return self.gamma ** (_check_epoch(epoch) // self.step_size)


@frozen
class Exponential(Schedule):
    """``gamma ** epoch`` (PyTorch's ``ExponentialLR``; ``gamma`` is required)."""

    gamma: float = field(converter=float, validator=validators.ge(0.0))

    def __call__(self, epoch: int) -> float:
        return self.gamma ** _check_epoch(epoch)


@frozen
class Cosine(Schedule):
    """Cosine decay from 1 to ``min_factor`` over ``epochs`` epochs, after optional warmup.

    During the first ``warmup`` epochs the factor rises linearly,
    ``(epoch + 1) / warmup``, reaching 1 at epoch ``warmup - 1``. Then, with
    ``progress = (epoch - warmup) / (epochs - warmup)``,
    ``factor = min_factor + (1 - min_factor) * (1 + cos(pi * progress)) / 2``
    (PyTorch's ``CosineAnnealingLR`` with ``T_max = epochs - warmup`` and
    ``eta_min = min_factor * base``). From epoch ``epochs`` on the factor stays at
    ``min_factor`` (Keras' ``CosineDecay``; no restarts). ``epochs`` counts the
    warmup, so a ``fit`` of ``epochs`` epochs ends just above ``min_factor``.
    """

    epochs: int = _positive_int()
    min_factor: float = field(default=0.0, converter=float,
                              validator=[validators.ge(0.0), validators.le(1.0)])
    warmup: int = field(default=0, validator=[validators.instance_of(int), validators.ge(0)])

    def __attrs_post_init__(self) -> None:
        if self.warmup >= self.epochs:
            msg = f"'warmup' must be < 'epochs' (got warmup={self.warmup}, epochs={self.epochs})"
            raise ValueError(msg)

    def __call__(self, epoch: int) -> float:
        epoch = _check_epoch(epoch)
        if epoch < self.warmup:
            return (epoch + 1) / self.warmup
        progress = min((epoch - self.warmup) / (self.epochs - self.warmup), 1.0)
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.min_factor + (1.0 - self.min_factor) * cosine


@frozen
class LinearSchedule(Schedule):
    """Linear from ``start_factor`` to ``end_factor`` over ``epochs`` epochs, then constant.

    ``factor = start + (end - start) * min(epoch, epochs) / epochs``: PyTorch's
    ``LinearLR`` with the same defaults (1/3 to 1 over 5 epochs: a linear warmup);
    ``start_factor=1, end_factor=0`` is a linear decay.
    """

    start_factor: float = field(default=1.0 / 3.0, converter=float,
                                validator=validators.ge(0.0))
    end_factor: float = field(default=1.0, converter=float, validator=validators.ge(0.0))
    epochs: int = _positive_int(5)

    def __call__(self, epoch: int) -> float:
        fraction = min(_check_epoch(epoch), self.epochs) / self.epochs
        return self.start_factor + (self.end_factor - self.start_factor) * fraction


def _optional_positive_int(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"must be a positive int (got {value!r})", attribute, value)


@frozen
class OneCycle(Schedule):
    """PyTorch's ``OneCycleLR`` by optimizer step, over the planned run (or ``total_steps``).

    With ``T`` the total steps (``total_steps``, else the plan's ``epochs *
    steps_per_epoch``), ``top = max_factor``, ``start = top / div_factor`` and ``end =
    start / final_div_factor``: the factor rises from ``start`` to ``top`` until step
    ``warmup_fraction * T - 1``, then falls to ``end`` at step ``T - 1``, along half a
    cosine (``anneal = "cos"``) or a line (``"linear"``); after ``T - 1`` it stays at
    ``end``. The phases are PyTorch's (``pct_start``, ``div_factor``,
    ``final_div_factor``, ``anneal_strategy``, two phases) step for step.
    """

    per_step: ClassVar[bool] = True
    max_factor: float = field(default=1.0, converter=float, validator=validators.gt(0.0))
    warmup_fraction: float = field(default=0.3, converter=float,
                                   validator=[validators.ge(0.0), validators.le(1.0)])
    div_factor: float = field(default=25.0, converter=float, validator=validators.gt(0.0))
    final_div_factor: float = field(default=1e4, converter=float, validator=validators.gt(0.0))
    anneal: str = field(default="cos", validator=validators.in_(("cos", "linear")))
    total_steps: int | None = field(default=None, validator=_optional_positive_int)

    def __call__(self, epoch: int) -> float:
        return _without_plan(self, epoch)

    def at(self, epoch: int, step: int, plan: TrainingPlan) -> float:
        total = self.total_steps or plan.steps
        step = min(_check_count(step, "step"), total - 1)
        top = self.max_factor
        start = top / self.div_factor
        end = start / self.final_div_factor
        # PyTorch's two phases: (end step, from, to); the second one also takes any step
        # past the first (the phase boundary is a float, as there).
        phases = ((float(self.warmup_fraction * total) - 1, start, top),
                  (float(total - 1), top, end))
        begin = 0.0
        for i, (stop, low, high) in enumerate(phases):
            if step <= stop or i == len(phases) - 1:
                span = stop - begin
                progress = (step - begin) / span if span > 0 else 1.0
                if self.anneal == "cos":
                    return _cosine(low, high, progress)
                return low + (high - low) * progress
            begin = stop
        raise AssertionError("unreachable: the last phase takes every step")


@frozen
class Warmup(Schedule):
    """Linear warmup over ``steps`` optimizer steps, then constant or a cosine decay.

    ``(step + 1) / steps`` for ``step < steps`` (reaching 1 at step ``steps - 1``, as
    ``cosine``'s warmup by epochs does); then 1 (``then = "constant"``), or with
    ``then = "cosine"`` ``min_factor + (1 - min_factor) (1 + cos(pi q)) / 2``, ``q =
    min((step - steps) / (T - steps), 1)`` over the rest of the planned ``T`` steps.
    """

    per_step: ClassVar[bool] = True
    steps: int = _positive_int()
    then: str = field(default="constant", validator=validators.in_(("constant", "cosine")))
    min_factor: float = field(default=0.0, converter=float,
                              validator=[validators.ge(0.0), validators.le(1.0)])

    def __attrs_post_init__(self) -> None:
        if self.then == "constant" and self.min_factor != 0.0:
            msg = (f"'min_factor' applies only with then = 'cosine' (got min_factor="
                   f"{self.min_factor!r} with then = 'constant')")
            raise ValueError(msg)

    def __call__(self, epoch: int) -> float:
        return _without_plan(self, epoch)

    def at(self, epoch: int, step: int, plan: TrainingPlan) -> float:
        step = _check_count(step, "step")
        if step < self.steps:
            return (step + 1) / self.steps
        if self.then == "constant":
            return 1.0
        progress = min((step - self.steps) / max(plan.steps - self.steps, 1), 1.0)
        return _cosine(1.0, self.min_factor, progress)


REGISTRY = [
    ("schedule", "constant", Constant),
    ("schedule", "step", Step),
    ("schedule", "exponential", Exponential),
    ("schedule", "cosine", Cosine),
    ("schedule", "linear", LinearSchedule),
    ("schedule", "one_cycle", OneCycle),
    ("schedule", "warmup", Warmup),
]
