"""The training loop: batches, the step, per-epoch bookkeeping and callbacks.

Speed lives here and in ``Dense``: per-batch-size workspaces are allocated once and
reused for every step, matrix products write into them with ``out=``, and a shuffled
epoch gathers the data into one preallocated buffer whose slices are the batches.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from npframe.errors import DivergenceError

if TYPE_CHECKING:
    from npframe.network import Network

__all__ = ["Workspace", "backprop", "batch_bounds", "train_epoch"]


def batch_bounds(n: int, batch_size: int | None) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(n)`` in order; the last batch may be short."""
    size = n if batch_size is None else min(batch_size, n)
    return [(start, min(start + size, n)) for start in range(0, n, size)]


class Workspace:
    """Preallocated buffers for one batch size: activations, pre-activations, gradients."""

    def __init__(self, net: Network, n: int) -> None:
        dtype = net.dtype
        self.z = [np.empty((n, layer.units), dtype) for layer in net.layers]
        # grad_x of layer i is grad_a of layer i-1; the first layer needs none
        self.grad_x = [None] + [np.empty((n, layer.fan_in), dtype) for layer in net.layers[1:]]


def _step(net: Network, X: np.ndarray, Y: np.ndarray, ws: Workspace) -> float:
    """One forward/backward/update on a batch; returns the batch loss before the update."""
    loss = backprop(net, X, Y, ws)
    if math.isfinite(loss):
        net.optimizer.step(net._params, net._grads)
    return loss


def backprop(net: Network, X: np.ndarray, Y: np.ndarray, ws: Workspace) -> float:
    """Forward and backward on a batch: fills ``net._grads``, returns the batch loss.

    The gradients are those of the batch's mean loss; they are left as they were when
    the loss is not finite. ``Network.gradients`` and the training step share this.
    """
    layers = net.layers
    inputs = [X]
    zs, acts = [], []
    for layer, z_buf in zip(layers, ws.z, strict=True):
        z, a = layer.forward(inputs[-1], z_buf)
        zs.append(z)
        acts.append(a)
        inputs.append(a)
    loss, grad = net.loss.value_and_gradient(Y, acts[-1])
    if not math.isfinite(loss):
        return loss
    grads_W, grads_b = net._grad_W, net._grad_b
    for i in range(len(layers) - 1, -1, -1):
        grad_x = ws.grad_x[i]
        layers[i].backward(inputs[i], zs[i], acts[i], grad, grads_W[i], grads_b[i], grad_x)
        grad = grad_x
    return loss


def train_epoch(net: Network, X: np.ndarray, Y: np.ndarray, batch_size: int | None,
                shuffle: bool, epoch: int) -> float:
    """Train one epoch; return the mean batch loss.

    Raises ``DivergenceError`` (before applying the offending update) when a batch
    loss is not finite.
    """
    n = X.shape[0]
    bounds = batch_bounds(n, batch_size)
    if shuffle and len(bounds) > 1:
        order = net._shuffle_rng.permutation(n)
        Xs, Ys = net._shuffle_buffers(X, Y)
        np.take(X, order, axis=0, out=Xs)
        np.take(Y, order, axis=0, out=Ys)
        X, Y = Xs, Ys
    total = 0.0
    for start, stop in bounds:
        ws = net._workspace(stop - start)
        loss = _step(net, X[start:stop], Y[start:stop], ws)
        if not math.isfinite(loss):
            msg = (
                f"fit: the loss became {loss} in epoch {epoch} (batch {start}:{stop}); "
                "training stopped before applying that update. The learning rate is "
                "probably too large for this data: try a smaller one, or standardize = true"
            )
            raise DivergenceError(msg)
        total += loss
    return total / len(bounds)
