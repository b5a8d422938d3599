"""``Dense``: one fully connected layer, its forward and backward side by side.

The maths is written batch first, ``z = x @ W + b``, whatever the memory order of the
arrays it is given: the training loop hands it views of buffers laid out either
samples x features (C order) or features x samples (F order), whichever suits the
shapes (see ``npframe.training``). NumPy's ``matmul`` passes either order to BLAS
without copying, and elementwise work runs along whichever axis is contiguous.

Activations may offer an optional in-place protocol next to the contract's
``forward(z)`` / ``backward(z, a, grad_a)``, which ``Dense`` uses when it is given
buffers:

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
    _b_column: np.ndarray = field(init=False, default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        # Looked up once: the step must not pay for getattr on every call.
        act = self.activation
        self._forward_into = act.forward_into if has_fast_forward(act) else None
        self._backward_into = act.backward_into if has_fast_backward(act) else None
        self.in_place = (self._forward_into is not None and self._backward_into is not None
                         and getattr(act, "in_place", False) is True)
        # b as a column, for adding it to features x samples buffers (a view: it
        # follows every in-place update of b).
        self._b_column = self.b[:, None]

    @property
    def fan_in(self) -> int:
        return self.W.shape[0]

    @property
    def units(self) -> int:
        return self.W.shape[1]

    def forward(self, x: np.ndarray, z_out: np.ndarray | None = None,
                a_out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(n, fan_in) -> (z, a)``, both ``(n, units)``.

        ``z`` lands in ``z_out`` and, when the activation has ``forward_into``, ``a``
        in ``a_out`` (which may be ``z_out`` itself when ``self.in_place``); without
        buffers, fresh arrays are returned.
        """
        z = np.matmul(x, self.W, out=z_out)
        if z.flags.c_contiguous:
            np.add(z, self.b, out=z)
        else:  # F order: broadcast along the contiguous axis, as (units, n) + (units, 1)
            np.add(z.T, self._b_column, out=z.T)
        if a_out is not None and self._forward_into is not None:
            return z, self._forward_into(z, a_out)
        return z, self.activation.forward(z)

    def backward(self, x: np.ndarray, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray,
                 grad_W: np.ndarray, grad_b: np.ndarray, grad_x: np.ndarray | None,
                 grad_z_out: np.ndarray | None = None, ones: np.ndarray | None = None,
                 ) -> None:
        """Fill ``grad_W``, ``grad_b`` and (unless ``None``) ``grad_x`` in place.

        One matrix product each for ``grad_W`` and ``grad_x``; the first layer passes
        ``grad_x=None`` since nothing needs the gradient of the data. ``grad_z_out``
        is where ``backward_into`` writes, when the activation has it (``grad_a``
        itself when ``self.in_place``; ``z`` is then ``a``). Given ``ones``
        (``n`` ones), the bias gradient is the product ``ones @ grad_z``, which BLAS
        does several times faster than NumPy's ``sum`` over the samples.
        """
        if grad_z_out is not None and self._backward_into is not None:
            grad_z = self._backward_into(z, a, grad_a, grad_z_out)
        else:
            grad_z = self.activation.backward(z, a, grad_a)
        np.matmul(x.T, grad_z, out=grad_W)
        if ones is not None:
            np.matmul(ones, grad_z, out=grad_b)
        else:
            np.add.reduce(grad_z, axis=0, out=grad_b)
        if grad_x is not None:
            np.matmul(grad_z, self.W.T, out=grad_x)
