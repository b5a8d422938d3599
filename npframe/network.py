"""``Network``: a stack of ``Dense`` layers built from a spec, trained with ``fit``."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from npframe import training
from npframe._validation import as_inputs, as_targets, cast, check_same_length
from npframe.callbacks import CallbackList, History, check_callbacks
from npframe.errors import DivergenceError, SpecError
from npframe.layer import Dense
from npframe.registry import Registry, default_registry
from npframe.scaler import Standardizer
from npframe.spec import NetworkSpec, SpecLike

__all__ = ["Network"]


def _spawn_rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent streams for weights and shuffling: shuffling never shifts the init."""
    init_seq, shuffle_seq = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(init_seq), np.random.default_rng(shuffle_seq)


class Network:
    """A feed-forward network assembled from a ``NetworkSpec``.

    Build it with ``Network.from_spec(spec_or_path)``; the constructor is for code that
    already holds a validated ``NetworkSpec``. Arrays are batch first throughout.
    """

    def __init__(self, spec: NetworkSpec, *, registry: Registry | None = None) -> None:
        registry = registry or default_registry()
        # Build every component first: all spec errors surface before any allocation.
        activations = [
            registry.create("activation", layer.activation.to_data(),
                            path=f"layers[{i}].activation")
            for i, layer in enumerate(spec.layers)
        ]
        initializers = [
            registry.create("initializer",
                            (layer.initializer or spec.initializer).to_data(),
                            path=f"layers[{i}].initializer" if layer.initializer
                            else "initializer")
            for i, layer in enumerate(spec.layers)
        ]
        self.loss = registry.create("loss", spec.loss.to_data(), path="loss")
        self.optimizer = registry.create("optimizer", spec.optimizer.to_data(), path="optimizer")
        self.metrics = {
            m.name: registry.create("metric", m.to_data(), path=f"metrics[{i}]")
            for i, m in enumerate(spec.metrics)
        }
        self.schedule = None
        if spec.schedule is not None:
            self.schedule = registry.create("schedule", spec.schedule.to_data(), path="schedule")
            if not isinstance(getattr(self.optimizer, "learning_rate", None), float | int):
                msg = (
                    f"optimizer {spec.optimizer.name!r} has no numeric 'learning_rate' "
                    "attribute, so a schedule cannot drive it"
                )
                raise SpecError(msg, "schedule")
        self.spec = spec
        self.registry = registry
        self.dtype = np.dtype(spec.dtype)
        self._base_learning_rate = getattr(self.optimizer, "learning_rate", None)

        init_rng, self._shuffle_rng = _spawn_rngs(spec.seed)
        weights = []
        for i, (fan_in, fan_out) in enumerate(zip(spec.sizes[:-1], spec.sizes[1:], strict=True)):
            W = np.asarray(initializers[i]((fan_in, fan_out), init_rng))
            if W.shape != (fan_in, fan_out):
                msg = (
                    f"initializer returned shape {W.shape} for layer {i}, "
                    f"expected {(fan_in, fan_out)}"
                )
                raise SpecError(msg, f"layers[{i}].initializer")
            weights.append(W)
        # Parameters and gradients each live in one flat buffer (see training.flat_arrays).
        shapes = [s for W in weights for s in (W.shape, W.shape[1:])]
        self._flat_params, self._params = training.flat_arrays(shapes, self.dtype)
        self._flat_grads, self._grads = training.flat_arrays(shapes, self.dtype)
        for param, W in zip(self._params[0::2], weights, strict=True):
            param[...] = np.asarray(W, dtype=self.dtype)  # biases start at zero
        self.layers: list[Dense] = [
            Dense(W, b, activation) for W, b, activation in
            zip(self._params[0::2], self._params[1::2], activations, strict=True)]
        self._grad_W = self._grads[0::2]
        self._grad_b = self._grads[1::2]
        self._workspaces: dict[tuple[int, tuple[str, ...]], training.Workspace] = {}
        #: What the epochs of the running ``fit`` share (``training._EpochData``).
        self._train_data: Any = None
        #: The parameters at the start of the current epoch (``training.param_snapshot``).
        self._param_snapshot: np.ndarray | None = None
        self.scaler: Standardizer | None = None
        #: Epochs trained so far, across ``fit`` calls and ``save``/``load``.
        self.epoch = 0
        #: Set to ``True`` (by a callback) to end ``fit`` after the current epoch.
        self.stop_training = False

    # -- construction ------------------------------------------------------------------
    @classmethod
    def from_spec(cls, spec: SpecLike | NetworkSpec, *, registry: Registry | None = None,
                  ) -> Network:
        """Build from a mapping, a ``.json`` / ``.toml`` path, or a ``NetworkSpec``."""
        registry = registry or default_registry()
        return cls(NetworkSpec.load(spec, registry), registry=registry)

    def to_spec(self) -> dict[str, Any]:
        """The normalized spec, seed included: ``from_spec`` of it rebuilds this net."""
        return self.spec.to_dict()

    def __repr__(self) -> str:
        sizes = "-".join(map(str, self.spec.sizes))
        return f"<Network {sizes} {self.dtype} epoch={self.epoch}>"

    @property
    def n_inputs(self) -> int:
        return self.spec.input

    @property
    def n_outputs(self) -> int:
        return self.spec.output

    @property
    def n_parameters(self) -> int:
        return sum(p.size for p in self._params)

    # -- weights -----------------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        """Copies of ``[W1, b1, W2, b2, ...]``; ``W`` is ``(fan_in, fan_out)``."""
        return [p.copy() for p in self._params]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Replace every weight; shapes and finiteness are checked before anything changes."""
        weights = list(weights)
        if len(weights) != len(self._params):
            msg = (
                f"set_weights: expected {len(self._params)} arrays "
                f"([W1, b1, ..., W{len(self.layers)}, b{len(self.layers)}]), got {len(weights)}"
            )
            raise ValueError(msg)
        arrays = []
        for i, (new, old) in enumerate(zip(weights, self._params, strict=True)):
            name = f"{'Wb'[i % 2]}{i // 2 + 1}"
            array = np.asarray(new)
            if array.shape != old.shape:
                hint = ""
                if array.ndim == 2 and array.shape == old.shape[::-1]:
                    hint = " (transposed? W is (fan_in, fan_out))"
                msg = f"set_weights: {name} must have shape {old.shape}, got {array.shape}{hint}"
                raise ValueError(msg)
            if array.dtype.kind not in "iuf":  # no bools, complex, strings or objects
                msg = f"set_weights: {name} must hold real numbers (got dtype {array.dtype})"
                raise ValueError(msg)
            if not np.isfinite(array).all():
                bad = tuple(int(j) for j in np.argwhere(~np.isfinite(array))[0])
                msg = f"set_weights: {name} holds {array[bad]} at {bad}; weights must be finite"
                raise ValueError(msg)
            arrays.append(cast(array, self.dtype, name, "set_weights"))
        for old, new in zip(self._params, arrays, strict=True):
            old[...] = new  # in place: optimizer state and views stay attached

    # -- data preparation --------------------------------------------------------------
    def _inputs(self, X: Any, where: str) -> np.ndarray:
        X = as_inputs(X, self.n_inputs, self.dtype, where)
        return self.scaler.transform_x(X) if self.scaler is not None else X

    def _pair(self, X: Any, y: Any, where: str, scaler: Standardizer | None,
              ) -> tuple[np.ndarray, np.ndarray]:
        X = as_inputs(X, self.n_inputs, self.dtype, where)
        y = as_targets(y, self.n_outputs, self.dtype, where)
        check_same_length(X, y, where)
        if scaler is not None:
            X, y = scaler.transform_x(X), scaler.transform_y(y)
        return X, y

    def _workspace(self, n: int, orders: tuple[str, ...]) -> training.Workspace:
        ws = self._workspaces.get((n, orders))
        if ws is None:
            if len(self._workspaces) > 4:  # keep memory bounded across many shapes
                self._workspaces.clear()
            ws = self._workspaces[n, orders] = training.Workspace(self, n, orders)
        return ws

    # -- inference ---------------------------------------------------------------------
    def _forward(self, X: np.ndarray) -> np.ndarray:
        a = X
        for layer in self.layers:
            _, a = layer.forward(a)
        return a

    def predict(self, X: Any) -> np.ndarray:
        """``(n, n_inputs) -> (n, n_outputs)`` on the raw target scale."""
        out = self._forward(self._inputs(X, "predict"))
        return self.scaler.inverse_y(out) if self.scaler is not None else out

    def evaluate(self, X: Any, y: Any) -> float:
        """The spec's loss on ``(X, y)``, on the scale training measures it."""
        Xs, ys = self._pair(X, y, "evaluate", self.scaler)
        return float(self.loss.value(ys, self._forward(Xs)))

    def evaluate_metrics(self, X: Any, y: Any) -> dict[str, float]:
        """``{"loss": ..., <metric>: ...}``; metrics are on the raw target scale."""
        Xs, ys = self._pair(X, y, "evaluate", self.scaler)
        pred = self._forward(Xs)
        out = {"loss": float(self.loss.value(ys, pred))}
        out.update(self._metric_values(ys, pred))
        return out

    def _metric_values(self, y_scaled: np.ndarray, pred_scaled: np.ndarray) -> dict[str, float]:
        if not self.metrics:
            return {}
        if self.scaler is not None:
            y_scaled = self.scaler.inverse_y(y_scaled)
            pred_scaled = self.scaler.inverse_y(pred_scaled)
        return {name: float(m(y_scaled, pred_scaled)) for name, m in self.metrics.items()}

    # -- training ----------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: Any,
        epochs: int = 100,
        batch_size: int | None = None,
        shuffle: bool = True,
        validation_data: tuple[Any, Any] | None = None,
        callbacks: Iterable[Any] = (),
        *,
        validation_split: float = 0.0,
        verbose: bool | int = False,
    ) -> History:
        """Train for ``epochs`` epochs and return the ``History`` of this call.

        ``batch_size=None`` is full-batch gradient descent. Every argument is checked
        before anything changes, so a ``ValueError`` leaves the network as it was.
        ``validation_split`` holds out the last fraction of ``(X, y)`` (before shuffling)
        when no ``validation_data`` is given. ``verbose`` shows progress. A loss (or
        weights) turning NaN or inf raises ``DivergenceError`` naming the epoch, with the
        network rolled back to the start of that epoch.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, int | np.integer) or epochs < 0:
            raise ValueError(f"fit: epochs must be an int >= 0 (got {epochs!r})")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
                batch_size, int | np.integer) or batch_size < 1):
            msg = f"fit: batch_size must be None (full batch) or an int >= 1 (got {batch_size!r})"
            raise ValueError(msg)
        if (isinstance(validation_split, bool)
                or not isinstance(validation_split, int | float | np.integer | np.floating)
                or not 0.0 <= validation_split < 1.0):
            msg = f"fit: validation_split must be in [0, 1) (got {validation_split!r})"
            raise ValueError(msg)
        callbacks = check_callbacks(callbacks)
        X = as_inputs(X, self.n_inputs, self.dtype, "fit")
        y = as_targets(y, self.n_outputs, self.dtype, "fit")
        check_same_length(X, y, "fit")
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
                raise ValueError("fit: validation_data must be a pair (X_val, y_val)")
            Xv = as_inputs(validation_data[0], self.n_inputs, self.dtype, "fit validation_data")
            yv = as_targets(validation_data[1], self.n_outputs, self.dtype,
                            "fit validation_data")
            check_same_length(Xv, yv, "fit validation_data")
            val = (Xv, yv)
        elif validation_split:
            n_val = round(X.shape[0] * validation_split)
            if n_val < 1 or n_val >= X.shape[0]:
                msg = (
                    f"fit: validation_split={validation_split} of {X.shape[0]} samples leaves "
                    "an empty training or validation set"
                )
                raise ValueError(msg)
            X, val = X[:-n_val], (X[-n_val:], y[-n_val:])
            y = y[:-n_val]
        if verbose:
            from npframe.progress import ProgressBar

            callbacks.append(ProgressBar(epochs=epochs))

        # Validated: from here on, state changes.
        if self.spec.standardize and self.scaler is None:
            self.scaler = Standardizer.fit(X, y)
        if self.scaler is not None:
            X, y = self.scaler.transform_x(X), self.scaler.transform_y(y)
            if val is not None:
                val = (self.scaler.transform_x(val[0]), self.scaler.transform_y(val[1]))
        X, y = np.ascontiguousarray(X), np.ascontiguousarray(y)

        history = History()
        self.stop_training = False
        hooks = CallbackList(callbacks, self)
        hooks.call("on_train_begin", {"epochs": epochs, "initial_epoch": self.epoch})
        # NumPy's floating-point warnings are silenced for the whole loop (see
        # _train_epoch), once: entering np.errstate per epoch costs more than a small
        # epoch's step. Callbacks still run under the caller's settings.
        caller_errstate = np.geterr()

        def call(hook: str, *args: Any) -> None:
            if hooks.callbacks:
                with np.errstate(**caller_errstate):
                    hooks.call(hook, *args)

        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                for _ in range(epochs):
                    epoch = self.epoch
                    if self.schedule is not None:
                        self.optimizer.learning_rate = self._base_learning_rate * float(
                            self.schedule(epoch))
                    call("on_epoch_begin", epoch, {})
                    logs = {"loss": self._train_epoch(X, y, batch_size, shuffle, epoch)}
                    if self.metrics:
                        logs.update(self._metric_values(y, self._forward(X)))
                    if val is not None:
                        pred = self._forward(val[0])
                        logs["val_loss"] = float(self.loss.value(val[1], pred))
                        for name, value in self._metric_values(val[1], pred).items():
                            logs[f"val_{name}"] = value
                    self.epoch += 1
                    history.record(epoch, logs)
                    call("on_epoch_end", epoch, logs)
                    if self.stop_training:
                        break
        finally:
            self._train_data = None
        hooks.call("on_train_end", {"epochs_trained": len(history.loss)})
        return history

    def _train_epoch(self, X: np.ndarray, y: np.ndarray, batch_size: int | None,
                     shuffle: bool, epoch: int) -> float:
        """One epoch, undone if it diverges.

        A ``DivergenceError`` leaves the network (weights, optimizer state, shuffling
        stream) exactly as it was when the epoch began, so it stays finite and usable:
        lower the learning rate and call ``fit`` again. ``fit`` runs this with NumPy's
        overflow warnings silenced, because the non-finite loss they foreshadow is
        reported instead.
        """
        weights = training.param_snapshot(self)
        state = {k: np.array(v, copy=True) for k, v in self.optimizer.state_dict().items()}
        rng_state = (self._shuffle_rng.bit_generator.state
                     if training.shuffles(len(X), batch_size, shuffle) else None)
        try:
            loss = training.train_epoch(self, X, y, batch_size, shuffle, epoch)
            # one pass over all parameters (they share one flat buffer)
            if not training.all_finite(self._flat_params):
                msg = (
                    f"fit: the weights overflowed in epoch {epoch} (the loss was still "
                    f"{loss}); the learning rate is probably too large for this data: try "
                    "a smaller one, or standardize = true"
                )
                raise DivergenceError(msg)
        except DivergenceError:
            self._flat_params[...] = weights
            self.optimizer.load_state_dict(state)
            if rng_state is not None:
                self._shuffle_rng.bit_generator.state = rng_state
            raise
        return loss

    def gradients(self, X: Any, y: Any) -> tuple[float, list[np.ndarray]]:
        """The loss on ``(X, y)`` and its gradient ``[dW1, db1, dW2, db2, ...]``.

        The forward and backward pass a training step runs (``training.backprop``), on
        the scale training uses, without updating anything: for gradient checks, custom
        training loops and debugging. Gradients are those of the batch's mean loss.
        """
        Xs, ys = self._pair(X, y, "gradients", self.scaler)
        loss = training.backprop(self, Xs, ys, training.Workspace(self, Xs.shape[0]))
        if not math.isfinite(loss):
            msg = f"gradients: the loss is {loss} on this data; its gradient is undefined"
            raise DivergenceError(msg)
        return loss, [g.copy() for g in self._grads]

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write one ``.npz`` file holding everything needed to continue training."""
        from npframe.io import save

        save(self, path)
