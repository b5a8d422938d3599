"""``check_loss``: value and gradient, and every variant the training loop calls agreeing."""

from __future__ import annotations

import math

import numpy as np

from npframe.interfaces import Loss
from npframe.testing._arrays import Order, check_array, differences, frozen, scalar
from npframe.testing._gradient import ATOL, EPS, RTOL, compare_gradient, numeric_gradient
from npframe.testing._guard import call, no_global_randomness
from npframe.testing._inputs import SEED, loss_data, loss_edges, pick_domain
from npframe.testing._messages import index, number
from npframe.testing._parameters import check_instance, label, rebuild

__all__ = ["check_loss"]

__tracebackhide__ = True  # the kit's frames stay out of pytest's failure reports

_LAYOUTS = {"C": "samples x outputs (C order)", "F": "outputs x samples (F order)"}


def check_loss(loss: Loss, *, domain: str | None = None, seed: int = SEED, rtol: float = RTOL,
               atol: float = ATOL) -> None:
    """Check a loss instance; ``None`` if it conforms, else ``AssertionError``.

    Checks: ``value`` is a finite real number; ``gradient`` has the prediction's shape
    and dtype (float32 and float64) and matches central finite differences of
    ``value`` in float64; ``value_and_gradient`` agrees with both; the training loop's
    ``value_and_gradient_into`` gives exactly ``value()`` and writes exactly
    ``gradient()`` (bit for bit, in C and F order buffers); ``sample_losses`` has one
    finite loss per sample, each from its own row, averaging to ``value``; for a
    classification loss, ``probabilities`` stay in [0, 1] (rows summing to 1 when it
    couples the columns, as softmax does); inputs are passed read-only and never
    written; nothing warns at boundary inputs (exact zeros, exact 0 and 1 probabilities,
    magnitudes of 1e3); the parameters survive a spec round trip.

    ``domain`` says what data the loss accepts: ``"real"`` (regression targets and
    predictions) or ``"probability"`` (0/1 or one-hot targets, predictions in [0, 1]).
    When it is not given, the loss's own ``prediction_domain`` attribute decides; when
    that is absent too, the loss is tried on real data and checked on probabilities
    only if real data raises, warns or gives a non-finite value.
    """
    check_instance(loss, Loss, "a loss")
    name = label(loss)
    rng = np.random.default_rng(seed)
    if not isinstance(loss.classification, bool):
        msg = f"{name}.classification must be True or False (got {loss.classification!r})"
        raise AssertionError(msg)

    def probe(dom: str) -> None:
        y_true, y_pred = loss_data(dom, np.random.default_rng(seed), (5, 3), np.float64)
        scalar(f"{name}.value", call(f"{name}.value", loss.value, frozen(y_true), frozen(y_pred)))

    with no_global_randomness(name):
        domain, why = pick_domain(loss, probe, domain)
        try:
            _check_on(loss, name, domain, rng, rtol, atol)
        except AssertionError as exc:
            if why:  # one message, the reason for the domain appended
                exc.args = (f"{exc}{why}", *exc.args[1:])
            raise


def _check_on(loss: Loss, name: str, domain: str, rng: np.random.Generator,
              rtol: float, atol: float) -> None:
    for dtype in (np.dtype(np.float64), np.dtype(np.float32)):
        cases = [(*loss_data(domain, rng, shape, dtype), f"{dtype} {domain} data of shape {shape}")
                 for shape in ((1, 1), (5, 1), (6, 3))]
        cases += loss_edges(domain, dtype)
        for y_true, y_pred, what in cases:
            value = _plain(loss, name, y_true, y_pred, what)
            for order in ("C", "F"):
                _into(loss, name, y_true, y_pred, what, order)
            _sample_losses(loss, name, y_true, y_pred, value, what)
            if loss.classification:
                _probabilities(loss, name, y_pred, what)
    _gradient(loss, name, domain, rng, rtol, atol)
    _twin(loss, name, domain, rng)


def _plain(loss: Loss, name: str, y_true: np.ndarray, y_pred: np.ndarray, what: str) -> float:
    """``value``, ``gradient`` and ``value_and_gradient`` on read-only inputs; the value."""
    t, p = frozen(y_true), frozen(y_pred)
    where = f"{name}.value on {what}"
    v = scalar(where, call(where, loss.value, t, p))
    where = f"{name}.gradient on {what}"
    g = check_array(where, call(where, loss.gradient, t, p), p.shape, p.dtype)
    where = f"{name}.value_and_gradient on {what}"
    pair = call(where, loss.value_and_gradient, t, p)
    if not isinstance(pair, tuple) or len(pair) != 2:
        raise AssertionError(f"{where} must return a (value, gradient) pair, got {pair!r}")
    v2 = scalar(where, pair[0])
    g2 = check_array(where, pair[1], p.shape, p.dtype)
    tol = 1e-5 if p.dtype == np.float32 else 1e-10
    if not math.isclose(v, v2, rel_tol=tol, abs_tol=tol):
        raise AssertionError(f"{where} gave value {number(v2)} but value() gave {number(v)}")
    if not np.allclose(g, g2, rtol=tol, atol=tol * float(np.abs(g).max() or 1.0)):
        idx = tuple(np.unravel_index(int(np.argmax(np.abs(g - g2))), g.shape))
        msg = (
            f"{where} disagrees with gradient(): max abs difference "
            f"{number(np.abs(g - g2)[idx])} at index {index(idx)} "
            f"({number(g2[idx])} vs {number(g[idx])})"
        )
        raise AssertionError(msg)
    return v


def _into(loss: Loss, name: str, y_true: np.ndarray, y_pred: np.ndarray, what: str,
          order: Order) -> None:
    """``value_and_gradient_into`` as the training loop calls it: targets, predictions
    and ``out`` in the output layer's memory order; exactly ``value()`` and ``gradient()``."""
    layout = f"{what} in {_LAYOUTS[order]}"
    t, p = frozen(y_true, order), frozen(y_pred, order)
    want_value = scalar(f"{name}.value on {layout}", call(f"{name}.value", loss.value, t, p))
    want = call(f"{name}.gradient on {layout}", loss.gradient, t, p)
    out = np.full_like(p, np.nan)
    where = f"{name}.value_and_gradient_into(y_true, y_pred, out) on {layout}"
    got_value = scalar(where, call(where, loss.value_and_gradient_into, t, p, out))
    default = type(loss).value_and_gradient_into is Loss.value_and_gradient_into
    via = (" (npframe's default value_and_gradient_into, which calls value_and_gradient: "
           "that one disagrees)") if default else ""
    if got_value != want_value:
        msg = (
            f"{where}{via} returned {number(got_value)}, but value() gives "
            f"{number(want_value)}; the training loop's loss must be exactly the one "
            "evaluate() reports"
        )
        raise AssertionError(msg)
    diff = differences(out, want, "out", "gradient()")
    if diff:
        msg = (
            f"{where}{via} wrote a gradient that is not bit-identical to gradient(): {diff}. "
            "The training loop uses only the gradient written into out; it must be exactly "
            "the gradient the kit checks against finite differences"
        )
        raise AssertionError(msg)


def _sample_losses(loss: Loss, name: str, y_true: np.ndarray, y_pred: np.ndarray,
                   value: float, what: str) -> None:
    """One finite loss per sample, from its own row; their mean is ``value``."""
    n = y_pred.shape[0]
    where = f"{name}.sample_losses on {what}"
    losses = call(where, loss.sample_losses, frozen(y_true), frozen(y_pred))
    if not isinstance(losses, np.ndarray) or losses.shape != (n,) or losses.dtype.kind != "f":
        got = (f"{losses.dtype} array of shape {losses.shape}" if isinstance(losses, np.ndarray)
               else type(losses).__name__)
        raise AssertionError(f"{where} returned {got}; expected a float array of shape ({n},)")
    check_array(where, losses, (n,), losses.dtype)
    tol = 1e-5 if y_pred.dtype == np.float32 else 1e-10
    mean = float(np.mean(losses, dtype=np.float64))
    if not math.isclose(mean, value, rel_tol=tol, abs_tol=tol):
        msg = (
            f"{where}: their mean is {number(mean)} but value() is {number(value)}; "
            "sample_losses must give each sample's loss, whose mean is value (sample and "
            "class weights make the loss their weighted mean)"
        )
        raise AssertionError(msg)
    if n > 1:
        head = call(where, loss.sample_losses, frozen(y_true[:1]), frozen(y_pred[:1]))
        if not math.isclose(float(head[0]), float(losses[0]), rel_tol=tol, abs_tol=tol):
            msg = (
                f"{where}: sample 0's loss is {number(losses[0])} in the batch but "
                f"{number(head[0])} alone; a sample's loss must depend on its own row only"
            )
            raise AssertionError(msg)


def _probabilities(loss: Loss, name: str, y_pred: np.ndarray, what: str) -> None:
    """Class probabilities: in [0, 1], each row from its own row, and summing to 1 when
    the columns are coupled (a softmax) rather than independent (sigmoids)."""
    where = f"{name}.probabilities on {what}"
    p = check_array(where, call(where, loss.probabilities, frozen(y_pred)), y_pred.shape,
                    y_pred.dtype)
    outside = (p < 0) | (p > 1)
    if outside.any():
        idx = tuple(np.argwhere(outside)[0])
        msg = (f"{where} returned {number(p[idx])} at index {index(idx)}; probabilities must "
               "be in [0, 1]")
        raise AssertionError(msg)
    n, k = y_pred.shape
    tol = 1e-5 if y_pred.dtype == np.float32 else 1e-12
    if n > 1:
        head = call(where, loss.probabilities, frozen(y_pred[:1]))
        if not np.allclose(head, p[:1], rtol=tol, atol=tol):
            msg = (f"{where}: row 0 differs when computed alone; a sample's probabilities "
                   "must depend on its own row only (a softmax over axis 0?)")
            raise AssertionError(msg)
    if k < 2 or not np.isfinite(y_pred).all():
        return
    nudged = np.array(y_pred)
    nudged[:, 0] = nudged[:, 0] * 0.5 + 0.25  # stays in [0, 1] for probabilities
    q = call(where, loss.probabilities, frozen(nudged))
    if np.array_equal(q[:, 1:], p[:, 1:]):
        return  # each column on its own (sigmoids, or probabilities as they are)
    sums = np.asarray(np.sum(p, axis=1, dtype=np.float64))
    off = np.abs(sums - 1.0)
    if (off > tol * k).any():
        row = int(np.argmax(off))
        msg = (
            f"{where}: row {row} sums to {number(sums[row])}; probabilities that depend on "
            "each other's columns (a softmax) must sum to 1 over the classes"
        )
        raise AssertionError(msg)


def _gradient(loss: Loss, name: str, domain: str, rng: np.random.Generator, rtol: float,
              atol: float) -> None:
    y_true, y_pred = loss_data(domain, rng, (5, 3), np.float64)
    analytic = loss.gradient(frozen(y_true), frozen(y_pred))

    def objective(x: np.ndarray) -> float:
        return float(loss.value(frozen(y_true), x))

    f0, numeric, kink = call(f"{name}.value", numeric_gradient, objective, y_pred, EPS)
    compare_gradient(
        f"{name}: gradient(y_true, y_pred) on {domain} data", analytic, numeric, kink, f0,
        rtol, atol, lambda i: f" (y_true={number(y_true[i])}, y_pred={number(y_pred[i])})")


def _twin(loss: Loss, name: str, domain: str, rng: np.random.Generator) -> None:
    twin = rebuild(loss)
    y_true, y_pred = loss_data(domain, rng, (5, 3), np.float64)
    for dtype in (np.float64, np.float32):
        t, p = frozen(y_true.astype(dtype)), frozen(y_pred.astype(dtype))
        same = (float(loss.value(t, p)) == float(twin.value(t, p))
                and not differences(loss.gradient(t, p), twin.gradient(t, p), "", ""))
        if not same:
            msg = (
                f"{name}: an instance rebuilt from its parameters computes different values "
                f"({label(twin)}); something the behaviour depends on is not a parameter"
            )
            raise AssertionError(msg)
