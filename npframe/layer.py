"""``Dense``: one fully connected layer, its forward and backward side by side."""

from __future__ import annotations

import numpy as np
from attrs import define, field

from npframe.interfaces import Activation

__all__ = ["Dense"]


@define(eq=False)
class Dense:
    """``a = activation(x @ W + b)`` with ``W (fan_in, fan_out)`` and ``b (fan_out,)``."""

    W: np.ndarray = field(repr=lambda w: f"<{w.shape} {w.dtype}>")
    b: np.ndarray = field(repr=lambda b: f"<{b.shape} {b.dtype}>")
    activation: Activation

    @property
    def fan_in(self) -> int:
        return self.W.shape[0]

    @property
    def units(self) -> int:
        return self.W.shape[1]

    def forward(self, x: np.ndarray, z_out: np.ndarray | None = None,
                ) -> tuple[np.ndarray, np.ndarray]:
        """``(n, fan_in) -> (z, a)``, both ``(n, units)``; ``z`` lands in ``z_out`` if given."""
        z = np.matmul(x, self.W, out=z_out)
        z += self.b
        return z, self.activation.forward(z)

    def backward(self, x: np.ndarray, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray,
                 grad_W: np.ndarray, grad_b: np.ndarray, grad_x: np.ndarray | None,
                 ) -> None:
        """Fill ``grad_W``, ``grad_b`` and (unless ``None``) ``grad_x`` in place."""
        grad_z = self.activation.backward(z, a, grad_a)
        np.matmul(x.T, grad_z, out=grad_W)
        np.sum(grad_z, axis=0, out=grad_b)
        if grad_x is not None:
            np.matmul(grad_z, self.W.T, out=grad_x)
