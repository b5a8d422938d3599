"""``Dense``: one fully connected layer, its forward and backward side by side.

The maths is written batch first, ``z = x @ W + b``, whatever the memory order of the
arrays it is given: the training loop hands it views of buffers laid out either
samples x features (C order) or features x samples (F order), whichever suits the
shapes (see ``npframe.training``). NumPy's ``matmul`` passes either order to BLAS
without copying, and elementwise work runs along whichever axis is contiguous.

Activations may offer an optional in-place protocol next to the contract's
``forward(z)`` / ``backward(z, a, grad_a)``, which the training step uses (through
``Dense.bind``):

* ``forward_into(z, out) -> a``: write ``forward(z)`` into ``out`` and return it (an
  identity may return ``z`` itself);
* ``backward_into(z, a, grad_a, out) -> grad_z``: write ``backward(z, a, grad_a)``
  into ``out`` and return it (an identity may return ``grad_a`` itself).

Both must give exactly what ``forward`` / ``backward`` give, never modify ``z``,
``a`` or ``grad_a`` (except through ``out``), and may use ``out`` as scratch space.
An activation that also sets the class attribute ``in_place = True`` promises that
they work in place: ``forward_into(z, z)``, and ``backward_into(a, a, grad_a,
grad_a)`` with the activation standing in for ``z`` (so its backward must follow from
``a`` alone, as ReLU's mask ``a > 0`` does). The step then keeps one buffer per layer
instead of three, a smaller working set for the caches.

An activation with only ``forward`` / ``backward`` (any plugin) works unchanged: its
results are used as returned, without copies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from attrs import define, field

from npframe.interfaces import Activation

__all__ = ["Dense", "has_fast_backward", "has_fast_forward"]


def has_fast_forward(activation: Any) -> bool:
    """Whether ``activation`` offers ``forward_into(z, out)``."""
    return callable(getattr(activation, "forward_into", None))


def has_fast_backward(activation: Any) -> bool:
    """Whether ``activation`` offers ``backward_into(z, a, grad_a, out)``."""
    return callable(getattr(activation, "backward_into", None))


@define(eq=False)
class Dense:
    """``a = activation(x @ W + b)`` with ``W (fan_in, fan_out)`` and ``b (fan_out,)``."""

    W: np.ndarray = field(repr=lambda w: f"<{w.shape} {w.dtype}>")
    b: np.ndarray = field(repr=lambda b: f"<{b.shape} {b.dtype}>")
    activation: Activation
    _forward_into: Any = field(init=False, default=None, repr=False)
    _backward_into: Any = field(init=False, default=None, repr=False)
    #: Whether the activation's in-place protocol applies (see the module docstring).
    in_place: bool = field(init=False, default=False, repr=False)

    def __attrs_post_init__(self) -> None:
        # Looked up once: the step must not pay for getattr on every call.
        act = self.activation
        self._forward_into = act.forward_into if has_fast_forward(act) else None
        self._backward_into = act.backward_into if has_fast_backward(act) else None
        self.in_place = (self._forward_into is not None and self._backward_into is not None
                         and getattr(act, "in_place", False) is True)

    @property
    def fan_in(self) -> int:
        return self.W.shape[0]

    @property
    def units(self) -> int:
        return self.W.shape[1]

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(n, fan_in) -> (z, a)``, both ``(n, units)``, freshly allocated (inference).

        The training step uses ``bind`` instead, which writes into preallocated buffers.
        """
        z = np.matmul(x, self.W)
        z += self.b
        return z, self.activation.forward(z)

    def backward(self, x: np.ndarray, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray,
                 grad_W: np.ndarray, grad_b: np.ndarray, grad_x: np.ndarray | None,
                 ) -> None:
        """Fill ``grad_W``, ``grad_b`` and (unless ``None``) ``grad_x`` in place.

        ``z`` and ``a`` are what ``forward`` returned for ``x``. The allocating
        counterpart of ``bind``'s backward, for code outside the training step.
        """
        grad_z = self.activation.backward(z, a, grad_a)
        np.matmul(x.T, grad_z, out=grad_W)
        np.add.reduce(grad_z, axis=0, out=grad_b)
        if grad_x is not None:
            np.matmul(grad_z, self.W.T, out=grad_x)

    def bind(self, z: np.ndarray, a: np.ndarray | None, grad_z: np.ndarray | None,
             grad_W: np.ndarray, grad_b: np.ndarray, grad_x: np.ndarray | None,
             ones: np.ndarray) -> tuple[Callable[[np.ndarray], np.ndarray],
                                        Callable[[np.ndarray, np.ndarray, np.ndarray], Any]]:
        """The training step's ``forward(x) -> a`` and ``backward(x, a, grad_a) -> grad_x``.

        Closures over one workspace's buffers, everything looked up once: ``z``
        (``n, units``, C or F order); ``a`` and ``grad_z`` for the in-place protocol
        (``z`` and ``grad_a``'s buffer when ``self.in_place``; ``None`` when the
        activation lacks the protocol: its results are used as returned); the
        gradient buffers; ``grad_x`` (``None`` for the first layer: nothing needs the
        data's gradient); ``ones``, ``n`` ones: the bias gradient is the product
        ``ones @ grad_z``, which BLAS does several times faster than ``sum``.
        """
        W, WT, b = self.W, self.W.T, self.b
        activation = self.activation
        forward_into = self._forward_into if a is not None else None
        backward_into = self._backward_into if grad_z is not None else None
        # The bias is added along the contiguous axis: an F-order buffer as
        # (units, n) + (units, 1), so each of the few rows is one long vectorized loop.
        z_rows, b_rows = (z, b) if z.flags.c_contiguous else (z.T, b[:, None])
        matmul, add = np.matmul, np.add

        def forward(x: np.ndarray) -> np.ndarray:
            matmul(x, W, out=z)
            add(z_rows, b_rows, out=z_rows)
            if forward_into is not None:
                return forward_into(z, a)
            return activation.forward(z)

        def backward(x: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> Any:
            if backward_into is not None:
                g = backward_into(z, a, grad_a, grad_z)
            else:
                g = activation.backward(z, a, grad_a)
            matmul(x.T, g, out=grad_W)
            matmul(ones, g, out=grad_b)
            if grad_x is not None:
                matmul(g, WT, out=grad_x)
            return grad_x

        return forward, backward
