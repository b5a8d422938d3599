"""The training loop: batches, the step, per-epoch bookkeeping.

Speed lives here and in ``Dense`` (``npframe.layer``), nowhere else
(``docs/performance.md`` has the measurements):

* Every array a step writes lives in a ``Workspace`` allocated once per batch size
  and reused for every step: matrix products and elementwise work write into it with
  ``out=``, so a step of built-in components allocates nothing that scales with the
  batch. Each layer's forward and backward are closures over those buffers
  (``Dense.bind``), so the step itself does little Python work.
* Memory order per layer: a layer narrower than the batch keeps its buffers features
  x samples (F order), a wider one samples x features (C order). Elementwise work,
  the bias add and the bias gradient then run along the long axis (for 2-4-4-3 on
  7,000 samples, 4-element rows would cost more than the matrix products). Every
  component still sees batch-first arrays: an F-order buffer is a transposed view,
  which ``matmul`` hands to BLAS without copying.
* One matrix product per layer and direction, none for the data's gradient.
* Optional in-place protocols for components (``forward_into`` / ``backward_into`` /
  ``in_place`` for activations, ``value_and_gradient_into`` for losses,
  ``plain_step_size`` for optimizers); components without them work unchanged.
* Parameters and gradients are views into one flat buffer each (``flat_arrays``):
  SGD's update, the finiteness check and the rollback snapshot are one call each.
* Batches are views of the training arrays; a shuffled epoch gathers each batch
  into its workspace (no copy of the whole data set). What one ``fit`` prepares
  (batch views, narrow data and targets in their layer's order) is cached until it ends.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from npframe.errors import DivergenceError

if TYPE_CHECKING:
    from npframe.network import Network

__all__ = [
    "Workspace",
    "all_finite",
    "backprop",
    "batch_bounds",
    "flat_arrays",
    "layer_orders",
    "param_snapshot",
    "plain_step_size",
    "shuffles",
    "sum_of_squares",
    "train_epoch",
]


def batch_bounds(n: int, batch_size: int | None) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(n)`` in order; the last batch may be short."""
    size = n if batch_size is None else min(batch_size, n)
    return [(start, min(start + size, n)) for start in range(0, n, size)]


#: Inputs with at most this many features are copied features x samples when the
#: first layer is in F order: BLAS multiplies such thin matrices markedly slower
#: transposed, and the copy is small.
THIN_INPUT = 32


def layer_orders(sizes: list[int] | tuple[int, ...], batch: int) -> tuple[str, ...]:
    """Memory orders for batches of ``batch`` samples: the data's, then each layer's.

    A layer's buffers are ``"F"`` (features x samples) when it has fewer units than
    the batch has samples, ``"C"`` otherwise: the contiguous axis is the longer one.
    The data is ``"F"`` only when the first layer is and the input is thin (see
    ``THIN_INPUT``). ``sizes`` is ``[n_inputs, units_1, ..., units_L]``.
    """
    layers = tuple("F" if batch > units else "C" for units in sizes[1:])
    data = "F" if layers[0] == "F" and sizes[0] <= THIN_INPUT else "C"
    return (data, *layers)


def flat_arrays(shapes: list[tuple[int, ...]], dtype: np.dtype,
                ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Zeroed C-contiguous arrays of ``shapes``, all views into one flat buffer.

    The network keeps its parameters (and their gradients) this way, so the step can
    apply an update, test finiteness or take a snapshot with one call over the flat
    buffer instead of one per array. Each view starts on a 64-byte boundary; the
    padding between them stays zero.
    """
    dtype = np.dtype(dtype)
    align = max(1, 64 // dtype.itemsize)
    starts, total = [], 0
    for shape in shapes:
        starts.append(total)
        total += -(-math.prod(shape) // align) * align
    raw = np.zeros(total + align, dtype)
    skip = (-raw.ctypes.data % 64) // dtype.itemsize
    flat = raw[skip:skip + total]
    views = [flat[start:start + math.prod(shape)].reshape(shape)
             for start, shape in zip(starts, shapes, strict=True)]
    return flat, views


def param_snapshot(net: Network) -> np.ndarray:
    """The flat parameters, copied into a buffer the network keeps for the purpose.

    Reusing the buffer spares a large model a fresh allocation (and its page faults)
    at every epoch. The copy is valid until the next call.
    """
    snap = net._param_snapshot
    if snap is None or snap.shape != net._flat_params.shape:
        snap = net._param_snapshot = np.empty_like(net._flat_params)
    np.copyto(snap, net._flat_params)
    return snap


def all_finite(flat: np.ndarray) -> bool:
    """Whether every element of the 1-D contiguous ``flat`` is finite, in one pass.

    inf or nan anywhere makes the sum of squares non-finite; only when that sum
    overflows on finite values (huge weights) does an exact elementwise check run.
    """
    return math.isfinite(sum_of_squares(flat)) or bool(np.isfinite(flat).all())


#: Dot products longer than this are split: OpenBLAS runs longer ones (above 10,000
#: elements) on several threads, and waking them for microseconds of work can cost
#: milliseconds on a busy machine.
DOT_CHUNK = 8192


def sum_of_squares(flat: np.ndarray) -> float:
    """``sum(flat**2)`` of a 1-D array as BLAS dot products of at most ``DOT_CHUNK``."""
    n = flat.size
    if n <= DOT_CHUNK:
        return float(np.dot(flat, flat))
    rows = -(-n // DOT_CHUNK)
    if n % rows == 0:  # equal rows: one call (e.g. an F-order batch, one row per output)
        head = flat.reshape(rows, n // rows)
        return float(np.add.reduce(np.vecdot(head, head)))
    rows = n // DOT_CHUNK
    head = flat[: rows * DOT_CHUNK].reshape(rows, DOT_CHUNK)
    tail = flat[rows * DOT_CHUNK :]
    return float(np.add.reduce(np.vecdot(head, head)) + np.dot(tail, tail))


def _has_fast_loss(loss: Any) -> bool:
    return callable(getattr(loss, "value_and_gradient_into", None))


def plain_step_size(optimizer: Any) -> float | None:
    """The optimizer's step size if its update is exactly ``p -= step_size * g``.

    Optional protocol: an optimizer may define ``plain_step_size()`` returning that
    step size, or ``None`` when (with its current settings) its update is anything
    else. The training step then applies the update itself, as two operations over
    the flat gradient and parameter buffers (``g *= step_size; p -= g``: the same
    arithmetic, bit for bit) instead of two per parameter plus the optimizer's
    bookkeeping, which matters when steps are short.
    """
    method = getattr(optimizer, "plain_step_size", None)
    return method() if callable(method) else None


class Workspace:
    """Every buffer one step writes, for batches of ``n`` samples, and the step itself.

    ``orders`` gives the data's and each layer's memory order (default:
    ``layer_orders`` for ``n``). Buffers for the optional in-place protocols exist
    only where a component offers them. ``steps`` holds each layer's ``(forward,
    backward)`` bound to these buffers (``Dense.bind``); ``inputs`` and ``acts`` are
    the step's scratch lists.
    """

    def __init__(self, net: Network, n: int, orders: tuple[str, ...] | None = None) -> None:
        layers = net.layers
        dtype = net.dtype
        self.n = n
        self.orders = orders = orders or layer_orders(net.spec.sizes, n)
        self.fast_loss = _has_fast_loss(net.loss)

        def buf(units: int, order: str) -> np.ndarray:
            return np.empty((n, units), dtype, order=order)

        per_layer = list(zip(layers, orders[1:], strict=True))
        # grad_x of layer i is grad_a of layer i-1, in that layer's order; the first
        # layer needs none. grad_out is the loss gradient, in the output layer's order.
        grad_x = [None] + [buf(layer.fan_in, o)
                           for layer, o in zip(layers[1:], orders[1:], strict=False)]
        self.grad_out = buf(layers[-1].units, orders[-1])
        grad_a = [*grad_x[1:], self.grad_out]
        z = [buf(layer.units, o) for layer, o in per_layer]
        # Activations and their gradients: in place where the activation allows it,
        # in buffers of their own for the in-place protocol, or as returned (None).
        a = [zi if layer.in_place else
             buf(layer.units, o) if layer._forward_into is not None else None
             for zi, (layer, o) in zip(z, per_layer, strict=True)]
        grad_z = [g if layer.in_place else
                  buf(layer.units, o) if layer._backward_into is not None else None
                  for g, (layer, o) in zip(grad_a, per_layer, strict=True)]
        ones = np.ones(n, dtype)
        self.steps = [layer.bind(*bufs, ones) for layer, *bufs in zip(
            layers, z, a, grad_z, net._grad_W, net._grad_b, grad_x, strict=True)]
        self.inputs: list[Any] = [None] * len(layers)
        self.acts: list[Any] = [None] * len(layers)
        # Gathered batches of a shuffled epoch, in the data's and the output's order.
        self.x = buf(net.spec.sizes[0], orders[0])
        self.y = buf(net.spec.sizes[-1], orders[-1])


def backprop(net: Network, X: np.ndarray, Y: np.ndarray, ws: Workspace) -> float:
    """Forward and backward on a batch: fills ``net._grads``, returns the batch loss.

    The gradients are those of the batch's mean loss; they are left as they were
    when the loss is not finite. ``Network.gradients`` and the training
    step share this. Any memory order of ``X`` and ``Y`` gives the same result; the
    orders in ``ws.orders`` are the fastest.
    """
    steps, inputs, acts = ws.steps, ws.inputs, ws.acts
    x = X
    for i, (forward, _) in enumerate(steps):
        inputs[i] = x
        x = acts[i] = forward(x)
    grad = ws.grad_out
    if ws.fast_loss:
        loss = float(net.loss.value_and_gradient_into(Y, x, grad))
    else:
        loss, g = net.loss.value_and_gradient(Y, x)
        loss = float(loss)
        # Copied: the plugin's array stays untouched, and the step continues in the
        # network's dtype and the output layer's memory order whatever it returned.
        np.copyto(grad, g)
    if not math.isfinite(loss):
        return loss
    for i in range(len(steps) - 1, -1, -1):
        grad = steps[i][1](inputs[i], acts[i], grad)
    return loss


class _EpochData:
    """What every epoch of one ``fit`` shares: batches, orders, targets in that order."""

    def __init__(self, net: Network, X: np.ndarray, Y: np.ndarray,
                 batch_size: int | None) -> None:
        n = X.shape[0]
        self.X, self.Y = X, Y
        self.batch_size = batch_size
        bounds = batch_bounds(n, batch_size)
        self.orders = orders = layer_orders(net.spec.sizes, bounds[0][1])
        # Thin inputs in the first layer's order; targets in the output layer's, since
        # the loss compares them elementwise (one-off copies, both narrow).
        self.Xo = Xo = np.ascontiguousarray(X.T).T if orders[0] == "F" else X
        self.Yo = Yo = np.ascontiguousarray(Y.T).T if orders[-1] == "F" else Y
        #: ``(start, stop, workspace, x, y)`` per batch, ``x`` and ``y`` views in order.
        self.batches = [(start, stop, net._workspace(stop - start, orders),
                         Xo[start:stop], Yo[start:stop]) for start, stop in bounds]

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
    batches, Xo, Yo = data.batches, data.Xo, data.Yo
    order = None
    if shuffles(X.shape[0], batch_size, shuffle):
        order = net._shuffle_rng.permutation(X.shape[0])
    optimizer, params, grads = net.optimizer, net._params, net._grads
    flat_params, flat_grads = net._flat_params, net._flat_grads
    total = 0.0
    for start, stop, ws, x, y in batches:
        if order is not None:
            index = order[start:stop]
            x, y = _gather(Xo, index, ws.x), _gather(Yo, index, ws.y)
        loss = backprop(net, x, y, ws)
        if not math.isfinite(loss):
            msg = (
                f"fit: the loss became {loss} in epoch {epoch} (batch {start}:{stop}); "
                "training stopped before applying that update. The learning rate is "
                "probably too large for this data: try a smaller one, or standardize = true"
            )
            raise DivergenceError(msg)
        step_size = plain_step_size(optimizer)
        if step_size is None:
            optimizer.step(params, grads)
        else:  # SGD's own arithmetic, over all parameters at once
            np.multiply(flat_grads, step_size, out=flat_grads)
            np.subtract(flat_params, flat_grads, out=flat_params)
        total += loss
    return total / len(batches)


def shuffles(n: int, batch_size: int | None, shuffle: bool) -> bool:
    """Whether an epoch over ``n`` samples draws a permutation (only with several batches)."""
    return shuffle and batch_size is not None and batch_size < n


def _gather(A: np.ndarray, index: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Rows ``index`` of ``A`` into ``out`` (same memory order as ``A``), no temporary.

    ``mode="clip"`` writes straight into ``out`` (the default ``"raise"`` goes through
    a temporary copy); the indices come from a permutation, so nothing is clipped.
    """
    if out.flags.c_contiguous:
        return np.take(A, index, axis=0, out=out, mode="clip")
    np.take(A.T, index, axis=1, out=out.T, mode="clip")
    return out
