"""An activation with a parameter. Shapes: ``z``, ``a`` and gradients are ``(n, units)``."""

from __future__ import annotations

import numpy as np
from attrs import field, frozen, validators

from npframe import Activation

__all__ = ["Snake"]


@frozen
class Snake(Activation):
    """``z + sin(alpha z)**2 / alpha`` (Ziyin et al. 2020): learns periodic functions.

    The derivative is ``1 + sin(2 alpha z)``. ``alpha`` is a Python float, so a float32
    ``z`` stays float32; ``sin`` is bounded, so nothing overflows for any finite ``z``.
    """

    alpha: float = field(default=1.0, converter=float, validator=validators.gt(0.0))

    def forward(self, z):
        s = np.sin(z * self.alpha)
        return z + s * s / self.alpha

    def backward(self, z, a, grad_a):
        return grad_a * (np.sin(z * (2.0 * self.alpha)) + 1.0)
