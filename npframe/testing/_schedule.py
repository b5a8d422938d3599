"""``check_schedule``: factors that are finite, non-negative and pure, so runs resume exactly.

``LearningRateScheduler`` asks a schedule for ``at(epoch, step, plan)`` before every
epoch (or, with ``per_step``, before every optimizer step). A model saved mid-run is
rebuilt from its spec and asked for the factors from where it stopped, with the same
plan; the kit replays exactly that and expects the uninterrupted run's factors.
"""

from __future__ import annotations

from npframe.interfaces import Schedule, TrainingPlan
from npframe.testing._arrays import scalar
from npframe.testing._guard import call, no_global_randomness
from npframe.testing._messages import number
from npframe.testing._parameters import check_instance, label, rebuild

__all__ = ["check_schedule"]

__tracebackhide__ = True  # the kit's frames stay out of pytest's failure reports

#: Plans the kit runs ``at`` over: a few epochs of several steps, one step only, and a
#: run with many steps per epoch.
_PLANS = (TrainingPlan(12, 5), TrainingPlan(1, 1), TrainingPlan(3, 40))


def check_schedule(schedule: Schedule, *, epochs: int = 200) -> None:
    """Check a schedule instance; ``None`` if it conforms, else ``AssertionError``.

    Checks: ``schedule(epoch)`` for epochs ``0 .. epochs-1`` and a few far beyond, and
    ``at(epoch, step, plan)`` at every point ``LearningRateScheduler`` asks for it
    (every step for a ``per_step`` schedule, every epoch's first step otherwise) over a
    few plans, return finite real factors ``>= 0`` without warnings; both are pure
    functions (the same values in any order); an instance rebuilt from the parameters,
    as ``load`` rebuilds it, continues a run from any point with exactly the factors of
    the uninterrupted run; ``per_step`` is a bool.
    """
    check_instance(schedule, Schedule, "a schedule")
    name = label(schedule)
    if not isinstance(schedule.per_step, bool):
        raise AssertionError(f"{name}.per_step must be True or False (got {schedule.per_step!r})")
    with no_global_randomness(name):
        twin = rebuild(schedule)
        _by_epoch(schedule, twin, name, epochs)
        for plan in _PLANS:
            _over_plan(schedule, twin, name, plan)


def _factor(what: str, value: object) -> float:
    factor = scalar(what, value)
    if factor < 0:
        msg = f"{what} returned {number(factor)}; a learning-rate factor must be >= 0"
        raise AssertionError(msg)
    return factor


def _by_epoch(schedule: Schedule, twin: Schedule, name: str, epochs: int) -> None:
    points = [*range(epochs), 1_000, 10_000, 100_000]
    values = [_factor(f"{name}({e})", call(f"{name}({e})", schedule, e)) for e in points]
    backwards = [float(schedule(e)) for e in reversed(points)][::-1]
    if backwards != values:
        i = next(i for i, (a, b) in enumerate(zip(values, backwards, strict=True)) if a != b)
        msg = (
            f"{name} is not a pure function of the epoch: epoch {points[i]} gave "
            f"{number(values[i])} in order and {number(backwards[i])} when called in reverse; "
            "keep no state between calls (a resumed model asks for epoch k directly)"
        )
        raise AssertionError(msg)
    if [float(twin(e)) for e in points] != values:
        msg = (
            f"{name}: an instance rebuilt from its parameters gives different factors "
            f"({label(twin)}); something the behaviour depends on is not a parameter"
        )
        raise AssertionError(msg)


def _points(schedule: Schedule, plan: TrainingPlan) -> list[tuple[int, int]]:
    """``(epoch, step)`` where ``LearningRateScheduler`` asks, in the order it asks."""
    spe = plan.steps_per_epoch
    if schedule.per_step:
        return [(step // spe, step) for step in range(plan.steps)]
    return [(epoch, epoch * spe) for epoch in range(plan.epochs)]


def _over_plan(schedule: Schedule, twin: Schedule, name: str, plan: TrainingPlan) -> None:
    points = _points(schedule, plan)

    def where(epoch: int, step: int) -> str:
        return f"{name}.at(epoch={epoch}, step={step}, plan={plan})"

    run = [_factor(where(e, s), call(where(e, s), schedule.at, e, s, plan))
           for e, s in points]
    backwards = [float(schedule.at(e, s, plan)) for e, s in reversed(points)][::-1]
    if backwards != run:
        i = next(i for i, (a, b) in enumerate(zip(run, backwards, strict=True)) if a != b)
        msg = (
            f"{where(*points[i])} is not a pure function of its arguments: it gave "
            f"{number(run[i])} in order and {number(backwards[i])} when asked in reverse; "
            "keep no state between calls, so a resumed run gets the same rates"
        )
        raise AssertionError(msg)
    for stop in sorted({len(points) // 3, len(points) // 2, len(points) - 1} - {0}):
        resumed = [float(twin.at(e, s, plan)) for e, s in points[stop:]]
        for (e, s), want, got in zip(points[stop:], run[stop:], resumed, strict=True):
            if got != want:
                msg = (
                    f"{name}: a run resumed at epoch {points[stop][0]}, step "
                    f"{points[stop][1]} (the schedule rebuilt from its parameters, as load "
                    f"does) gets {number(got)} from {where(e, s)}, the uninterrupted run "
                    f"{number(want)}; the factor may depend only on the parameters, the "
                    "epoch, the step and the plan"
                )
                raise AssertionError(msg)
