"""Built-in activations. Shapes: ``z``, ``a`` and gradients are ``(n, units)``.

Every activation keeps the dtype of ``z`` (float32 stays float32: scalars are Python
floats, and ``np.where`` chooses between arrays), stays finite and warning-free for
any finite ``z`` (``|z| = 1e3`` included), and never mutates its inputs. ``backward``
returns ``dL/dz`` given ``dL/da``; ``a`` is ``forward(z)``.
"""

from __future__ import annotations

import math

import numpy as np
from attrs import field, frozen, validators

from npframe import Activation
from npframe_builtins._numeric import normal_cdf, normal_pdf, sigmoid, softmax

__all__ = [
    "ELU",
    "GELU",
    "LeakyReLU",
    "Linear",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Swish",
    "Tanh",
]


@frozen
class ReLU(Activation):
    """``max(z, 0)``; the derivative at 0 is taken as 0."""

    def forward(self, z):
        return np.maximum(z, 0)

    def backward(self, z, a, grad_a):
        return grad_a * (z > 0)

    # The in-place variants of ``npframe.Activation``: the same results, computed in
    # buffers kept per shape, dtype and memory order (nothing allocated per step).
    # Against an array of zeros NumPy's ``maximum`` runs its vectorized loop, faster
    # than against the scalar 0; the backward mask is a bool buffer. Both work in
    # place, and ``a > 0`` is the same mask as ``z > 0``.
    in_place = True
    _buffers: dict = field(factory=dict, init=False, eq=False, repr=False)

    def _buffer(self, like, dtype):
        key = (like.shape, like.strides, dtype)
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = np.zeros_like(like, dtype=dtype)
        return buf

    def forward_into(self, z, out):
        return np.maximum(z, self._buffer(out, out.dtype), out=out)

    def backward_into(self, z, a, grad_a, out):
        mask = np.greater(z, 0, out=self._buffer(out, bool))
        return np.multiply(grad_a, mask, out=out)


@frozen
class Linear(Activation):
    """The identity: the usual output activation for regression."""

    def forward(self, z):
        return z.copy()

    def backward(self, z, a, grad_a):
        return grad_a.copy()

    # The in-place variants of ``npframe.Activation``: the identity copies nothing.
    in_place = True

    def forward_into(self, z, out):
        return z

    def backward_into(self, z, a, grad_a, out):
        return grad_a


@frozen
class Sigmoid(Activation):
    """``1 / (1 + exp(-z))`` computed from ``exp(-|z|)``, so it never overflows."""

    def forward(self, z):
        return sigmoid(z)

    def backward(self, z, a, grad_a):
        return grad_a * a * (1 - a)


@frozen
class Tanh(Activation):
    """``tanh(z)``; the derivative ``1 - a**2`` comes from the output."""

    def forward(self, z):
        return np.tanh(z)

    def backward(self, z, a, grad_a):
        return grad_a * (1 - a * a)


@frozen
class LeakyReLU(Activation):
    """``z`` for ``z > 0``, else ``alpha * z`` (Maas et al. 2013); derivative at 0 is ``alpha``."""

    alpha: float = field(default=0.01, converter=float, validator=validators.ge(0.0))

    def forward(self, z):
        return np.where(z > 0, z, z * self.alpha)

    def backward(self, z, a, grad_a):
        return np.where(z > 0, grad_a, grad_a * self.alpha)


@frozen
class ELU(Activation):
    """``z`` for ``z > 0``, else ``alpha * (exp(z) - 1)`` (Clevert et al. 2015).

    ``expm1`` of ``min(z, 0)`` keeps small negative ``z`` accurate and large positive
    ``z`` from overflowing; the derivative for ``z <= 0`` is ``a + alpha``.
    """

    alpha: float = field(default=1.0, converter=float, validator=validators.ge(0.0))

    def forward(self, z):
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0)) * self.alpha)

    def backward(self, z, a, grad_a):
        return np.where(z > 0, grad_a, grad_a * (a + self.alpha))


_GELU_TANH_C = math.sqrt(2.0 / math.pi)
_GELU_TANH_K = 0.044715


@frozen
class GELU(Activation):
    """``z * Phi(z)``, ``Phi`` the standard normal CDF (Hendrycks & Gimpel 2016).

    ``approximate="none"`` (default) is the exact form, with ``Phi`` from Cody's
    rational approximation of ``erfc`` (relative error below 1e-13 in float64; no
    SciPy needed). ``approximate="tanh"`` is the tanh approximation
    ``0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z**3)))``, computed as
    ``z * sigmoid(2u)`` so the negative tail keeps its relative accuracy. The two
    names follow ``torch.nn.GELU``.
    """

    approximate: str = field(default="none", validator=validators.in_(("none", "tanh")))

    def _tanh_parts(self, z):
        # Beyond |z| = 10 the sigmoid is exactly 0 or 1, so capping z changes nothing
        # except keeping z**3 finite in float32.
        zc = np.clip(z, -10.0, 10.0)
        u = (zc + zc * zc * zc * _GELU_TANH_K) * _GELU_TANH_C
        return zc, sigmoid(u * 2.0)

    def forward(self, z):
        if self.approximate == "tanh":
            return z * self._tanh_parts(z)[1]
        return z * normal_cdf(z)

    def backward(self, z, a, grad_a):
        if self.approximate == "tanh":
            zc, s = self._tanh_parts(z)
            du = (zc * zc * (3.0 * _GELU_TANH_K) + 1.0) * (2.0 * _GELU_TANH_C)
            return grad_a * (s + z * s * (1 - s) * du)
        return grad_a * (normal_cdf(z) + z * normal_pdf(z))


@frozen
class Softplus(Activation):
    """``log(1 + exp(z))`` as ``logaddexp(0, z)``: exact for large ``|z|``; derivative sigmoid."""

    def forward(self, z):
        return np.logaddexp(0.0, z)

    def backward(self, z, a, grad_a):
        return grad_a * sigmoid(z)


def _swish_forward(z: np.ndarray, beta: float) -> np.ndarray:
    return z * sigmoid(z * beta)


def _swish_backward(z: np.ndarray, grad_a: np.ndarray, beta: float) -> np.ndarray:
    s = sigmoid(z * beta)
    return grad_a * (s + z * s * (1 - s) * beta)


@frozen
class Swish(Activation):
    """``z * sigmoid(beta * z)`` (Ramachandran et al. 2017); ``beta = 1`` is SiLU."""

    beta: float = field(default=1.0, converter=float, validator=validators.gt(0.0))

    def forward(self, z):
        return _swish_forward(z, self.beta)

    def backward(self, z, a, grad_a):
        return _swish_backward(z, grad_a, self.beta)


@frozen
class SiLU(Activation):
    """``z * sigmoid(z)``: Swish with ``beta = 1`` under PyTorch's name, without parameters."""

    def forward(self, z):
        return _swish_forward(z, 1.0)

    def backward(self, z, a, grad_a):
        return _swish_backward(z, grad_a, 1.0)


@frozen
class Softmax(Activation):
    """Row-wise ``exp(z) / sum(exp(z))`` over the last axis, shifted by the row max.

    Not elementwise: ``backward`` is the full Jacobian-vector product
    ``a * (grad_a - sum(grad_a * a, axis=-1))``. Pair it with
    ``categorical_crossentropy`` for classification.
    """

    def forward(self, z):
        return softmax(z)

    def backward(self, z, a, grad_a):
        return a * (grad_a - np.sum(grad_a * a, axis=-1, keepdims=True))


REGISTRY = [
    ("activation", "relu", ReLU),
    ("activation", "linear", Linear),
    ("activation", "sigmoid", Sigmoid),
    ("activation", "tanh", Tanh),
    ("activation", "leaky_relu", LeakyReLU),
    ("activation", "elu", ELU),
    ("activation", "gelu", GELU),
    ("activation", "softplus", Softplus),
    ("activation", "swish", Swish),
    ("activation", "silu", SiLU),
    ("activation", "softmax", Softmax),
]
