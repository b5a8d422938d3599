"""``check_activation``: the plain methods, their gradient, and the fast path agreeing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from npframe.interfaces import Activation
from npframe.testing._arrays import Order, check_array, differences, frozen
from npframe.testing._gradient import ATOL, EPS, RTOL, compare_gradient, numeric_gradient
from npframe.testing._guard import call, no_global_randomness
from npframe.testing._inputs import SEED, activation_edges, away_from_zero
from npframe.testing._messages import number
from npframe.testing._parameters import check_instance, label, rebuild

__all__ = ["check_activation"]

__tracebackhide__ = True  # the kit's frames stay out of pytest's failure reports

_LAYOUTS = {"C": "samples x features (C order)", "F": "features x samples (F order)"}


def check_activation(activation: Activation, *, seed: int = SEED, rtol: float = RTOL,
                     atol: float = ATOL) -> None:
    """Check an activation instance; ``None`` if it conforms, else ``AssertionError``.

    Checks: ``forward``/``backward`` keep shape and dtype (float32 and float64) and
    never write into their (read-only) inputs; outputs are finite and nothing warns at
    exact zeros and at ``|z| = 1e3``; the full vector-Jacobian product
    ``backward(z, a, grad_a)`` matches central finite differences of ``sum(grad_a *
    forward(z))`` in float64 for random ``grad_a`` (so row-wise activations such as
    softmax are checked in full, not just their diagonal); ``forward_into`` and
    ``backward_into`` (what the training loop calls) give bit-identical results in C
    and F order buffers, and so do the in-place forms an ``in_place`` activation
    promises; the parameters survive a spec round trip.
    """
    check_instance(activation, Activation, "an activation")
    name = label(activation)
    in_place = getattr(activation, "in_place", False)
    if not isinstance(in_place, bool):
        raise AssertionError(f"{name}.in_place must be True or False (got {in_place!r})")
    rng = np.random.default_rng(seed)
    with no_global_randomness(name):
        for dtype in (np.dtype(np.float64), np.dtype(np.float32)):
            cases = []
            for shape in ((1, 1), (4, 5), (7, 3)):
                z = away_from_zero(rng, shape).astype(dtype)
                cases.append((z, rng.standard_normal(shape).astype(dtype),
                              f"{dtype} z of shape {shape}"))
            cases += [(z, np.ones_like(z), what) for z, what in activation_edges(dtype)]
            for z, grad_a, what in cases:
                _plain(activation, name, z, grad_a, what)
                for order in ("C", "F"):
                    _fast_path(activation, name, z, grad_a, what, order, in_place)
        _gradient(activation, name, rng, rtol, atol)
        _twin(activation, name, rng)


def _plain(act: Activation, name: str, z: np.ndarray, grad_a: np.ndarray, what: str) -> None:
    """``forward`` and ``backward`` on read-only inputs: shape, dtype, finite values."""
    where = f"{name}.forward on {what}"
    a = check_array(where, call(where, act.forward, frozen(z)), z.shape, z.dtype)
    where = f"{name}.backward on {what}"
    grad_z = call(where, act.backward, frozen(z), frozen(a), frozen(grad_a))
    check_array(where, grad_z, z.shape, z.dtype)


def _fast_path(act: Activation, name: str, z: np.ndarray, grad_a: np.ndarray, what: str,
               order: Order, in_place: bool) -> None:
    """``forward_into`` / ``backward_into`` bit-identical to ``forward`` / ``backward``.

    In ``order`` buffers, as a dense layer keeps them: the inputs read-only, ``out``
    scratch filled with NaN (a variant that returns ``out`` must write all of it).
    For an ``in_place`` activation also ``forward_into(z, z)`` and, with the activation
    standing in for ``z``, ``backward_into(a, a, grad_a, grad_a)``.
    """
    layout = f"{what} in {_LAYOUTS[order]}"
    z = frozen(z, order)
    grad_a = frozen(grad_a, order)
    a = frozen(call(f"{name}.forward on {layout}", act.forward, z), order)
    grad_z = call(f"{name}.backward on {layout}", act.backward, z, a, grad_a)
    forms: list[tuple[str, Callable[..., Any], tuple[np.ndarray, ...], np.ndarray]] = [
        ("forward_into(z, out)", act.forward_into, (z, np.full_like(z, np.nan)), a),
        ("backward_into(z, a, grad_a, out)", act.backward_into,
         (z, a, grad_a, np.full_like(z, np.nan)), grad_z)]
    if in_place:
        z_buffer = np.array(z, order=order)
        a_buffer, g_buffer = np.array(a, order=order), np.array(grad_a, order=order)
        forms += [("forward_into(z, z)", act.forward_into, (z_buffer, z_buffer), a),
                  ("backward_into(a, a, grad_a, grad_a)", act.backward_into,
                   (a_buffer, a_buffer, g_buffer, g_buffer), grad_z)]
    for form, method, args, want in forms:
        got = call(f"{name}.{form} on {layout}", method, *args)
        fast = method.__name__
        plain = fast.removesuffix("_into")
        diff = differences(got, want, fast, plain)
        if diff:
            promise = " (the in-place form in_place = True promises)" if args[-1] is args[-2] \
                or args[-1] is args[0] else ""
            msg = (
                f"{name}.{form}{promise} disagrees with {plain} on {layout}: {diff}. The "
                f"training loop calls {fast}: it must compute exactly what {plain} does, bit "
                "for bit, or training and the kit's checks see different activations"
            )
            raise AssertionError(msg)


def _gradient(act: Activation, name: str, rng: np.random.Generator, rtol: float,
              atol: float) -> None:
    z = away_from_zero(rng, (4, 5))
    grad_a = rng.standard_normal((4, 5))
    a = act.forward(frozen(z))
    analytic = call(f"{name}.backward", act.backward, frozen(z), frozen(a), frozen(grad_a))

    def objective(x: np.ndarray) -> float:
        return float(np.vdot(grad_a, act.forward(x)))

    f0, numeric, kink = call(f"{name}.forward", numeric_gradient, objective, z, EPS)
    compare_gradient(
        f"{name}: backward(z, a, grad_a) for random grad_a", analytic, numeric, kink, f0,
        rtol, atol, lambda i: f" (z={number(z[i])}, grad_a={number(grad_a[i])})")


def _twin(act: Activation, name: str, rng: np.random.Generator) -> None:
    """An instance rebuilt from the parameters computes the same values."""
    twin = rebuild(act)
    z = away_from_zero(rng, (4, 5))
    grad_a = rng.standard_normal((4, 5))
    for dtype in (np.float64, np.float32):
        zz, g = frozen(z.astype(dtype)), frozen(grad_a.astype(dtype))
        a1, a2 = act.forward(zz), twin.forward(zz)
        b1 = act.backward(zz, frozen(a1), g)
        b2 = twin.backward(zz, frozen(a2), g)
        if differences(a1, a2, "", "") or differences(b1, b2, "", ""):
            msg = (
                f"{name}: an instance rebuilt from its parameters computes different "
                f"values ({label(twin)}); something the behaviour depends on is not a "
                "parameter, so a spec cannot reproduce this activation"
            )
            raise AssertionError(msg)
