"""Numerically stable elementwise helpers shared by the built-in components.

Every helper keeps the dtype of its input (scalars are Python floats, which NumPy 2
treats as "weak" and never upcasts with), never overflows for finite inputs, and
never mutates its argument.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "erfc_nonnegative",
    "log_softmax",
    "normal_cdf",
    "normal_pdf",
    "sigmoid",
    "softmax",
    "sum_of_products",
]


def sum_of_products(a: np.ndarray, b: np.ndarray) -> float:
    """``sum(a * b)`` in one pass without a temporary, for arrays of the same shape.

    ``einsum`` rather than ``np.vdot``: a BLAS dot may wake several threads, which
    costs more than the arithmetic for the small arrays of a network.
    """
    axes = list(range(a.ndim))
    return float(np.einsum(a, axes, b, axes, []))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))`` from ``exp(-|z|)``: no overflow for any finite ``z``."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise (last axis) softmax, shifted by the row maximum so ``exp`` never overflows."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise ``log(softmax(z))`` without ever taking ``log(0)``."""
    shifted = z - z.max(axis=-1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return shifted


# W. J. Cody, "Rational Chebyshev approximations for the error function",
# Math. Comp. 23 (1969) 631-638: the coefficients of Netlib SPECFUN's CALERF.
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
      3.20937758913846947e03, 1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
      2.84423683343917062e03)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
      2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
      2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
      1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
      3.43936767414372164e03, 1.23033935480374942e03)
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)
_INV_SQRT_PI = 5.6418958354775628695e-1
#: Beyond this, erfc underflows to 0 in float64 (Cody's XBIG).
_ERFC_ZERO_FROM = 26.543


def _exp_minus_square(y: np.ndarray) -> np.ndarray:
    """``exp(-y*y)`` with Cody's split of ``y*y``, which keeps its rounding error small."""
    ysq = np.trunc(y * 16.0) / 16.0
    return np.exp(-ysq * ysq) * np.exp(-(y - ysq) * (y + ysq))


def erfc_nonnegative(t: np.ndarray) -> np.ndarray:
    """``erfc(t)`` for ``t >= 0``, to about 1e-16 relative error in float64.

    Cody's three rational approximations, evaluated only where each applies (so
    nothing divides by zero); exact to the last bit or two against ``math.erfc``.
    In float32 it is computed in float32 (relative error about 1e-7).
    """
    out = np.zeros_like(t)
    small = t <= 0.46875
    if small.any():
        y = t[small]
        ysq = y * y
        num, den = _A[4] * ysq, ysq
        for a, b in zip(_A[:3], _B[:3], strict=True):
            num = (num + a) * ysq
            den = (den + b) * ysq
        out[small] = 1.0 - y * (num + _A[3]) / (den + _B[3])
    middle = (t > 0.46875) & (t <= 4.0)
    if middle.any():
        y = t[middle]
        num, den = _C[8] * y, y
        for c, d in zip(_C[:7], _D[:7], strict=True):
            num = (num + c) * y
            den = (den + d) * y
        out[middle] = _exp_minus_square(y) * ((num + _C[7]) / (den + _D[7]))
    large = (t > 4.0) & (t < _ERFC_ZERO_FROM)
    if large.any():
        y = t[large]
        inv = 1.0 / (y * y)
        num, den = _P[5] * inv, inv
        for p, q in zip(_P[:4], _Q[:4], strict=True):
            num = (num + p) * inv
            den = (den + q) * inv
        r = inv * (num + _P[4]) / (den + _Q[4])
        out[large] = _exp_minus_square(y) * ((_INV_SQRT_PI - r) / y)
    return out


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """``Phi(z) = 0.5 * erfc(-z / sqrt(2))``, accurate in relative terms in both tails."""
    half_tail = 0.5 * erfc_nonnegative(np.abs(z) * (1.0 / math.sqrt(2.0)))
    return np.where(z < 0, half_tail, 1.0 - half_tail)


def normal_pdf(z: np.ndarray) -> np.ndarray:
    """``exp(-z**2 / 2) / sqrt(2 pi)``; ``|z|`` is capped at 40 (where it is 0) against overflow."""
    zc = np.minimum(np.abs(z), 40.0)
    return np.exp(-0.5 * zc * zc) * (1.0 / math.sqrt(2.0 * math.pi))
