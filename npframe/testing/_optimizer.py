"""``check_optimizer``: descent, in-place updates, state that resumes, and ``step_flat``.

Every run uses a fresh instance rebuilt from the template's parameters, on a convex
quadratic whose gradients are recomputed into the same buffers each step, as the
training loop does.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from npframe.interfaces import Optimizer
from npframe.testing._arrays import check_finite, check_unchanged, differences
from npframe.testing._guard import call, no_global_randomness
from npframe.testing._inputs import LARGE, SEED
from npframe.testing._messages import index, number
from npframe.testing._parameters import check_instance, label, rebuild
from npframe.training import flat_arrays

__all__ = ["check_optimizer"]

__tracebackhide__ = True  # the kit's frames stay out of pytest's failure reports

#: A weight matrix, a bias (whose flat view leaves padding behind it) and another matrix.
_SHAPES = [(4, 3), (3,), (2, 5)]


class _Quadratic:
    """``f(p) = 0.5 * sum(c * (p - t)**2)`` over a few parameter arrays."""

    def __init__(self, rng: np.random.Generator, dtype: Any) -> None:
        self.targets = [rng.standard_normal(s).astype(dtype) for s in _SHAPES]
        self.curvature = [rng.uniform(0.5, 2.0, s).astype(dtype) for s in _SHAPES]
        self.start = [rng.standard_normal(s).astype(dtype) for s in _SHAPES]

    def params(self) -> list[np.ndarray]:
        return [p.copy() for p in self.start]

    def value(self, params: Sequence[np.ndarray]) -> float:
        return sum(0.5 * float(np.sum(c * (p - t) ** 2))
                   for p, t, c in zip(params, self.targets, self.curvature, strict=True))

    def gradients(self, params: Sequence[np.ndarray], out: Sequence[np.ndarray]) -> None:
        """Into the same buffers every time, as the training loop does."""
        for p, t, c, g in zip(params, self.targets, self.curvature, out, strict=True):
            g.flags.writeable = True
            np.subtract(p, t, out=g)
            g *= c


def _read_only(arrays: Sequence[np.ndarray]) -> None:
    for a in arrays:
        a.flags.writeable = False


def _run(opt: Optimizer, problem: _Quadratic, params: list[np.ndarray], steps: int,
         name: str) -> list[np.ndarray]:
    """``steps`` steps, the gradients passed read-only."""
    grads = [np.empty_like(p) for p in params]
    for _ in range(steps):
        problem.gradients(params, grads)
        _read_only(grads)
        call(f"{name}.step", opt.step, params, grads)
    return params


def _state_roundtrip(name: str, state: Any) -> dict[str, np.ndarray]:
    """The state as it comes back from an ``.npz`` file (no pickling)."""
    if not isinstance(state, Mapping):
        msg = f"{name}.state_dict() returned a {type(state).__name__}, not a dict"
        raise AssertionError(msg)
    for key, value in state.items():
        if not isinstance(key, str):
            raise AssertionError(f"{name}.state_dict() has a non-string key {key!r}")
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
            what = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            msg = (
                f"{name}.state_dict()[{key!r}] is {what}; state must be plain numeric numpy "
                "arrays (wrap counters as np.array(t)) so it saves to .npz without pickling"
            )
            raise AssertionError(msg)
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _first_difference(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x.tobytes() != y.tobytes():
            diff = np.abs(x.astype(np.float64) - y.astype(np.float64))
            idx = tuple(np.unravel_index(int(np.nanargmax(diff)), x.shape))
            return (f"params[{i}] differ by up to {number(diff[idx])} at index {index(idx)} "
                    f"({number(x[idx])} vs {number(y[idx])})")
    return "no difference"


def check_optimizer(optimizer: Optimizer, *, seed: int = SEED, steps: int = 300) -> None:
    """Check an optimizer instance; ``None`` if it conforms, else ``AssertionError``.

    Uses ``optimizer`` only as a template: every run is on a fresh instance rebuilt
    from its parameters (which checks they survive a spec round trip). Checks:
    ``steps`` steps decrease a convex quadratic; parameters are updated in place, keep
    their dtype (float32 too) and stay the same array objects; gradients are passed
    read-only and never written; parameters stay finite with gradients of exactly zero
    and at magnitudes of 1e3; ``step_flat`` on flat buffers built as the training loop
    builds them gives bit-identical parameters and state to ``step``, also when the
    learning rate changes between steps; ``state_dict`` holds plain numeric arrays that
    survive an ``.npz`` round trip, and a fresh instance given them with
    ``load_state_dict`` continues bit-identically; the global random state is untouched.
    """
    check_instance(optimizer, Optimizer, "an optimizer")
    name = label(optimizer)
    rng = np.random.default_rng(seed)
    with no_global_randomness(name):
        problem = _Quadratic(rng, np.float64)
        _descends(optimizer, name, problem, steps)
        _keeps_float32(optimizer, name, seed)
        _edges(optimizer, name)
        _step_flat(optimizer, name, seed)
        _state(optimizer, name, problem)


def _descends(template: Optimizer, name: str, problem: _Quadratic, steps: int) -> None:
    opt = rebuild(template)
    params = problem.params()
    originals = list(params)
    before = [p.copy() for p in params]
    grads = [np.empty_like(p) for p in params]
    problem.gradients(params, grads)
    saved = [g.copy() for g in grads]
    call(f"{name}.step", opt.step, params, grads)  # writable here: a write shows as a change
    check_unchanged(f"{name}.step", [f"grads[{i}]" for i in range(len(grads))], saved, grads)
    if any(p is not o for p, o in zip(params, originals, strict=True)):
        msg = (
            f"{name}.step replaced arrays in the params list instead of updating them in "
            "place; write p -= update (or p[...] = ...), never params[i] = ..."
        )
        raise AssertionError(msg)
    _run(opt, problem, params, steps - 1, name)
    f0, f1 = problem.value(before), problem.value(params)
    if all(b.tobytes() == p.tobytes() for b, p in zip(before, params, strict=True)):
        msg = (
            f"{name}: {steps} steps left the parameters unchanged; step must update "
            "the arrays in params in place (p -= learning_rate * g)"
        )
        raise AssertionError(msg)
    if not math.isfinite(f1) or not f1 < f0 * (1 - 1e-3):
        msg = (
            f"{name}: {steps} steps on the convex quadratic 0.5 * sum(c * (p - t)**2) "
            f"took it from {number(f0)} to {number(f1)}; an optimizer must decrease it "
            "(is the update's sign right? is the learning rate used?)"
        )
        raise AssertionError(msg)


def _keeps_float32(template: Optimizer, name: str, seed: int) -> None:
    problem = _Quadratic(np.random.default_rng(seed), np.float32)
    params = problem.params()
    originals = list(params)
    start = [p.copy() for p in params]
    _run(rebuild(template), problem, params, 5, name)
    for i, (p, o) in enumerate(zip(params, originals, strict=True)):
        if p is not o or p.dtype != np.float32:
            msg = (
                f"{name}.step turned float32 params[{i}] into {np.asarray(p).dtype} (or "
                "replaced the array); update in place and keep the dtype: scale by Python "
                "floats, not NumPy float64 scalars"
            )
            raise AssertionError(msg)
        check_finite(f"{name}.step on float32 params[{i}]", p)
    if all(a.tobytes() == b.tobytes() for a, b in zip(start, params, strict=True)):
        raise AssertionError(f"{name}.step did not change float32 parameters")


def _edges(template: Optimizer, name: str) -> None:
    """Gradients of exactly zero (a converged parameter) and magnitudes of ``LARGE``."""
    for dtype in (np.float64, np.float32):
        big = [np.full((3, 2), LARGE, dtype), np.full((2,), -LARGE, dtype)]
        cases = [
            (f"|params| = |grads| = {LARGE:g}", big, [b.copy() for b in big]),
            ("gradients of exactly zero", [np.ones((3, 2), dtype), np.zeros((2,), dtype)],
             [np.zeros((3, 2), dtype), np.zeros((2,), dtype)]),
        ]
        for what, params, grads in cases:
            _read_only(grads)
            opt = rebuild(template)
            where = f"{name}.step with {what} ({np.dtype(dtype)})"
            for _ in range(3):
                call(where, opt.step, params, grads)
            for i, p in enumerate(params):
                check_finite(f"{where}: params[{i}]", p)


def _set_learning_rate(opt: Optimizer, factor: float) -> bool:
    """Scale ``opt.learning_rate`` as a schedule would; ``False`` when it has none."""
    rate = getattr(opt, "learning_rate", None)
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        return False
    try:
        opt.learning_rate = float(rate) * factor  # type: ignore[attr-defined]
    except Exception:  # a frozen optimizer: no schedule can change it either
        return False
    return True


def _step_flat(template: Optimizer, name: str, seed: int) -> None:
    """``step_flat`` on the loop's flat buffers against ``step`` on separate arrays."""
    for dtype in (np.float64, np.float32):
        problem = _Quadratic(np.random.default_rng(seed), dtype)
        flat_params, views = flat_arrays(_SHAPES, dtype)
        flat_grads, grad_views = flat_arrays(_SHAPES, dtype)
        for view, start in zip(views, problem.start, strict=True):
            view[...] = start
        originals = list(views)
        plain = problem.params()
        plain_grads = [np.empty_like(p) for p in plain]
        fast, slow = rebuild(template), rebuild(template)
        for k in range(12):
            if k == 6:  # a schedule changes the rate between steps
                _set_learning_rate(fast, 0.5)
                _set_learning_rate(slow, 0.5)
            problem.gradients(views, grad_views)
            problem.gradients(plain, plain_grads)
            _read_only(plain_grads)
            where = f"{name}.step_flat (step {k + 1}, {np.dtype(dtype)})"
            call(where, fast.step_flat, views, grad_views, flat_params, flat_grads)
            call(f"{name}.step", slow.step, plain, plain_grads)
            if any(v is not o for v, o in zip(views, originals, strict=True)) or not all(
                    np.shares_memory(v, flat_params) for v in views):
                msg = (f"{where} replaced arrays in the params list; update the views (or "
                       "the flat buffer) in place")
                raise AssertionError(msg)
            for i, (got, want) in enumerate(zip(views, plain, strict=True)):
                diff = differences(got, want, "step_flat", "step")
                if diff:
                    msg = (
                        f"{where} disagrees with step on params[{i}]: {diff}. The training "
                        "loop calls step_flat: it must update exactly as step does, bit for bit"
                    )
                    raise AssertionError(msg)
            if not np.isfinite(flat_params).all():
                msg = (f"{where} left non-finite values in the padding between the "
                       "parameters of the flat buffer; an update must keep it finite")
                raise AssertionError(msg)
        a, b = _state_roundtrip(name, fast.state_dict()), _state_roundtrip(name, slow.state_dict())
        if a.keys() != b.keys() or any(differences(a[k], b[k], "", "") for k in a):
            msg = (f"{name}: after 12 steps, state_dict() after step_flat differs from the one "
                   f"after step (keys {sorted(a)} vs {sorted(b)})")
            raise AssertionError(msg)


def _state(template: Optimizer, name: str, problem: _Quadratic) -> None:
    """``state_dict`` round trip, from a fresh optimizer and after a few steps."""
    for warmup in (0, 7):
        a = rebuild(template)
        params_a = _run(a, problem, problem.params(), warmup, name)
        state = _state_roundtrip(name, call(f"{name}.state_dict", a.state_dict))
        b = rebuild(template)
        call(f"{name}.load_state_dict", b.load_state_dict, state)
        params_b = [p.copy() for p in params_a]
        _run(a, problem, params_a, 5, name)
        _run(b, problem, params_b, 5, name)
        if any(x.tobytes() != y.tobytes() for x, y in zip(params_a, params_b, strict=True)):
            msg = (
                f"{name}: state_dict does not round-trip: after {warmup} steps, a fresh "
                f"instance given load_state_dict(state_dict()) continued differently for 5 "
                f"steps ({_first_difference(params_a, params_b)}); state_dict must hold "
                f"everything step uses (momenta, step counts). Keys saved: "
                f"{sorted(state) or 'none'}"
            )
            raise AssertionError(msg)
