"""The data the kit feeds components: random, boundary and large inputs.

Random inputs keep away from 0, where kinks sit (finite differences are meaningless
there). Boundary inputs then go exactly where components break: zeros, exact 0 and 1
probabilities (what a saturated sigmoid or softmax produces in float32), and
magnitudes of ``LARGE``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from npframe.testing._parameters import label

__all__ = [
    "DOMAINS",
    "LARGE",
    "SEED",
    "activation_edges",
    "away_from_zero",
    "large_inputs",
    "loss_data",
    "loss_edges",
    "pick_domain",
]

__tracebackhide__ = True  # the kit's frames stay out of pytest's failure reports

#: Seed of every random input the kit draws (and of the ``npframe_rng`` fixture).
SEED = 20240607
#: The magnitude at which nothing may warn, overflow or turn non-finite.
LARGE = 1e3
#: Data a loss or metric is checked on: real numbers, or probabilities (targets
#: one-hot or 0/1, predictions in [0, 1], rows summing to 1 with several columns).
#: A component that only accepts probabilities says so with a ``prediction_domain``
#: attribute (or property) set to ``"probability"``.
DOMAINS = ("real", "probability")


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values with ``0.1 <= |x| <= 3``: kinks sit at 0 far more often than anywhere else."""
    return rng.uniform(0.1, 3.0, shape) * rng.choice([-1.0, 1.0], shape)


def large_inputs(dtype: Any) -> np.ndarray:
    """``(3, 10)`` values from ``-LARGE`` to ``LARGE``, both signs in every column."""
    row = [-LARGE, -100.0, -30.0, -1.0, -1e-3, 1e-3, 1.0, 30.0, 100.0, LARGE]
    return np.array([row, row[::-1], [LARGE] * 5 + [-LARGE] * 5], dtype=dtype)


def activation_edges(dtype: Any) -> list[tuple[np.ndarray, str]]:
    """``(z, description)`` at the boundaries: exact zeros, and magnitudes up to ``LARGE``."""
    zeros = np.zeros((2, 4), dtype)
    zeros[1] = -0.0
    return [(zeros, f"{np.dtype(dtype)} z of exact zeros (+0.0 and -0.0)"),
            (large_inputs(dtype), f"{np.dtype(dtype)} z with |z| up to {LARGE:g}")]


def loss_data(domain: str, rng: np.random.Generator, shape: tuple[int, int], dtype: Any,
              ) -> tuple[np.ndarray, np.ndarray]:
    """Random ``(y_true, y_pred)`` of ``domain`` (see ``DOMAINS``)."""
    n, k = shape
    if domain == "real":
        y_true = rng.uniform(-2.0, 2.0, shape)
        y_pred = y_true + away_from_zero(rng, shape)
    elif k == 1:
        y_true = rng.integers(0, 2, shape).astype(np.float64)
        y_pred = rng.uniform(0.05, 0.95, shape)
    else:
        y_true = np.eye(k)[rng.integers(0, k, n)]
        logits = rng.uniform(-1.5, 1.5, shape)
        y_pred = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y_true.astype(dtype), y_pred.astype(dtype)


def loss_edges(domain: str, dtype: Any) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """``(y_true, y_pred, description)`` at the boundaries of ``domain``."""
    dt = np.dtype(dtype)
    if domain == "real":
        y_pred = large_inputs(dtype)
        y_true = np.zeros_like(y_pred)
        y_true[1] = -y_pred[1]
        same = np.linspace(-2.0, 2.0, 6, dtype=dtype).reshape(3, 2)
        zeros = np.zeros((3, 2), dtype)
        return [(y_true, y_pred, f"{dt} data with |y_pred| up to {LARGE:g}"),
                (same, same.copy(), f"{dt} data with y_pred == y_true (zero error)"),
                (zeros, zeros.copy(), f"{dt} data of exact zeros")]
    # probabilities at the edges: what a saturated sigmoid or softmax produces
    hot = np.eye(3, dtype=dtype)[[0, 1, 2, 0]]
    near = np.array([[1 - 2e-6, 1e-6, 1e-6], [1e-6, 1e-6, 1 - 2e-6],
                     [0.5, 0.5 - 1e-6, 1e-6], [1e-6, 1 - 2e-6, 1e-6]], dtype=dtype)
    exact = np.array([[1, 0, 0], [0, 0, 1], [0.5, 0.5, 0], [0, 1, 0]], dtype=dtype)
    binary_true = np.array([[0], [1], [0], [1]], dtype=dtype)
    binary_pred = np.array([[0], [1], [1], [0]], dtype=dtype)
    return [(hot, near, f"{dt} probabilities within 1e-6 of 0 and 1"),
            (hot, exact, f"{dt} probabilities of exactly 0 and 1, some confidently wrong"),
            (binary_true, binary_pred, f"{dt} single-column probabilities of exactly 0 and 1")]


def pick_domain(component: Any, probe: Callable[[str], None], domain: str | None,
                ) -> tuple[str, str]:
    """The domain to check on, and why (the real domain's failure when it was rejected).

    The ``domain`` argument wins, then the component's ``prediction_domain``; without
    either, real data is tried and probabilities are the fallback.
    """
    if domain is None:
        domain = getattr(component, "prediction_domain", None)
        if domain is not None and domain not in DOMAINS:
            msg = (
                f"{label(component)}.prediction_domain must be one of "
                f"{', '.join(map(repr, DOMAINS))} (got {domain!r})"
            )
            raise AssertionError(msg)
    elif domain not in DOMAINS:
        raise ValueError(f"domain must be one of {', '.join(map(repr, DOMAINS))} (got {domain!r})")
    if domain is not None:
        return domain, ""
    try:
        probe("real")
    except AssertionError as exc:
        return "probability", f" [checked on probabilities because real-valued data failed: {exc}]"
    return "real", ""
