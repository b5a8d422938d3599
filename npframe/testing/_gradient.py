"""Central finite differences and the comparison of an analytic gradient against them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from npframe.testing._messages import index, number

__all__ = ["ATOL", "EPS", "RTOL", "compare_gradient", "numeric_gradient"]

__tracebackhide__ = True  # the kit's frames stay out of pytest's failure reports

#: Step of the central finite differences (float64).
EPS = 1e-6
#: Default tolerances of the gradient check: ``|analytic - numeric| <= atol * max(1,
#: |f|) + rtol * |numeric|``. Float64 round-off of the differences is about 1e-10.
RTOL = 1e-5
ATOL = 1e-7


def numeric_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = EPS,
                     ) -> tuple[float, np.ndarray, np.ndarray]:
    """Central differences of scalar ``f`` at ``x`` (float64), and where ``f`` has a kink.

    A kink (one-sided slopes that disagree) makes the central difference meaningless
    there, so such points are left out of the comparison rather than failing it.
    """
    x = np.array(x, dtype=np.float64)
    f0 = f(x.copy())
    numeric = np.empty_like(x)
    kink = np.zeros(x.shape, dtype=bool)
    for idx in np.ndindex(*x.shape):
        orig = x[idx]
        xp = x.copy()
        xp[idx] = orig + eps
        xm = x.copy()
        xm[idx] = orig - eps
        hp, hm = xp[idx] - orig, orig - xm[idx]
        fp, fm = f(xp), f(xm)
        numeric[idx] = (fp - fm) / (hp + hm)
        right, left = (fp - f0) / hp, (f0 - fm) / hm
        kink[idx] = abs(right - left) > 1e-3 * max(1.0, abs(right), abs(left))
    return f0, numeric, kink


def compare_gradient(what: str, analytic: np.ndarray, numeric: np.ndarray, kink: np.ndarray,
                     f0: float, rtol: float, atol: float,
                     context: Callable[[tuple[int, ...]], str] = lambda i: "") -> None:
    """``analytic`` against ``numeric`` within the tolerances, kinks left out."""
    total = numeric.size
    if kink.sum() > total // 2:
        msg = (
            f"{what}: could not check the gradient: the function has a kink at "
            f"{int(kink.sum())} of {total} random points, so finite differences are meaningless"
        )
        raise AssertionError(msg)
    analytic = np.asarray(analytic, dtype=np.float64)
    err = np.abs(analytic - numeric)
    err[~np.isfinite(err)] = np.inf
    err[kink] = 0.0
    limit = atol * max(1.0, abs(f0)) + rtol * np.abs(numeric)
    bad = err > limit
    if not bad.any():
        return
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(np.where(bad, err, -1.0)),
                                                   err.shape))
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), np.finfo(np.float64).tiny)
    rel = np.where(bad, err / scale, 0.0)
    msg = (
        f"{what} disagrees with central finite differences (float64, eps={EPS:g}) at "
        f"{int(bad.sum())} of {total - int(kink.sum())} entries: max abs error "
        f"{number(err[worst])} at index {index(worst)}{context(worst)}, where the analytic "
        f"gradient is {number(analytic[worst])} and finite differences give "
        f"{number(numeric[worst])}; max relative error {number(rel.max())} "
        f"(tolerance: {atol:g} * max(1, |value|) + {rtol:g} * |numeric|)"
    )
    raise AssertionError(msg)
