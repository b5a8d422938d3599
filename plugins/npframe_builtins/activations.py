"""Built-in activations. Shapes: ``z``, ``a`` and gradients are ``(n, units)``."""

from __future__ import annotations

import numpy as np
from attrs import frozen

from npframe import Activation

__all__ = ["Linear", "ReLU", "Sigmoid"]


@frozen
class ReLU(Activation):
    """``max(z, 0)``; the derivative at 0 is taken as 0."""

    def forward(self, z):
        return np.maximum(z, 0)

    def backward(self, z, a, grad_a):
        return grad_a * (z > 0)


@frozen
class Linear(Activation):
    """The identity: the usual output activation for regression."""

    def forward(self, z):
        return z.copy()

    def backward(self, z, a, grad_a):
        return grad_a.copy()


@frozen
class Sigmoid(Activation):
    """``1 / (1 + exp(-z))`` computed from ``exp(-|z|)``, so it never overflows."""

    def forward(self, z):
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e))

    def backward(self, z, a, grad_a):
        return grad_a * a * (1 - a)


REGISTRY = [
    ("activation", "relu", ReLU),
    ("activation", "linear", Linear),
    ("activation", "sigmoid", Sigmoid),
]
