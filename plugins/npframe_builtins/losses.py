"""Built-in losses. ``y_true`` and ``y_pred`` are ``(n, outputs)``.

Reduction conventions (PyTorch's ``reduction="mean"``, which Keras matches):

* elementwise losses (``mse``, ``mae``, ``huber``, ``binary_crossentropy``) are the
  mean over samples *and* outputs of a per-element loss;
* ``categorical_crossentropy`` sums over the classes of a row, then averages over rows.

``gradient`` is d ``value`` / d ``y_pred`` for exactly that reduction, in the dtype of
``y_pred``; ``value`` is a Python float. Inputs are never mutated.
"""

from __future__ import annotations

import numpy as np
from attrs import field, frozen, validators

from npframe import Loss
from npframe.numeric import sum_of_squares
from npframe_builtins._numeric import log_softmax, sigmoid, softmax, sum_of_products

__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "Huber",
    "MeanAbsoluteError",
    "MeanSquaredError",
]


class _OneFormula(Loss):
    """A loss written once, as ``value_and_gradient_into``; the other methods derive.

    The training loop calls ``value_and_gradient_into`` with its own buffer; ``value``,
    ``gradient`` and ``value_and_gradient`` run the same code on a fresh array, so they
    agree with training bit for bit.
    """

    def value_and_gradient(self, y_true, y_pred):
        grad = np.empty_like(y_pred)
        return self.value_and_gradient_into(y_true, y_pred, grad), grad

    def value(self, y_true, y_pred):
        return self.value_and_gradient(y_true, y_pred)[0]

    def gradient(self, y_true, y_pred):
        return self.value_and_gradient(y_true, y_pred)[1]

    def elementwise(self, y_true, y_pred):
        """The per-element loss whose mean is ``value`` (elementwise losses)."""
        raise NotImplementedError

    def sample_losses(self, y_true, y_pred):
        return np.mean(self.elementwise(y_true, y_pred), axis=1, dtype=np.float64)


@frozen
class MeanSquaredError(_OneFormula):
    """``mean((y_pred - y_true)**2)`` over samples *and* outputs (PyTorch, Keras)."""

    def value_and_gradient_into(self, y_true, y_pred, out):
        diff = np.subtract(y_pred, y_true, out=out)
        # BLAS dot products in chunks (npframe.numeric): faster than np.einsum
        value = sum_of_squares(diff) / diff.size
        diff *= 2.0 / diff.size
        return value

    def elementwise(self, y_true, y_pred):
        diff = y_pred - y_true
        return diff * diff


@frozen
class MeanAbsoluteError(_OneFormula):
    """``mean(|y_pred - y_true|)``; the gradient at a tie is 0 (``sign(0)``)."""

    def value_and_gradient_into(self, y_true, y_pred, out):
        diff = np.subtract(y_pred, y_true, out=out)
        value = float(np.mean(np.abs(diff)))
        np.sign(diff, out=diff)
        diff *= 1.0 / diff.size
        return value

    def elementwise(self, y_true, y_pred):
        return np.abs(y_pred - y_true)


@frozen
class Huber(_OneFormula):
    """Mean of ``0.5 d**2`` for ``|d| <= delta``, else ``delta (|d| - 0.5 delta)``.

    With ``d = y_pred - y_true``: PyTorch's ``HuberLoss`` and Keras' ``Huber``,
    quadratic near 0 and linear in the tails, so outliers pull with a bounded
    force. The gradient is ``clip(d, -delta, delta) / size``.
    """

    delta: float = field(default=1.0, converter=float, validator=validators.gt(0.0))

    def _elements(self, diff):
        abs_diff = np.abs(diff)
        quadratic = np.minimum(abs_diff, self.delta)
        # 0.5 q**2 + delta * (|d| - q) equals both branches of the piecewise form.
        return quadratic * quadratic * 0.5 + (abs_diff - quadratic) * self.delta

    def value_and_gradient_into(self, y_true, y_pred, out):
        diff = np.subtract(y_pred, y_true, out=out)
        value = float(np.mean(self._elements(diff)))
        np.clip(diff, -self.delta, self.delta, out=diff)
        diff *= 1.0 / diff.size
        return value

    def elementwise(self, y_true, y_pred):
        return self._elements(y_pred - y_true)


def _clip_probabilities(p: np.ndarray) -> np.ndarray:
    """``p`` clipped to ``[eps, 1 - eps]`` with ``eps = finfo(dtype).eps``: never ``log(0)``."""
    eps = np.finfo(p.dtype).eps if np.issubdtype(p.dtype, np.floating) else np.finfo(float).eps
    return np.clip(p, eps, 1 - eps)


@frozen
class BinaryCrossentropy(_OneFormula):
    """Mean over samples and outputs of ``-(y log p + (1 - y) log(1 - p))``.

    ``y_true`` holds targets in ``[0, 1]`` (one independent binary label per output
    column). With ``from_logits=False`` (default) ``y_pred`` holds probabilities
    (e.g. a ``sigmoid`` output), clipped to ``[eps, 1 - eps]``, ``eps =
    finfo(dtype).eps``; the gradient ``(p - y) / (p (1 - p)) / size`` is evaluated at
    the clipped ``p`` (so a saturated wrong prediction is still pushed back rather
    than getting the zero derivative of the clip). With ``from_logits=True``
    ``y_pred`` holds logits ``z`` and the loss is ``softplus(z) - y z`` computed with
    ``logaddexp``: exact and overflow-free for any ``z``, gradient
    ``(sigmoid(z) - y) / size`` (PyTorch's ``BCEWithLogitsLoss``).
    """

    classification = True
    from_logits: bool = field(default=False, validator=validators.instance_of(bool))

    @property
    def prediction_domain(self) -> str:
        """What ``y_pred`` holds, for ``npframe.testing``: probabilities unless logits."""
        return "real" if self.from_logits else "probability"

    def elementwise(self, y_true, y_pred):
        if self.from_logits:
            return np.logaddexp(0.0, y_pred) - y_true * y_pred
        p = _clip_probabilities(y_pred)
        return -(y_true * np.log(p) + (1 - y_true) * np.log1p(-p))

    def value_and_gradient_into(self, y_true, y_pred, out):
        value = float(np.mean(self.elementwise(y_true, y_pred)))
        if self.from_logits:
            np.copyto(out, sigmoid(y_pred))
            out -= y_true
        else:
            p = _clip_probabilities(y_pred)
            np.divide(p - y_true, p * (1 - p), out=out)
        out *= 1.0 / out.size
        return value

    def probabilities(self, y_pred):
        return sigmoid(y_pred) if self.from_logits else y_pred


@frozen
class CategoricalCrossentropy(_OneFormula):
    """Mean over rows of ``-sum_k y_k log p_k`` (sum over the classes of a row).

    ``y_true`` rows are one-hot or class probabilities. With ``from_logits=False``
    (default) ``y_pred`` rows are probabilities (a ``softmax`` output), clipped to
    ``[eps, 1 - eps]`` (``eps = finfo(dtype).eps``) and not renormalized; the
    gradient ``-y / p / n`` is evaluated at the clipped ``p``. With
    ``from_logits=True`` ``y_pred`` holds logits and ``log p`` is a stable
    log-softmax; the gradient is ``(softmax(z) * sum_k y_k - y) / n``, which is
    ``(softmax(z) - y) / n`` for rows of ``y`` summing to 1 (PyTorch's
    ``CrossEntropyLoss`` with probability targets, Keras'
    ``categorical_crossentropy``).
    """

    classification = True
    from_logits: bool = field(default=False, validator=validators.instance_of(bool))

    @property
    def prediction_domain(self) -> str:
        """What ``y_pred`` holds, for ``npframe.testing``: probabilities unless logits."""
        return "real" if self.from_logits else "probability"

    def _log_p(self, y_pred):
        return log_softmax(y_pred) if self.from_logits else np.log(_clip_probabilities(y_pred))

    def sample_losses(self, y_true, y_pred):
        return -np.sum(y_true * self._log_p(y_pred), axis=1, dtype=np.float64)

    def value_and_gradient_into(self, y_true, y_pred, out):
        n = y_pred.shape[0]
        value = -sum_of_products(y_true, self._log_p(y_pred)) / n
        if self.from_logits:
            np.copyto(out, softmax(y_pred))
            out *= y_true.sum(axis=-1, keepdims=True)
            out -= y_true
        else:
            np.divide(y_true, _clip_probabilities(y_pred), out=out)
            np.negative(out, out=out)
        out *= 1.0 / n
        return value

    def probabilities(self, y_pred):
        return softmax(y_pred) if self.from_logits else y_pred


REGISTRY = [
    ("loss", "mse", MeanSquaredError),
    ("loss", "mae", MeanAbsoluteError),
    ("loss", "huber", Huber),
    ("loss", "binary_crossentropy", BinaryCrossentropy),
    ("loss", "categorical_crossentropy", CategoricalCrossentropy),
]
