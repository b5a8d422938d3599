"""A learning-rate schedule: a factor of the optimizer's base learning rate per epoch."""

from __future__ import annotations

from attrs import field, frozen, validators

from npframe import Schedule

__all__ = ["LinearWarmup"]


def _int(value):
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"'warmup_epochs' must be an int (got {value!r})"
        raise TypeError(msg)
    return value


@frozen
class LinearWarmup(Schedule):
    """Ramp the factor linearly from ``start_factor`` to 1 over ``warmup_epochs``, then 1.

    A pure function of the epoch, so a model loaded at epoch k continues the ramp.
    """

    warmup_epochs: int = field(default=5, converter=_int, validator=validators.ge(1))
    start_factor: float = field(default=0.1, converter=float,
                                validator=[validators.gt(0.0), validators.le(1.0)])

    def __call__(self, epoch):
        done = min(epoch, self.warmup_epochs) / self.warmup_epochs
        return self.start_factor + (1.0 - self.start_factor) * done
