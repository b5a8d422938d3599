"""Built-in learning-rate schedules: ``schedule(epoch) -> factor`` of the base learning rate.

``Network.fit`` sets ``optimizer.learning_rate = base * schedule(epoch)`` at the start
of every epoch (``epoch`` is 0-based and counts every epoch the network has trained),
so a schedule is a pure function of the epoch: resuming a saved network resumes its
schedule too. Referenced from a spec as ``schedule = { name = "cosine", epochs = 4000 }``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from attrs import field, frozen, validators

from npframe import Schedule

__all__ = ["Constant", "Cosine", "Exponential", "LinearSchedule", "Step"]


def _check_epoch(epoch: Any) -> int:
    if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer) or epoch < 0:
        msg = f"schedule: epoch must be an int >= 0 (got {epoch!r})"
        raise ValueError(msg)
    return int(epoch)


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


REGISTRY = [
    ("schedule", "constant", Constant),
    ("schedule", "step", Step),
    ("schedule", "exponential", Exponential),
    ("schedule", "cosine", Cosine),
    ("schedule", "linear", LinearSchedule),
]
