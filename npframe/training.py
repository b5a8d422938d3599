"""The training loop: one object that owns everything a step writes.

``TrainingLoop`` is built from layers, a loss and an optimizer (it knows nothing of
``Network``). It owns the flat parameter and gradient buffers, a workspace per batch
size, the rollback snapshots, the random streams (shuffling, and noise such as dropout
masks) and the position in the run (epoch, step, batch within the epoch), and hands
all of it out as a state dict, so a saved network resumes exactly, mid-epoch too.

Speed lives here and in the layers' ``bind`` (``docs/performance.md`` has the
measurements):

* Every array a step writes lives in a ``Workspace`` allocated once per batch size and
  reused: layers bind their forward and backward to buffers there (``Layer.bind``),
  so a step of built-in components allocates nothing that scales with the batch.
* Memory order per layer: a layer narrower than the batch keeps its buffers features
  x samples (F order), a wider one samples x features (C order), so elementwise work
  runs along the long axis. Every component still sees batch-first arrays.
* Parameters and gradients are views into one flat buffer each (``flat_arrays``): an
  elementwise optimizer update, the finiteness check and the rollback snapshot are one
  call each.
* Batches are views of the training arrays; a shuffled epoch gathers each batch into
  its workspace (no copy of the whole data set).

Failure semantics: a loss that is not finite or explodes raises ``DivergenceError``
before the offending update, with the state rolled back to the last state whose loss
was checked finite; any other exception (``KeyboardInterrupt`` included) mid-step rolls
back to the start of the epoch. A Ctrl-C deferred by ``deferred_interrupt`` stops cleanly
after the step in flight, at a consistent, exactly resumable position; a second one
before that step ends aborts it, rolled back to the start of the epoch.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from npframe.errors import DivergenceError
from npframe.interfaces import Layer, LayerContext, Loss, Optimizer, Order
from npframe.numeric import sum_of_squares
from npframe.sources import RowSource

__all__ = [
    "DIVERGENCE_FACTOR",
    "THIN_INPUT",
    "Batches",
    "CleanStop",
    "InterruptFlag",
    "Position",
    "StreamedBatches",
    "TrainingLoop",
    "Workspace",
    "batch_bounds",
    "deferred_interrupt",
    "flat_arrays",
    "layer_orders",
    "rng_state",
    "set_rng_state",
]

#: A batch loss this many times the run's first checked loss (at least 1) is a
#: blow-up: training stops before the loss or the weights reach infinity.
DIVERGENCE_FACTOR = 1e6

#: Inputs with at most this many features are copied features x samples when the
#: first layer is in F order: BLAS multiplies such thin matrices markedly slower
#: transposed, and the copy is small.
THIN_INPUT = 32


def batch_bounds(n: int, batch_size: int | None) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(n)`` in order; the last batch may be short."""
    size = n if batch_size is None else min(batch_size, n)
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def layer_orders(sizes: Sequence[int], batch: int) -> tuple[Order, ...]:
    """Memory orders for batches of ``batch`` samples: the data's, then each layer's.

    A layer's buffers are ``"F"`` (features x samples) when it has fewer outputs than
    the batch has samples, ``"C"`` otherwise: the contiguous axis is the longer one.
    The data is ``"F"`` only when the first layer is and the input is thin (see
    ``THIN_INPUT``). ``sizes`` is ``[n_inputs, outputs_1, ..., outputs_L]``.
    """
    layers: tuple[Order, ...] = tuple("F" if batch > units else "C" for units in sizes[1:])
    data: Order = "F" if layers[0] == "F" and sizes[0] <= THIN_INPUT else "C"
    return (data, *layers)


def flat_arrays(shapes: Sequence[tuple[int, ...]], dtype: Any,
                ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Zeroed C-contiguous arrays of ``shapes``, all views into one flat buffer.

    Each view starts on a 64-byte boundary; the padding between them stays zero.
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


# -- random streams ------------------------------------------------------------------------
def rng_state(rng: np.random.Generator) -> str:
    """The generator's state as JSON text (what the model file stores)."""
    return json.dumps(rng.bit_generator.state)


def _check_uint(value: Any, bits: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**bits:
        msg = f"{where} must be an integer in [0, 2**{bits}) (got {value!r:.60})"
        raise ValueError(msg)
    return value


def set_rng_state(rng: np.random.Generator, text: str, what: str) -> None:
    """Restore ``rng_state`` text, strictly: a ``ValueError`` names what is wrong.

    NumPy accepts floats and out-of-range integers in places and fails later (or with
    an ``OverflowError``), so the PCG64 state is checked field by field first.
    """
    try:
        state = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{what} is not valid JSON ({exc})") from None
    expected = rng.bit_generator.state["bit_generator"]
    if not isinstance(state, dict) or state.get("bit_generator") != expected:
        msg = f"{what} must be the state of a {expected} generator (got {str(state)[:80]!r})"
        raise ValueError(msg)
    if set(state) != {"bit_generator", "state", "has_uint32", "uinteger"}:
        raise ValueError(f"{what} has keys {sorted(state)}, not those of a {expected} state")
    inner = state["state"]
    if not isinstance(inner, dict) or set(inner) != {"state", "inc"}:
        raise ValueError(f"{what}: 'state' must hold 'state' and 'inc'")
    _check_uint(inner["state"], 128, f"{what}: state.state")
    _check_uint(inner["inc"], 128, f"{what}: state.inc")
    _check_uint(state["has_uint32"], 1, f"{what}: has_uint32")
    _check_uint(state["uinteger"], 32, f"{what}: uinteger")
    rng.bit_generator.state = state


# -- interrupts ---------------------------------------------------------------------------
class CleanStop(KeyboardInterrupt):
    """A requested interrupt, raised between steps: nothing needs rolling back."""


class InterruptFlag:
    """Set by a deferred Ctrl-C; the loop stops at the next step boundary when set."""

    def __init__(self) -> None:
        self.requested = False
        #: A second Ctrl-C came before the step ended: ``KeyboardInterrupt`` was raised.
        self.aborted = False


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[InterruptFlag]:
    """Turn Ctrl-C into a request the loop honours between steps.

    Only in the main thread and only while Python's default handler is installed
    (anything else was set up by the application, which keeps control). Outside that,
    the flag is never set and an interrupt surfaces as usual, rolled back to the start
    of the epoch. A second Ctrl-C before the step in flight ends (a step, a callback or
    a plugin that hangs) raises ``KeyboardInterrupt`` at once, rolled back to the start
    of the epoch as well; further ones are ignored while that rollback runs.
    """
    flag = InterruptFlag()
    installed = (threading.current_thread() is threading.main_thread()
                 and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    if not installed:
        yield flag
        return

    def request(signum: int, frame: Any) -> None:
        if flag.aborted:
            return  # the rollback of the abort must finish
        if flag.requested:
            flag.aborted = True
            raise KeyboardInterrupt
        flag.requested = True

    previous = signal.signal(signal.SIGINT, request)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


# -- position and snapshots ---------------------------------------------------------------
@attrs.define(slots=True)
class Position:
    """Where the run is: what a resume needs besides weights and optimizer state."""

    #: Epochs completed.
    epoch: int = 0
    #: Optimizer steps applied, in total.
    step: int = 0
    #: Batches completed in the current, unfinished epoch (0 between epochs).
    batch: int = 0
    #: The sum of those batches' losses.
    loss_sum: float = 0.0
    #: The shuffling stream at the start of the unfinished epoch (to redraw its order).
    epoch_rng: str | None = None
    #: Samples and batches of the unfinished epoch (a resume must use the same).
    epoch_samples: int = 0
    epoch_batches: int = 0

    def copy(self) -> Position:
        return Position(self.epoch, self.step, self.batch, self.loss_sum, self.epoch_rng,
                        self.epoch_samples, self.epoch_batches)


class _Snapshot:
    """The whole training state at one moment; the parameter buffer is reused."""

    __slots__ = ("layers", "noise", "optimizer", "params", "position", "shuffle")

    def __init__(self, like: np.ndarray) -> None:
        self.params = np.empty_like(like)
        self.optimizer: dict[str, np.ndarray] = {}
        self.layers: list[dict[str, np.ndarray]] = []
        #: ``None``: the stream was not drawn from after the snapshot, nothing to restore.
        self.shuffle: Mapping[str, Any] | None = None
        self.noise: Mapping[str, Any] | None = None
        self.position = Position()


def _copies(state: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in state.items()} if state else {}


# -- workspaces ------------------------------------------------------------------------------
class Workspace:
    """Every buffer a step writes, for batches of ``n`` samples, and the bound layers.

    ``orders`` gives the data's and each layer's memory order (``layer_orders``).
    ``steps`` holds each layer's ``(forward, backward)`` bound to this workspace;
    ``x``, ``y`` and ``w`` receive a shuffled batch's gathered rows.
    """

    def __init__(self, loop: TrainingLoop, n: int, orders: tuple[Order, ...]) -> None:
        dtype = loop.dtype
        self.n = n
        self.orders = orders
        self.steps = []
        for i, layer in enumerate(loop.layers):
            context = LayerContext(batch=n, dtype=dtype, input_size=loop.sizes[i],
                                   output_size=loop.sizes[i + 1], order=orders[i + 1],
                                   input_order=orders[i], input_grad=i > 0, rng=loop.noise_rng)
            try:
                self.steps.append(layer.bind(loop.params[i], loop.grads[i], context))
            except ValueError as exc:  # e.g. batch norm refusing a batch of one sample
                msg = (f"fit: layers[{i}] ({type(layer).__name__}) cannot train on batches of "
                       f"{n}: {exc}")
                raise ValueError(msg) from None
        self.inputs: list[Any] = [None] * len(self.steps)
        self.acts: list[Any] = [None] * len(self.steps)
        self.grad_out = np.empty((n, loop.sizes[-1]), dtype, order=orders[-1])
        self.x = np.empty((n, loop.sizes[0]), dtype, order=orders[0])
        self.y = np.empty((n, loop.sizes[-1]), dtype, order=orders[-1])
        self.w = np.empty(n, dtype)


def _gather(A: np.ndarray, index: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Rows ``index`` of ``A`` into ``out`` (same memory order as ``A``), no temporary.

    ``mode="clip"`` writes straight into ``out`` (the default ``"raise"`` goes through
    a temporary copy); the indices come from a permutation, so nothing is clipped.
    """
    if out.ndim == 1 or out.flags.c_contiguous:
        return np.take(A, index, axis=0, out=out, mode="clip")
    np.take(A.T, index, axis=1, out=out.T, mode="clip")
    return out


class Batches:
    """One ``fit``'s training data cut into batches, each bound to its workspace.

    Narrow inputs and the targets are copied once into the memory order of the layer
    that reads them; batches are views.
    """

    def __init__(self, loop: TrainingLoop, X: np.ndarray, Y: np.ndarray,
                 W: np.ndarray | None, batch_size: int | None, shuffle: bool) -> None:
        self.n = n = X.shape[0]
        bounds = batch_bounds(n, batch_size)
        self.shuffled = shuffle and len(bounds) > 1
        orders = layer_orders(loop.sizes, bounds[0][1])
        self.X = np.ascontiguousarray(X.T).T if orders[0] == "F" else X
        self.Y = np.ascontiguousarray(Y.T).T if orders[-1] == "F" else Y
        self.W = W
        self.items = [
            (start, stop, loop.workspace(stop - start, orders), self.X[start:stop],
             self.Y[start:stop], None if W is None else W[start:stop])
            for start, stop in bounds
        ]

    def __len__(self) -> int:
        return len(self.items)

    streamed = False


class StreamedBatches:
    """Batches from sources that are not in memory (memory maps, Dask arrays).

    The data is read one window of rows at a time (at most two windows are held, for
    a batch that spans a boundary). A shuffled epoch visits the windows in a random
    order and each window's rows in a random order, both drawn from the shuffling
    stream, so the shuffle is reproducible and a stopped epoch resumes exactly; with
    one window covering all rows it is a full shuffle. Rows are cast to the network's
    dtype and standardized (``scale``) in the batch's workspace, the same arithmetic
    as standardizing the whole array first.
    """

    streamed = True

    def __init__(self, loop: TrainingLoop, X: RowSource, Y: RowSource, W: np.ndarray | None,
                 batch_size: int | None, shuffle: bool, window_rows: int,
                 scale: tuple[Any, Any] | None, scale_y: tuple[Any, Any] | None) -> None:
        self.n = n = X.n
        self.X, self.Y, self.W = X, Y, W
        bounds = batch_bounds(n, batch_size)
        self.shuffled = shuffle and len(bounds) > 1
        orders = layer_orders(loop.sizes, bounds[0][1])
        self.items = [(start, stop, loop.workspace(stop - start, orders), None, None, None)
                      for start, stop in bounds]
        rows = max(1, window_rows)
        self.windows = [(a, min(a + rows, n)) for a in range(0, n, rows)]
        self.scale, self.scale_y = scale, scale_y
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._x_scratch = np.empty((bounds[0][1], X.width), X.dtype)
        self._y_scratch = np.empty((bounds[0][1], Y.width), Y.dtype)

    def __len__(self) -> int:
        return len(self.items)

    def plan(self, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray, int]:
        """The epoch's window order, its windows' cumulative sizes and its seed."""
        count = len(self.windows)
        if rng is None:
            order = np.arange(count)
            key = -1
        else:
            key = int(rng.integers(2**62))
            order = rng.permutation(count)
        sizes = np.array([self.windows[w][1] - self.windows[w][0] for w in order])
        self._cache.clear()
        return order, np.concatenate([[0], np.cumsum(sizes)]), key

    def _window(self, w: int, key: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cached = self._cache.get(w)
        if cached is None:
            if len(self._cache) >= 2:
                self._cache.pop(next(iter(self._cache)))
            a, b = self.windows[w]
            perm = (np.arange(b - a) if key < 0
                    else np.random.default_rng([key, w]).permutation(b - a))
            cached = self._cache[w] = (self.X.read(a, b), self.Y.read(a, b), perm)
        return cached

    def fetch(self, k: int, plan: tuple[np.ndarray, np.ndarray, int],
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Batch ``k`` of the epoch ``plan`` describes, in its workspace's buffers."""
        start, stop, ws, *_ = self.items[k]
        order, cumulative, key = plan
        size = stop - start
        xs, ys = self._x_scratch[:size], self._y_scratch[:size]
        w_rows = None if self.W is None else ws.w
        filled = 0
        j = int(np.searchsorted(cumulative, start, side="right")) - 1
        while filled < size:
            window = int(order[j])
            lo = start + filled - int(cumulative[j])
            hi = min(int(cumulative[j + 1] - cumulative[j]), lo + size - filled)
            bx, by, perm = self._window(window, key)
            index = perm[lo:hi]
            _gather_window(bx, index, xs[filled:filled + hi - lo])
            _gather_window(by, index, ys[filled:filled + hi - lo])
            if w_rows is not None and self.W is not None:
                a = self.windows[window][0]
                np.take(self.W, index + a, out=w_rows[filled:filled + hi - lo])
            filled += hi - lo
            j += 1
        x, y = ws.x, ws.y
        np.copyto(x, xs, casting="same_kind")
        np.copyto(y, ys, casting="same_kind")
        if self.scale is not None:
            np.subtract(x, self.scale[0], out=x)
            np.divide(x, self.scale[1], out=x)
        if self.scale_y is not None:
            np.subtract(y, self.scale_y[0], out=y)
            np.divide(y, self.scale_y[1], out=y)
        return x, y, w_rows


# -- the loop ------------------------------------------------------------------------------
BatchHook = Callable[[int, dict[str, Any]], None]


class TrainingLoop:
    """Flat buffers, workspaces, snapshots, random streams and position of one network.

    ``layers`` are built layers, ``sizes`` the input size then each layer's output
    size, ``rngs`` the shuffling and noise generators.
    """

    def __init__(self, layers: Sequence[Layer], sizes: Sequence[int], loss: Loss,
                 optimizer: Optimizer, dtype: Any, *, shuffle_rng: np.random.Generator,
                 noise_rng: np.random.Generator) -> None:
        self.layers = list(layers)
        self.sizes = tuple(sizes)
        self.loss = loss
        self.optimizer = optimizer
        self.dtype = np.dtype(dtype)
        self.shuffle_rng = shuffle_rng
        self.noise_rng = noise_rng
        #: Whether any layer draws noise: otherwise snapshots skip the noise stream.
        self.draws_noise = any(layer.draws_noise for layer in self.layers)
        self.position = Position()
        layouts = [layer.parameter_shapes(size) for layer, size in zip(layers, sizes, strict=False)]
        shapes = [tuple(shape) for layout in layouts for shape in layout.values()]
        self.flat_params, param_views = flat_arrays(shapes, self.dtype)
        self.flat_grads, grad_views = flat_arrays(shapes, self.dtype)
        #: Per layer, its parameters (and their gradients) by name: views of the flat buffers.
        self.params: list[dict[str, np.ndarray]] = []
        self.grads: list[dict[str, np.ndarray]] = []
        k = 0
        for layout in layouts:
            self.params.append(dict(zip(layout, param_views[k:k + len(layout)], strict=True)))
            self.grads.append(dict(zip(layout, grad_views[k:k + len(layout)], strict=True)))
            k += len(layout)
        #: Every parameter (and gradient) in order: what the optimizer updates.
        self.parameters = param_views
        self.gradients = grad_views
        self._workspaces: dict[tuple[int, tuple[Order, ...]], Workspace] = {}
        #: Two rollback slots, reused: the epoch's (or segment's) start, and the last state
        #: verified to have a finite loss (see ``_verified``).
        self._slots: list[_Snapshot] = []
        self._good: _Snapshot | None = None
        self._epoch_start: _Snapshot | None = None

    # -- workspaces --------------------------------------------------------------------
    def workspace(self, n: int, orders: tuple[Order, ...] | None = None) -> Workspace:
        """The workspace for batches of ``n`` (built once, kept for a few shapes)."""
        orders = orders or layer_orders(self.sizes, n)
        ws = self._workspaces.get((n, orders))
        if ws is None:
            if len(self._workspaces) > 4:  # keep memory bounded across many shapes
                self._workspaces.clear()
            ws = self._workspaces[n, orders] = Workspace(self, n, orders)
        return ws

    def forget_workspaces(self) -> None:
        """Drop the workspaces (layers rebind on next use), e.g. after a state change."""
        self._workspaces.clear()

    # -- one step ----------------------------------------------------------------------
    def backprop(self, X: np.ndarray, Y: np.ndarray, W: np.ndarray | None,
                 ws: Workspace) -> float:
        """Forward and backward on a batch: fills the gradients, returns the batch loss.

        The gradients are those of the batch's (weighted) mean loss; they are left as
        they were when the loss is not finite.
        """
        steps, inputs, acts = ws.steps, ws.inputs, ws.acts
        x = X
        for i, (forward, _) in enumerate(steps):
            inputs[i] = x
            x = acts[i] = forward(x)
        grad: Any = ws.grad_out  # then each layer's input gradient (None after the first)
        loss = float(self.loss.value_and_gradient_into(Y, x, grad))
        if W is not None:
            loss = self._weigh(Y, x, W, grad)
        if not math.isfinite(loss):
            return loss
        for i in range(len(steps) - 1, -1, -1):
            grad = steps[i][1](inputs[i], acts[i], grad)
        return loss

    def _weigh(self, Y: np.ndarray, P: np.ndarray, W: np.ndarray, grad: np.ndarray) -> float:
        """The weighted mean loss ``sum(w l) / sum(w)``; scales ``grad``'s rows to match.

        ``grad`` holds the unweighted mean's gradient, whose row ``i`` is ``dl_i/dp_i / n``;
        the weighted mean's is ``w_i / sum(w)`` times ``dl_i/dp_i``.
        """
        total = float(np.sum(W))
        if total <= 0.0:
            grad.fill(0.0)  # a batch whose weights are all zero teaches nothing
            return 0.0
        losses = np.asarray(self.loss.sample_losses(Y, P), dtype=np.float64)
        grad *= (W * (W.shape[0] / total))[:, None]
        return float(np.dot(losses, W) / total)

    # -- epochs --------------------------------------------------------------------------
    def run_epoch(self, batches: Batches | StreamedBatches, flag: InterruptFlag | None = None,
                  on_batch_begin: Sequence[BatchHook] = (),
                  on_batch_end: Sequence[BatchHook] = ()) -> float:
        """Train until the end of the current epoch; return its mean batch loss.

        Continues an unfinished epoch (after an interrupt, or a resumed model) when
        the data matches it. See the module docstring for divergence and interrupts.
        """
        self._take_snapshot(shuffles=batches.shuffled)
        try:
            order = self._epoch_order(batches)
            return self._steps(batches, order, flag, on_batch_begin, on_batch_end)
        except DivergenceError:
            self._restore(self._good or self._epoch_start)
            raise
        except CleanStop:
            raise  # stopped between steps: the state is consistent where it is
        except BaseException:
            self._restore(self._epoch_start)
            raise

    def _epoch_order(self, batches: Any) -> Any:
        position = self.position
        if position.batch and (position.epoch_samples, position.epoch_batches) != (
                batches.n, len(batches)):
            msg = (
                f"fit: the network stopped in the middle of epoch {position.epoch} "
                f"(after {position.batch} of {position.epoch_batches} batches over "
                f"{position.epoch_samples} samples); to finish it exactly, fit on the same "
                f"data with the same batch size (got {batches.n} samples in "
                f"{len(batches)} batches), or call net.restart_epoch() to begin a fresh one"
            )
            raise ValueError(msg)
        if not batches.shuffled:
            return batches.plan(None) if batches.streamed else None
        if position.batch:
            assert position.epoch_rng is not None
            set_rng_state(self.shuffle_rng, position.epoch_rng, "the epoch's shuffling state")
        else:
            position.epoch_rng = rng_state(self.shuffle_rng)
        if batches.streamed:
            return batches.plan(self.shuffle_rng)
        return self.shuffle_rng.permutation(batches.n)

    def _steps(self, batches: Any, order: Any, flag: InterruptFlag | None,
               on_batch_begin: Sequence[BatchHook], on_batch_end: Sequence[BatchHook]) -> float:
        position = self.position
        position.epoch_samples, position.epoch_batches = batches.n, len(batches)
        optimizer, backprop = self.optimizer, self.backprop
        params, grads = self.parameters, self.gradients
        flat_params, flat_grads = self.flat_params, self.flat_grads
        hooks = bool(on_batch_begin or on_batch_end)
        limit = self._limit
        unverified = True  # the first loss of a segment vouches for its starting state
        streamed = batches.streamed
        for k in range(position.batch, len(batches)):
            start, stop, ws, x, y, w = batches.items[k]
            if streamed:
                x, y, w = batches.fetch(k, order)
            elif order is not None:
                index = order[start:stop]
                x, y = _gather(batches.X, index, ws.x), _gather(batches.Y, index, ws.y)
                if w is not None and batches.W is not None:
                    w = _gather(batches.W, index, ws.w)
            if hooks:
                logs: dict[str, Any] = {"epoch": position.epoch, "batch": k,
                                        "size": stop - start}
                for hook in on_batch_begin:
                    hook(position.step, logs)
            loss = backprop(x, y, w, ws)
            if not loss <= limit:
                self._diverged(loss, start, stop)
            if unverified:
                self._verified(loss)
                limit, unverified = self._limit, False
            optimizer.step_flat(params, grads, flat_params, flat_grads)
            position.batch += 1
            position.step += 1
            position.loss_sum += loss
            if hooks:
                logs["loss"] = loss
                for hook in on_batch_end:
                    hook(position.step - 1, logs)
            if flag is not None and flag.requested and position.batch < len(batches):
                raise CleanStop
        loss = position.loss_sum / len(batches)
        if not math.isfinite(sum_of_squares(flat_params)):
            msg = (
                f"fit: the weights overflowed in epoch {position.epoch} (the loss was still "
                f"{loss:.6g}); the learning rate is probably too large for this data: try a "
                "smaller one, or standardize = true"
            )
            raise DivergenceError(msg)
        position.epoch += 1
        position.batch = 0
        position.loss_sum = 0.0
        position.epoch_rng = None
        return loss

    #: The largest batch loss that is not a blow-up (see ``DIVERGENCE_FACTOR``).
    _limit = math.inf
    _reference: float | None = None

    def start_run(self) -> None:
        """Forget the previous ``fit``'s reference loss and verified state (the snapshot
        buffers stay allocated: a large model is not reallocated per ``fit``)."""
        self._reference = None
        self._limit = math.inf
        self._good = self._epoch_start = None

    def _verified(self, loss: float) -> None:
        """The first batch of a segment checked out: its starting state is good."""
        self._good = self._epoch_start
        if self._reference is None:
            self._reference = loss
            self._limit = DIVERGENCE_FACTOR * max(abs(loss), 1.0)

    def _diverged(self, loss: float, start: int, stop: int) -> None:
        epoch = self.position.epoch
        what = (f"became {loss}" if not math.isfinite(loss) else
                f"exploded to {loss:.3g}, over {DIVERGENCE_FACTOR:.0e} times the first "
                f"loss of this fit ({self._reference:.3g})")
        target = self._good or self._epoch_start
        where = (f"rolled back to epoch {target.position.epoch}"
                 + (f", batch {target.position.batch}" if target.position.batch else "")
                 if target is not None else "left as it was")
        msg = (
            f"fit: the loss {what} in epoch {epoch} (batch {start}:{stop}); training "
            f"stopped before applying that update and the network was {where}, the last "
            "state with a finite loss. The learning rate is probably too large for this "
            "data: try a smaller one, or standardize = true"
        )
        raise DivergenceError(msg)

    # -- snapshots ------------------------------------------------------------------------
    def _take_snapshot(self, *, shuffles: bool = True) -> None:
        """Copy the whole training state into the slot not holding the last good one.

        A random stream the epoch will not draw from (no shuffling, no noise layer) is
        not recorded: reading a generator's state costs more than a small epoch's step.
        """
        if len(self._slots) < 2 or self._slots[0].params.shape != self.flat_params.shape:
            self._slots = [_Snapshot(self.flat_params), _Snapshot(self.flat_params)]
        slot = self._slots[1] if self._slots[0] is self._good else self._slots[0]
        np.copyto(slot.params, self.flat_params)
        slot.optimizer = _copies(self.optimizer.state_dict())
        slot.layers = [_copies(layer.state_dict()) for layer in self.layers]
        slot.shuffle = self.shuffle_rng.bit_generator.state if shuffles else None
        slot.noise = self.noise_rng.bit_generator.state if self.draws_noise else None
        slot.position = self.position.copy()
        self._epoch_start = slot

    def _restore(self, snapshot: _Snapshot | None) -> None:
        if snapshot is None:
            return
        np.copyto(self.flat_params, snapshot.params)
        self.optimizer.load_state_dict(_copies(snapshot.optimizer))
        for layer, state in zip(self.layers, snapshot.layers, strict=True):
            layer.load_state_dict(_copies(state))
        if snapshot.shuffle is not None:
            self.shuffle_rng.bit_generator.state = snapshot.shuffle
        if snapshot.noise is not None:
            self.noise_rng.bit_generator.state = snapshot.noise
        self.position = snapshot.position.copy()

    # -- state ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Weights, layer and optimizer state, random streams and position, by name."""
        out: dict[str, np.ndarray] = {}
        for i, params in enumerate(self.params, start=1):
            for name, array in params.items():
                out[f"weights/{i}/{name}"] = array
        for i, layer in enumerate(self.layers, start=1):
            out.update(_plain_state(f"layers/{i}/", layer.state_dict(),
                                    f"layer {i} ({type(layer).__name__})"))
        out.update(_plain_state("optimizer/", self.optimizer.state_dict(),
                                f"optimizer {type(self.optimizer).__name__}"))
        p = self.position
        out["training/epoch"] = np.array(p.epoch, np.int64)
        out["training/step"] = np.array(p.step, np.int64)
        out["training/batch"] = np.array(p.batch, np.int64)
        out["training/loss_sum"] = np.array(p.loss_sum, np.float64)
        out["training/epoch_samples"] = np.array(p.epoch_samples, np.int64)
        out["training/epoch_batches"] = np.array(p.epoch_batches, np.int64)
        out["training/shuffle_rng"] = np.array(rng_state(self.shuffle_rng))
        out["training/noise_rng"] = np.array(rng_state(self.noise_rng))
        if p.epoch_rng is not None:
            out["training/epoch_rng"] = np.array(p.epoch_rng)
        return out


def _plain_state(prefix: str, state: Any, owner: str) -> dict[str, np.ndarray]:
    """A component's ``state_dict()`` under ``prefix``, checked to be plain numeric arrays
    (what a model file can hold), or a ``ValueError`` naming the component and key."""
    if not isinstance(state, Mapping):
        raise ValueError(f"{owner}: state_dict() returned {type(state).__name__}, not a dict")
    out = {}
    for key, value in state.items():
        if not isinstance(key, str) or not key or "/" in key:
            raise ValueError(f"{owner}: state_dict() keys must be non-empty strings without "
                             f"'/' (got {key!r})")
        array = value if isinstance(value, np.ndarray) else np.asarray(value)
        if array.dtype.kind not in "biuf" or array.dtype.fields is not None:
            raise ValueError(f"{owner} state {key!r} has dtype {array.dtype}; state must be "
                             "plain numeric arrays")
        out[prefix + key] = array
    return out


def _gather_window(rows: np.ndarray, index: np.ndarray, out: np.ndarray) -> None:
    """``out[:] = rows[index]`` for a window of streamed rows. ``np.take`` copies a
    source that is not C-contiguous whole first (a window of some columns of a wider
    mapped file): there, fancy indexing copies only the rows taken, a batch's worth."""
    if rows.flags.c_contiguous:
        _gather(rows, index, out)
    else:
        out[...] = rows[index]
