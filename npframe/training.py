"""The training loop: batches, the step, per-epoch bookkeeping.

Speed lives here and in ``Dense`` (``npframe.layer``), nowhere else:

* Every array a step writes lives in a ``Workspace`` allocated once per batch size
  and reused for every step: matrix products and elementwise work write into it with
  ``out=``, so a step of built-in components allocates nothing that scales with the
  batch. Components with only the contract's methods (any plugin) still work: their
  results are used as returned, never copied.
* Memory order per layer: a layer narrower than the batch keeps its buffers features
  x samples (F order), a wider one samples x features (C order). Elementwise work,
  bias broadcasts and the bias gradient's reduction then run along the long axis
  (for 2-4-4-3 on 7,000 samples, 4-element rows would cost more than the matrix
  products). The arrays are still batch first to every component: an F-order
  buffer is simply a transposed view, which ``matmul`` hands to BLAS without copying.
* One matrix product per layer and direction, none for the data's gradient.
* Batches are views of the training arrays; a shuffled epoch gathers each batch
  into a preallocated buffer (no copy of the whole data set). What is prepared once
  per ``fit`` (batch boundaries, a features x samples copy of the targets when the
  output layer is in F order) is cached for the duration of that ``fit``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from npframe.errors import DivergenceError

if TYPE_CHECKING:
    from npframe.network import Network

__all__ = ["Workspace", "backprop", "batch_bounds", "layer_orders", "train_epoch"]


def batch_bounds(n: int, batch_size: int | None) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(n)`` in order; the last batch may be short."""
    size = n if batch_size is None else min(batch_size, n)
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def layer_orders(sizes: list[int] | tuple[int, ...], batch: int) -> tuple[str, ...]:
    """Memory order of each layer's buffers for batches of ``batch`` samples.

    ``"F"`` (features x samples) when the layer has fewer units than the batch has
    samples, ``"C"`` otherwise: the contiguous axis is the longer one. ``sizes`` is
    ``[n_inputs, units_1, ..., units_L]``.
    """
    return tuple("F" if batch > units else "C" for units in sizes[1:])


def _has_fast_loss(loss: Any) -> bool:
    return callable(getattr(loss, "value_and_gradient_into", None))


class Workspace:
    """Every buffer one step writes, for batches of ``n`` samples.

    ``orders`` gives each layer's memory order (default: ``layer_orders`` for ``n``).
    Buffers for the optional in-place protocols exist only where a component offers
    them; ``inputs``, ``zs`` and ``acts`` are the step's scratch lists.
    """

    def __init__(self, net: Network, n: int, orders: tuple[str, ...] | None = None) -> None:
        layers = net.layers
        dtype = net.dtype
        self.n = n
        self.orders = orders = orders or layer_orders(net.spec.sizes, n)

        def buf(units: int, order: str) -> np.ndarray:
            return np.empty((n, units), dtype, order=order)

        self.z = [buf(layer.units, o) for layer, o in zip(layers, orders, strict=True)]
        self.a = [buf(layer.units, o) if layer._forward_into is not None else None
                  for layer, o in zip(layers, orders, strict=True)]
        self.grad_z = [buf(layer.units, o) if layer._backward_into is not None else None
                       for layer, o in zip(layers, orders, strict=True)]
        # grad_x of layer i is grad_a of layer i-1, in that layer's order; the first
        # layer needs none.
        self.grad_x = [None] + [buf(layer.fan_in, o)
                                for layer, o in zip(layers[1:], orders, strict=False)]
        self.grad_out = (buf(layers[-1].units, orders[-1]) if _has_fast_loss(net.loss)
                         else None)
        self.inputs: list[Any] = [None] * len(layers)
        self.zs: list[Any] = [None] * len(layers)
        self.acts: list[Any] = [None] * len(layers)
        # Gathered batches of a shuffled epoch: the rows of X, the targets in the
        # output layer's order (an F-order batch is the transpose of a C buffer).
        n_in, n_out = net.spec.sizes[0], net.spec.sizes[-1]
        self.x = np.empty((n, n_in), dtype)
        self.y = (np.empty((n_out, n), dtype).T if orders[-1] == "F"
                  else np.empty((n, n_out), dtype))


def backprop(net: Network, X: np.ndarray, Y: np.ndarray, ws: Workspace) -> float:
    """Forward and backward on a batch: fills ``net._grads``, returns the batch loss.

    The gradients are those of the batch's mean loss; they are left as they were when
    the loss is not finite. ``Network.gradients`` and the training step share this.
    Any memory order of ``X`` and ``Y`` gives the same result; ``Y`` in the output
    layer's order (``ws.orders[-1]``) is fastest.
    """
    layers = net.layers
    inputs, zs, acts = ws.inputs, ws.zs, ws.acts
    x = X
    for i, layer in enumerate(layers):
        inputs[i] = x
        zs[i], x = layer.forward(x, ws.z[i], ws.a[i])
        acts[i] = x
    if ws.grad_out is not None:
        grad = ws.grad_out
        loss = float(net.loss.value_and_gradient_into(Y, x, grad))
    else:
        loss, grad = net.loss.value_and_gradient(Y, x)
        loss = float(loss)
    if not math.isfinite(loss):
        return loss
    grads_W, grads_b, grad_z, grad_x = net._grad_W, net._grad_b, ws.grad_z, ws.grad_x
    for i in range(len(layers) - 1, -1, -1):
        layers[i].backward(inputs[i], zs[i], acts[i], grad, grads_W[i], grads_b[i],
                           grad_x[i], grad_z[i])
        grad = grad_x[i]
    return loss


class _EpochData:
    """What every epoch of one ``fit`` shares: batches, orders, targets in that order."""

    def __init__(self, net: Network, X: np.ndarray, Y: np.ndarray,
                 batch_size: int | None) -> None:
        n = X.shape[0]
        self.X, self.Y = X, Y
        self.batch_size = batch_size
        self.bounds = batch_bounds(n, batch_size)
        self.orders = layer_orders(net.spec.sizes, self.bounds[0][1])
        # The loss compares targets with the output layer's buffer elementwise: give
        # them the same order (a one-off copy; outputs are usually few).
        self.Yo = np.ascontiguousarray(Y.T).T if self.orders[-1] == "F" else Y

    def matches(self, X: np.ndarray, Y: np.ndarray, batch_size: int | None) -> bool:
        return X is self.X and Y is self.Y and batch_size == self.batch_size


def _epoch_data(net: Network, X: np.ndarray, Y: np.ndarray,
                batch_size: int | None) -> _EpochData:
    """The cached ``_EpochData`` of the running ``fit`` (``fit`` clears it when done)."""
    data = net._train_data
    if data is None or not data.matches(X, Y, batch_size):
        data = net._train_data = _EpochData(net, X, Y, batch_size)
    return data


def train_epoch(net: Network, X: np.ndarray, Y: np.ndarray, batch_size: int | None,
                shuffle: bool, epoch: int) -> float:
    """Train one epoch on C-contiguous ``X``, ``Y``; return the mean batch loss.

    Raises ``DivergenceError`` (before applying the offending update) when a batch
    loss is not finite.
    """
    data = _epoch_data(net, X, Y, batch_size)
    bounds, orders, Yo = data.bounds, data.orders, data.Yo
    order = None
    if shuffle and len(bounds) > 1:
        order = net._shuffle_rng.permutation(X.shape[0])
    step, params, grads = net.optimizer.step, net._params, net._grads
    total = 0.0
    for start, stop in bounds:
        ws = net._workspace(stop - start, orders)
        if order is None:
            x, y = X[start:stop], Yo[start:stop]
        else:
            # mode="clip" gathers straight into the buffer (the default "raise" would
            # go through a temporary copy); the indices are a permutation, never clipped.
            index = order[start:stop]
            x = np.take(X, index, axis=0, out=ws.x, mode="clip")
            y = ws.y
            if orders[-1] == "F":
                np.take(Yo.T, index, axis=1, out=y.T, mode="clip")
            else:
                np.take(Y, index, axis=0, out=y, mode="clip")
        loss = backprop(net, x, y, ws)
        if not math.isfinite(loss):
            msg = (
                f"fit: the loss became {loss} in epoch {epoch} (batch {start}:{stop}); "
                "training stopped before applying that update. The learning rate is "
                "probably too large for this data: try a smaller one, or standardize = true"
            )
            raise DivergenceError(msg)
        step(params, grads)
        total += loss
    return total / len(bounds)
