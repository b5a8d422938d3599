"""``check_metric``: one deterministic number whose direction matches ``greater_is_better``."""

from __future__ import annotations

import numpy as np

from npframe.interfaces import Metric
from npframe.testing._arrays import frozen, scalar
from npframe.testing._guard import call, no_global_randomness
from npframe.testing._inputs import SEED, loss_data, pick_domain
from npframe.testing._messages import number
from npframe.testing._parameters import check_instance, label, rebuild

__all__ = ["check_metric"]

__tracebackhide__ = True  # the kit's frames stay out of pytest's failure reports


def check_metric(metric: Metric, *, domain: str | None = None, seed: int = SEED) -> None:
    """Check a metric instance; ``None`` if it conforms, else ``AssertionError``.

    Checks: it returns one finite real number for float32 and float64 data;
    ``greater_is_better`` is a bool that agrees with the metric (a perfect prediction
    scores at least as well as a noisy one); it is deterministic; inputs are passed
    read-only and never written; nothing warns; the parameters survive a spec round
    trip. ``domain`` as for ``check_loss``.
    """
    check_instance(metric, Metric, "a metric")
    name = label(metric)
    rng = np.random.default_rng(seed)
    if not isinstance(metric.greater_is_better, bool):
        msg = f"{name}.greater_is_better must be True or False (got {metric.greater_is_better!r})"
        raise AssertionError(msg)

    def probe(dom: str) -> None:
        y_true, y_pred = loss_data(dom, np.random.default_rng(seed), (6, 3), np.float64)
        scalar(f"{name}()", call(f"{name}()", metric, frozen(y_true), frozen(y_pred)))

    with no_global_randomness(name):
        domain, why = pick_domain(metric, probe, domain)
        try:
            _check_on(metric, name, domain, rng)
        except AssertionError as exc:
            if why:  # one message, the reason for the domain appended
                exc.args = (f"{exc}{why}", *exc.args[1:])
            raise


def _check_on(metric: Metric, name: str, domain: str, rng: np.random.Generator) -> None:
    twin = rebuild(metric)
    for dtype in (np.float64, np.float32):
        for shape in ((8, 1), (6, 3)):
            y_true, y_pred = loss_data(domain, rng, shape, dtype)
            t, p = frozen(y_true), frozen(y_pred)
            what = f"{np.dtype(dtype)} {domain} data of shape {shape}"
            where = f"{name}(y_true, y_pred) on {what}"
            v = scalar(where, call(where, metric, t, p))
            again = scalar(where, call(where, metric, t, p))
            if v != again:
                msg = f"{where} is not deterministic: {number(v)} then {number(again)}"
                raise AssertionError(msg)
            if float(twin(t, p)) != v:
                msg = (
                    f"{name}: an instance rebuilt from its parameters scores differently "
                    f"({label(twin)}); something the behaviour depends on is not a parameter"
                )
                raise AssertionError(msg)
            perfect = scalar(where, call(f"{name}(y, y) on {what}", metric, t, frozen(y_true)))
            worse = perfect < v if metric.greater_is_better else perfect > v
            if worse:
                direction = "higher" if metric.greater_is_better else "lower"
                msg = (
                    f"{name}: a perfect prediction scored {number(perfect)} but a noisy one "
                    f"{number(v)} on {what}; with greater_is_better="
                    f"{metric.greater_is_better} the perfect one should score {direction} "
                    "or equal. Is greater_is_better right?"
                )
                raise AssertionError(msg)
