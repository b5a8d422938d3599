"""``Network``: layers built from a spec, trained with ``fit``, saved as one file.

The network turns user data into training arrays (column names matched, class labels
encoded, standardized) and reports back on the user's scale; the ``TrainingLoop`` it
owns does the training and holds the weights; ``npframe.io`` reads and writes the
state dict. Arrays are batch first throughout.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from npframe import io
from npframe._validation import as_inputs, as_targets, cast, check_same_length
from npframe.assembly import Blueprint, assemble
from npframe.callbacks import (
    CallbackList,
    History,
    LearningRateScheduler,
    check_callbacks,
)
from npframe.errors import (
    ConvergenceWarning,
    DivergenceError,
    ModelFileError,
    PluginWarning,
    SpecError,
    UnknownComponentError,
)
from npframe.interfaces import TrainingPlan
from npframe.labels import as_labels, decode, encode, is_label_column, learn_classes
from npframe.memory import format_bytes
from npframe.plugins import normalize
from npframe.progress import ProgressBar
from npframe.registry import KINDS, Registry, default_registry
from npframe.scaler import Standardizer, column_stats
from npframe.sources import RowSource, as_source, is_streamed, window_rows
from npframe.spec import NetworkSpec, SpecLike
from npframe.summary import layer_table
from npframe.tables import as_array, columns_of, match_columns, names_of
from npframe.training import (
    Batches,
    Position,
    StreamedBatches,
    TrainingLoop,
    deferred_interrupt,
    set_rng_state,
)

__all__ = ["Network", "from_bytes", "load"]

#: Epochs one ``fit`` call runs before it judges the run against the mean prediction: a
#: few epochs are not expected to fit yet, and ``fit(epochs=1)`` per step (a custom
#: loop, ``partial_fit``) must not pay the judgement's forward pass on every call.
MIN_EPOCHS_FOR_WARNING = 10

#: Largest epoch or step count a model file may claim (far beyond any real run, far
#: from int64's overflow when training continues).
_MAX_COUNT = 2**53


def _seeds(seed: int) -> list[np.random.SeedSequence]:
    """Independent seeds for weights, shuffling, noise and validation splits.

    ``SeedSequence.spawn`` numbers its children, so adding a stream never changes the
    ones before it: the initial weights and shuffling of older versions stay the same.
    """
    return np.random.SeedSequence(seed).spawn(4)


class Network:
    """A feed-forward network assembled from a ``NetworkSpec``.

    Build it with ``Network.from_spec(spec_or_path)``; the constructor is for code that
    already holds a ``NetworkSpec``. Every component is built once, every size checked
    against the memory this process may use, before any parameter is allocated.
    """

    def __init__(self, spec: NetworkSpec, *, registry: Registry | None = None,
                 check_dataset: bool = True, _blueprint: Blueprint | None = None) -> None:
        registry = registry or default_registry()
        blueprint = _blueprint or assemble(spec, registry, check_dataset=check_dataset)
        blueprint.check_fits()
        self.spec = spec
        self.registry = registry
        self.blueprint = blueprint
        self.dtype = np.dtype(spec.dtype)
        self.layers = list(blueprint.layers)
        self.loss = blueprint.loss
        self.optimizer = blueprint.optimizer
        self.metrics = dict(blueprint.metrics)
        self.schedule = blueprint.schedule
        #: The learning rate schedules multiply (``ReduceLROnPlateau`` scales it).
        self.base_learning_rate: float | None = getattr(self.optimizer, "learning_rate", None)
        init_seed, shuffle_seed, noise_seed, self._split_seed = _seeds(spec.seed)
        init_rng = np.random.default_rng(init_seed)
        self.loop = TrainingLoop(self.layers, blueprint.sizes, self.loss, self.optimizer,
                                 self.dtype, shuffle_rng=np.random.default_rng(shuffle_seed),
                                 noise_rng=np.random.default_rng(noise_seed))
        for i, (layer, params) in enumerate(zip(self.layers, self.loop.params, strict=True)):
            try:
                layer.initialize(params, init_rng, blueprint.initializer)
            except ValueError as exc:
                where = (f"layers[{i}].initializer" if "initializer" in spec.layers[i].params
                         else "initializer")
                raise SpecError(str(exc), where) from None
        self.scaler: Standardizer | None = None
        #: The class labels, sorted, once ``fit`` saw labels (``None`` for regression).
        self.classes: np.ndarray | None = None
        #: Column names learned from the data (``None`` when it had none).
        self.feature_names: list[str] | None = None
        self.target_names: list[str] | None = None
        #: Set to ``True`` (by a callback) to end ``fit`` after the current epoch.
        self.stop_training = False
        #: The ``History`` of the latest ``fit`` (also when it was interrupted).
        self.history = History()

    # -- construction ------------------------------------------------------------------
    @classmethod
    def from_spec(cls, spec: SpecLike | NetworkSpec, *, registry: Registry | None = None,
                  ) -> Network:
        """Build from a mapping, a ``.json`` / ``.toml`` path, or a ``NetworkSpec``."""
        return cls(NetworkSpec.load(spec), registry=registry)

    def to_spec(self) -> dict[str, Any]:
        """The normalized spec, seed included: ``from_spec`` of it rebuilds this net."""
        return self.spec.to_dict()

    def __repr__(self) -> str:
        sizes = "-".join(map(str, self.blueprint.sizes))
        return f"<Network {sizes} {self.dtype} epoch={self.epoch}>"

    @property
    def epoch(self) -> int:
        """Epochs trained so far, across ``fit`` calls and ``save``/``load``."""
        return self.loop.position.epoch

    @property
    def n_inputs(self) -> int:
        return self.spec.input

    @property
    def n_outputs(self) -> int:
        return self.blueprint.sizes[-1]

    @property
    def sizes(self) -> tuple[int, ...]:
        """``(inputs, outputs of layer 1, ..., outputs of the last layer)``."""
        return self.blueprint.sizes

    @property
    def n_parameters(self) -> int:
        return self.blueprint.n_parameters

    def summary(self) -> str:
        """The layer table ``npframe check`` prints: type, settings, output size, parameters."""
        return layer_table(self.blueprint)

    # -- weights -----------------------------------------------------------------------
    def _weight_names(self) -> list[str]:
        return [f"{name}{i}" for i, params in enumerate(self.loop.params, start=1)
                for name in params]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every layer's trainable parameters in layer order: ``[W1, b1, ...]``."""
        return [p.copy() for p in self.loop.parameters]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Replace every weight; shapes and finiteness are checked before anything changes."""
        weights = list(weights)
        names = self._weight_names()
        current = self.loop.parameters
        if len(weights) != len(current):
            msg = (f"set_weights: expected {len(current)} arrays ({', '.join(names)}), "
                   f"got {len(weights)}")
            raise ValueError(msg)
        arrays = [_checked_weight(np.asarray(new), old, name, "set_weights", self.dtype)
                  for new, old, name in zip(weights, current, names, strict=True)]
        for old, new in zip(current, arrays, strict=True):
            old[...] = new  # in place: optimizer state and bound steps stay attached

    # -- data preparation --------------------------------------------------------------
    def _raw_inputs(self, X: Any, where: str, feature_names: Sequence[str] | None = None,
                    ignore: Sequence[str] = ()) -> np.ndarray:
        """``X`` checked, its columns matched by name, in the network's dtype."""
        names = columns_of(X) or (list(feature_names) if feature_names is not None else None)
        array = match_columns(as_array(X), names, self.feature_names, where, ignore)
        return as_inputs(array, self.n_inputs, self.dtype, where)

    def _inputs(self, X: Any, where: str, feature_names: Sequence[str] | None = None,
                ignore: Sequence[str] = ()) -> np.ndarray:
        X = self._raw_inputs(X, where, feature_names, ignore)
        return self.scaler.transform_x(X) if self.scaler is not None else X

    def _targets(self, y: Any, where: str, *, learn: bool = False) -> np.ndarray:
        """``y`` as the training loop's targets: labels encoded, raw scale."""
        y = as_array(y)
        if self.loss.classification and is_label_column(y, self.n_outputs):
            labels = as_labels(y, where)
            if learn and self.classes is None:
                self.classes = learn_classes(labels, self.n_outputs, where)
            if self.classes is None:
                msg = (f"{where}: got class labels, but this network was trained on "
                       "one-hot/probability columns; pass those")
                raise ValueError(msg)
            return encode(labels, self.classes, self.n_outputs, self.dtype, where)
        if np.asarray(y).dtype.kind in "USO":
            msg = (
                f"{where}: the targets are text, but loss {self.spec.loss.name!r} takes "
                "numbers; for class labels use a classification loss (binary_crossentropy, "
                "categorical_crossentropy)"
            )
            raise ValueError(msg)
        return as_targets(y, self.n_outputs, self.dtype, where)

    def _pair(self, X: Any, y: Any, where: str, feature_names: Sequence[str] | None = None,
              ) -> tuple[np.ndarray, np.ndarray]:
        Xs = self._inputs(X, where, feature_names)
        ys = self._targets(y, where)
        check_same_length(Xs, ys, where)
        return Xs, self.scaler.transform_y(ys) if self.scaler is not None else ys

    # -- inference ---------------------------------------------------------------------
    def _forward(self, X: np.ndarray) -> np.ndarray:
        a = X
        for layer, params in zip(self.layers, self.loop.params, strict=True):
            a, _ = layer.forward(a, params, training=False)
        return a

    def activations(self, X: Any, *, scaled: bool = False) -> list[np.ndarray]:
        """Every layer's output for ``X`` in inference mode, first to last.

        ``X`` is on the raw scale (standardized here when the network standardizes),
        or already scaled with ``scaled=True``. The last entry is the network's
        output before any target scaling is undone.
        """
        a = (as_inputs(as_array(X), self.n_inputs, self.dtype, "activations") if scaled
             else self._inputs(X, "activations"))
        out = []
        for layer, params in zip(self.layers, self.loop.params, strict=True):
            a, _ = layer.forward(a, params, training=False)
            out.append(a)
        return out

    def predict(self, X: Any, *, feature_names: Sequence[str] | None = None,
                ignore: Sequence[str] = ()) -> np.ndarray:
        """``(n, n_inputs) -> (n, n_outputs)``: raw target scale, or class probabilities.

        Columns are matched by name when both the data and the network have names
        (``ignore`` lists columns to skip, such as targets left in the table).
        """
        out = self._forward(self._inputs(X, "predict", feature_names, ignore))
        if self.scaler is not None:
            out = self.scaler.inverse_y(out)
        return self.loss.probabilities(out) if self.loss.classification else out

    def predict_labels(self, X: Any, *, feature_names: Sequence[str] | None = None,
                       ignore: Sequence[str] = ()) -> np.ndarray:
        """The most probable class of each sample (class indices without ``classes``)."""
        if not self.loss.classification:
            msg = (f"predict_labels: loss {self.spec.loss.name!r} is not a classification "
                   "loss; use predict")
            raise ValueError(msg)
        return decode(self.predict(X, feature_names=feature_names, ignore=ignore), self.classes)

    def evaluate(self, X: Any, y: Any, *, feature_names: Sequence[str] | None = None) -> float:
        """The spec's loss on ``(X, y)``, on the scale training measures it."""
        Xs, ys = self._pair(X, y, "evaluate", feature_names)
        return float(self.loss.value(ys, self._forward(Xs)))

    def evaluate_metrics(self, X: Any, y: Any, *, feature_names: Sequence[str] | None = None,
                         metrics: Mapping[str, Any] | None = None) -> dict[str, float]:
        """``{"loss": ..., <metric>: ...}``; metrics on the raw target scale (``metrics``
        adds more, by name)."""
        Xs, ys = self._pair(X, y, "evaluate", feature_names)
        pred = self._forward(Xs)
        out = {"loss": float(self.loss.value(ys, pred))}
        out.update(self._metric_values(ys, pred, {**self.metrics, **(metrics or {})}))
        return out

    def _metric_values(self, y_scaled: np.ndarray, pred_scaled: np.ndarray,
                       metrics: Mapping[str, Any] | None = None) -> dict[str, float]:
        metrics = self.metrics if metrics is None else metrics
        if not metrics:
            return {}
        if self.scaler is not None:
            y_scaled = self.scaler.inverse_y(y_scaled)
            pred_scaled = self.scaler.inverse_y(pred_scaled)
        if self.loss.classification:
            pred_scaled = self.loss.probabilities(pred_scaled)
        return {name: float(m(y_scaled, pred_scaled)) for name, m in metrics.items()}

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
        validation_shuffle: bool = False,
        sample_weight: Any = None,
        class_weight: Mapping[Any, float] | str | None = None,
        feature_names: Sequence[str] | None = None,
        target_names: Sequence[str] | None = None,
        shuffle_window: int | None = None,
        verbose: bool | int = False,
    ) -> History:
        """Train for ``epochs`` epochs and return the ``History`` of this call.

        ``batch_size=None`` is full-batch gradient descent. ``validation_split`` holds
        out the last fraction of ``(X, y)``, or with ``validation_shuffle`` a seeded
        random one (stratified by class for labels). ``sample_weight`` (one per sample)
        and ``class_weight`` (label -> weight, or ``"balanced"``) make the loss a
        weighted mean. ``X`` and ``y`` may be memory maps (``np.load(..., mmap_mode="r")``)
        or Dask arrays: they are streamed, never loaded whole (``docs/scaling.md``);
        ``shuffle_window`` (rows) then bounds what a shuffled epoch holds at once, and
        given for in-memory arrays it shuffles them the same way. Every argument is
        checked before anything changes, so a ``ValueError`` leaves the network as it
        was. A loss or weights that blow up raise ``DivergenceError`` with the network
        rolled back to the last state whose loss was finite; Ctrl-C stops after the step
        in flight, resumably.
        """
        _check_fit_args(epochs, batch_size, validation_split)
        if shuffle_window is not None and (isinstance(shuffle_window, bool) or not isinstance(
                shuffle_window, int | np.integer) or shuffle_window < 1):
            raise ValueError(f"fit: shuffle_window must be a number of rows >= 1 "
                             f"(got {shuffle_window!r})")
        callbacks = check_callbacks(callbacks)
        if shuffle_window is not None or is_streamed(X) or is_streamed(y):
            data = self._streamed_data(X, y, validation_data, validation_split,
                                       validation_shuffle, sample_weight, class_weight,
                                       batch_size, shuffle_window)
        else:
            data = self._training_data(X, y, validation_data, validation_split,
                                       validation_shuffle, sample_weight, class_weight,
                                       feature_names, target_names)
        if verbose:
            callbacks.append(ProgressBar(epochs=epochs))
        if self.schedule is not None and not any(
                isinstance(cb, LearningRateScheduler) for cb in callbacks):
            callbacks.insert(0, LearningRateScheduler(self.schedule))
        return self._train(data, int(epochs), batch_size, bool(shuffle), callbacks)

    def _training_data(self, X: Any, y: Any, validation_data: Any, split: float,
                       split_shuffle: bool, sample_weight: Any, class_weight: Any,
                       feature_names: Sequence[str] | None,
                       target_names: Sequence[str] | None) -> _TrainingData:
        """Everything ``fit`` trains on, checked; the network changes only at the end."""
        names = columns_of(X) or (list(feature_names) if feature_names is not None else None)
        X_arr = self._raw_inputs(X, "fit", feature_names)
        classes_before = self.classes
        try:
            Y = self._targets(y, "fit", learn=True)
            check_same_length(X_arr, Y, "fit")
            W = _weights(sample_weight, class_weight, y, self, X_arr.shape[0])
            val = None
            if validation_data is not None:
                if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
                    raise ValueError("fit: validation_data must be a pair (X_val, y_val)")
                Xv = self._raw_inputs(validation_data[0], "fit validation_data",
                                      feature_names)
                Yv = self._targets(validation_data[1], "fit validation_data")
                check_same_length(Xv, Yv, "fit validation_data")
                val = (Xv, Yv)
            elif split:
                X_arr, Y, W, val = _split(X_arr, Y, W, split, split_shuffle,
                                          self.loss.classification,
                                          np.random.default_rng(self._split_seed))
            if W is not None and not W.any():
                msg = ("fit: the weight (sample_weight, class_weight) of every training "
                       "sample is zero; there is nothing to learn from")
                raise ValueError(msg)
        except ValueError:
            self.classes = classes_before
            raise
        # Validated: from here on, state changes.
        if self.feature_names is None and names is not None:
            self.feature_names = list(names)
        learned_targets = names_of(y) or (list(target_names) if target_names else None)
        if self.target_names is None and learned_targets is not None:
            self.target_names = learned_targets
        if self.scaler is None and self.spec.standardize:
            self.scaler = Standardizer.fit(X_arr if self.spec.scales_inputs else None,
                                           Y if self.spec.scales_targets else None,
                                           weights=W)
        if self.scaler is not None:
            X_arr, Y = self.scaler.transform_x(X_arr), self.scaler.transform_y(Y)
            if val is not None:
                val = (self.scaler.transform_x(val[0]), self.scaler.transform_y(val[1]))
        return _TrainingData(np.ascontiguousarray(X_arr, self.dtype),
                             np.ascontiguousarray(Y, self.dtype), W, val)

    def _streamed_data(self, X: Any, y: Any, validation_data: Any, split: float,
                       split_shuffle: bool, sample_weight: Any, class_weight: Any,
                       batch_size: int | None, window: int | None) -> _TrainingData:
        """``fit``'s data as row sources read block by block (memory maps, Dask arrays),
        checked in one streaming pass that also gives the standardization statistics."""
        xs, ys = as_source(X), as_source(y)
        if X.ndim != 2 or xs.width != self.n_inputs or xs.dtype.kind not in "iuf":
            raise ValueError(f"fit: expected X of shape (n_samples, {self.n_inputs}) holding "
                             f"numbers (got {X.shape} {X.dtype})")
        if ys.width != self.n_outputs or ys.dtype.kind not in "iuf" or y.ndim not in (1, 2):
            msg = (f"fit: expected y of shape (n_samples, {self.n_outputs}) holding numbers "
                   f"(got {y.shape} {y.dtype})")
            if self.loss.classification:
                msg += "; streamed targets of a classifier are one-hot (or 0/1) columns"
            raise ValueError(msg)
        if xs.n != ys.n:
            raise ValueError(f"fit: X has {xs.n} samples but y has {ys.n}; they must match")
        if class_weight is not None or split_shuffle:
            raise ValueError("fit: class_weight and validation_shuffle need data in memory; "
                             "pass sample_weight, or a validation split of the last rows")
        W = _weights(sample_weight, None, None, self, xs.n)
        val = None
        if validation_data is not None:
            val = (self._raw_inputs(np.asarray(validation_data[0]), "fit validation_data"),
                   self._targets(np.asarray(validation_data[1]), "fit validation_data"))
        elif split:
            n_val = round(xs.n * split)
            if not 1 <= n_val < xs.n:
                raise ValueError(f"fit: validation_split={split} of {xs.n} samples leaves an "
                                 "empty training or validation set")
            cut = xs.n - n_val
            val = (self._raw_inputs(np.asarray(X[cut:]), "fit validation_split"),
                   self._targets(np.asarray(y[cut:]), "fit validation_split"))
            X, y, W = X[:cut], y[:cut], None if W is None else W[:cut]
            xs, ys = as_source(X), as_source(y)
        # one pass over each: finite values, and the statistics when standardizing
        scaler = self.scaler
        fitting = scaler is None and bool(self.spec.standardize)
        x_stats = column_stats(X, self.dtype, "fit X", W)
        y_stats = column_stats(y, self.dtype, "fit y", W)
        # Validated: from here on, state changes.
        if fitting:
            scaler = self.scaler = Standardizer(
                *(x_stats if self.spec.scales_inputs else (None, None)),
                *(y_stats if self.spec.scales_targets else (None, None)))
        if scaler is not None and val is not None:
            val = (scaler.transform_x(val[0]), scaler.transform_y(val[1]))
        rows = window or window_rows(xs.width + ys.width, batch_size or xs.n)
        return _TrainingData(X, y, W, val, streamed=(xs, ys, rows))

    def _train(self, data: _TrainingData, epochs: int, batch_size: int | None, shuffle: bool,
               callbacks: list[Any]) -> History:
        loop = self.loop
        loop.start_run()
        batches: Batches | StreamedBatches
        if data.streamed is not None:
            xs, ys, rows = data.streamed
            scaler = self.scaler
            batches = StreamedBatches(
                loop, xs, ys, data.W, batch_size, shuffle, rows,
                None if scaler is None or scaler.x_mean is None else (scaler.x_mean,
                                                                      scaler.x_std),
                None if scaler is None or scaler.y_mean is None else (scaler.y_mean,
                                                                      scaler.y_std))
        else:
            batches = Batches(loop, data.X, data.Y, data.W, batch_size, shuffle)
        history = self.history = History()
        self.stop_training = False
        hooks = CallbackList(callbacks, self)
        plan = TrainingPlan(self.epoch + epochs, len(batches))
        hooks.call("on_train_begin", {"epochs": epochs, "initial_epoch": self.epoch,
                                      "steps_per_epoch": len(batches), "plan": plan})
        caller_errstate = np.geterr()

        def call(hook: str, *args: Any) -> None:  # callbacks run under the caller's settings
            if hooks.callbacks:
                with np.errstate(**caller_errstate):
                    hooks.call(hook, *args)

        # NumPy's floating-point warnings are silenced for the loop, once (entering
        # errstate per epoch costs more than a small epoch's step): a blow-up is
        # reported as a DivergenceError instead.
        with deferred_interrupt() as flag, np.errstate(all="ignore"):
            for _ in range(epochs):
                epoch = self.epoch
                call("on_epoch_begin", epoch, {"step": loop.position.step})
                loss = loop.run_epoch(batches, flag, hooks.batch_begin, hooks.batch_end)
                logs = self._epoch_logs(loss, data)
                history.record(epoch, logs)
                call("on_epoch_end", epoch, logs)
                if flag.requested:
                    raise KeyboardInterrupt
                if self.stop_training:
                    break
        hooks.call("on_train_end", {"epochs_trained": len(history.loss)})
        self._check_convergence(history, data)
        return history

    def _epoch_logs(self, loss: float, data: _TrainingData) -> dict[str, float]:
        logs = {"loss": loss}
        if self.metrics and data.streamed is None:  # streamed data: validation metrics only
            logs.update(self._metric_values(data.Y, self._forward(data.X)))
        if data.val is not None:
            Xv, Yv = data.val
            pred = self._forward(Xv)
            logs["val_loss"] = float(self.loss.value(Yv, pred))
            for name, value in self._metric_values(Yv, pred).items():
                logs[f"val_{name}"] = value
        return logs

    def _check_convergence(self, history: History, data: _TrainingData) -> None:
        """Warn when the run learned nothing: the training loss is no better than that of
        predicting every target column's mean (regression: the means; classification:
        the class frequencies), or it ended no better than it started.

        The first rule is the one docs/defaults.md measured: it fired on 59 of 135 bad
        fits and on none of 1,151 good ones; the second alone never fired there.
        """
        losses = history.loss
        if not losses:
            return
        rate = getattr(self.optimizer, "learning_rate", None)
        rate_text = f"{rate:g}" if isinstance(rate, float | int) else None
        classifier = self.loss.classification
        scale_hint = ('standardize = "inputs"' if classifier
                      else "standardize = true (targets far from 0 take many steps)")
        scaled = self.spec.scales_inputs if classifier else self.spec.scales_targets
        if len(losses) >= MIN_EPOCHS_FOR_WARNING:
            found = self._loss_against_constant(data, losses[-1])
            if found is not None and found[1] > 0.0 and found[0] >= found[1]:
                final, constant = found
                hints = [] if scaled else [scale_hint]
                hints.append("more epochs")
                if rate_text is not None:
                    hints.append(f"another learning rate than {rate_text}" if classifier
                                 else f"a larger learning rate than {rate_text}")
                baseline = ("predicting the class frequencies" if classifier
                            else "predicting each target's mean")
                msg = (
                    f"fit: after {len(losses)} epochs the training loss ({final:.4g}) is no "
                    f"better than {baseline} ({constant:.4g}): the network has not learned "
                    f"from its inputs; try {', '.join(hints[:-1])} or {hints[-1]}"
                )
                warnings.warn(ConvergenceWarning(msg), stacklevel=4)
                return
        if len(losses) < 2 or losses[-1] < losses[0]:
            return
        rising = losses[-1] > 1.5 * losses[0]  # clearly worse, not a loss that barely moved
        hints = []
        if not self.spec.scales_inputs:
            hints.append('standardize = "inputs"' if classifier
                         else 'standardize = true (or "inputs")')
        if rate_text is not None:
            hints.append(f"a smaller learning rate than {rate_text}" if rising
                         else f"a larger learning rate than {rate_text} or more epochs")
        msg = (
            f"fit: the training loss ended no better than it started ({losses[0]:.4g} in the "
            f"first epoch, {losses[-1]:.4g} in the last of {len(losses)}); try "
            + " or ".join(hints or ["another optimizer"])
        )
        warnings.warn(ConvergenceWarning(msg), stacklevel=4)

    def _loss_against_constant(self, data: _TrainingData,
                               last_epoch: float) -> tuple[float, float] | None:
        """The training loss now (inference mode) and that of predicting the column means
        (for one-hot targets: the class frequencies), on the scale training uses and
        weighted as training weighs the samples. ``None`` when there is no bar: a
        classification loss whose outputs are not probabilities (logits: the means are no
        prediction), or one target value (one class), which the constant predicts exactly.

        The forward pass over the training data is skipped when the last epoch's loss
        (measured during training) is under half the constant's: that run has learned.
        """
        Y, W = data.Y, data.W
        if W is not None and not float(W.sum()) > 0.0:
            return None
        counted = Y if W is None else Y[W > 0]
        if (counted == counted[:1]).all():
            return None
        means = (Y.mean(axis=0) if W is None else np.average(Y, axis=0, weights=W))
        means = means.reshape(1, -1).astype(Y.dtype)
        if self.loss.classification:
            as_probabilities = self.loss.probabilities(means)
            if as_probabilities.shape != means.shape or not np.allclose(as_probabilities,
                                                                        means):
                return None
        constant = self._mean_loss(Y, W, lambda start, stop: np.broadcast_to(
            means, (stop - start, means.shape[1])))
        if last_epoch < 0.5 * constant:
            return last_epoch, constant
        final = self._mean_loss(Y, W, lambda start, stop: self._forward(data.X[start:stop]))
        return final, constant

    def _mean_loss(self, Y: Any, W: np.ndarray | None,
                   predict: Callable[[int, int], np.ndarray], chunk: int = 4096) -> float:
        """The (weighted) mean loss of ``predict(start, stop)`` against ``Y``, in chunks
        of rows, so no full-size prediction is kept."""
        n = Y.shape[0]
        total = float(W.sum()) if W is not None else float(n)
        mean = 0.0
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            y, pred = Y[start:stop], predict(start, stop)
            if W is None:
                mean += (stop - start) / total * float(self.loss.value(y, pred))
            else:
                mean += float(W[start:stop] @ self.loss.sample_losses(y, pred)) / total
        return mean

    def restart_epoch(self) -> None:
        """Abandon an unfinished epoch (after an interrupt) so ``fit`` starts a fresh one."""
        p = self.loop.position
        self.loop.position = Position(epoch=p.epoch, step=p.step)

    def gradients(self, X: Any, y: Any) -> tuple[float, list[np.ndarray]]:
        """The loss on ``(X, y)`` and its gradient, one array per weight, in order.

        The forward and backward pass of a training step, on the scale training uses,
        without changing anything (noise draws and running statistics are put back):
        for gradient checks, custom training loops and debugging.
        """
        Xs, ys = self._pair(X, y, "gradients")
        state = self._volatile_state()
        try:
            ws = self.loop.workspace(Xs.shape[0], tuple("C" for _ in range(len(self.layers) + 1)))
            loss = self.loop.backprop(Xs, ys, None, ws)
        finally:
            self._restore_volatile(state)
        if not math.isfinite(loss):
            msg = f"gradients: the loss is {loss} on this data; its gradient is undefined"
            raise DivergenceError(msg)
        return loss, [g.copy() for g in self.loop.gradients]

    def _volatile_state(self) -> tuple[Any, ...]:
        return (self.loop.noise_rng.bit_generator.state,
                [{k: np.array(v) for k, v in layer.state_dict().items()} for layer in self.layers])

    def _restore_volatile(self, state: tuple[Any, ...]) -> None:
        self.loop.noise_rng.bit_generator.state = state[0]
        for layer, layer_state in zip(self.layers, state[1], strict=True):
            layer.load_state_dict(layer_state)

    # -- state -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything a resume needs besides the spec, as named plain arrays.

        Weights, layer state, optimizer state, the training position and random
        streams (``TrainingLoop.state_dict``), plus the scaler statistics, the classes
        and the column names. The arrays are the live ones: copy them to keep them.
        """
        out = self.loop.state_dict()
        if self.scaler is not None:
            for key, value in self.scaler.state_dict().items():
                out[f"scaler/{key}"] = value
        if self.classes is not None:
            out["classes"] = self.classes
        if self.feature_names is not None:
            out["names/features"] = np.array(self.feature_names, dtype=str)
        if self.target_names is not None:
            out["names/targets"] = np.array(self.target_names, dtype=str)
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what ``state_dict`` returned; everything is checked before anything
        changes, and a ``ValueError`` (``ModelFileError`` from files) says what is wrong."""
        restore = _StateReader(self, state).read()
        restore()

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write one ``.npz`` file holding everything needed to continue training.

        Atomic: on any failure a previous file at ``path`` is left as it was.
        """
        try:
            state = self.state_dict()
        except ValueError as exc:
            raise ModelFileError(f"{os.fspath(path)}: refusing to save: {exc}") from None
        io.write_model(path, self._header(), state)

    def to_bytes(self) -> bytes:
        """The model file's bytes (what ``save`` writes): for pickling wrappers, caches and
        transfers; ``npframe.from_bytes`` reads them, with every check ``load`` makes."""
        with tempfile.TemporaryDirectory(prefix="npframe-") as folder:
            path = Path(folder) / "model.npz"
            self.save(path)
            return path.read_bytes()

    def _header(self) -> dict[str, Any]:
        components = [
            {"kind": kind, "path": where, "name": ref.name, "qualified": entry.qualified_name,
             "distribution": entry.distribution, "version": entry.version}
            for kind, where, ref, entry in self.blueprint.entries]
        return {"spec": self.to_spec(), "components": components}


@attrs.frozen
class _TrainingData:
    X: Any
    Y: Any
    W: np.ndarray | None
    val: tuple[np.ndarray, np.ndarray] | None
    #: For data read block by block: the X and y sources and the shuffle window rows.
    streamed: tuple[RowSource, RowSource, int] | None = None


def _check_fit_args(epochs: Any, batch_size: Any, validation_split: Any) -> None:
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


def _weights(sample_weight: Any, class_weight: Any, y: Any, net: Network,
             n: int) -> np.ndarray | None:
    """Per-sample weights: ``sample_weight`` times the class weight of each label."""
    if sample_weight is None and class_weight is None:
        return None
    w = np.ones(n, np.float64)
    if sample_weight is not None:
        sw = np.asarray(as_array(sample_weight))
        if sw.dtype.kind not in "iuf" or sw.ndim != 1 or sw.shape[0] != n:
            msg = (f"fit: sample_weight must be {n} non-negative numbers, one per sample "
                   f"(got an array of shape {sw.shape}, dtype {sw.dtype})")
            raise ValueError(msg)
        if not np.isfinite(sw).all() or (sw < 0).any():
            raise ValueError("fit: sample_weight must be finite and >= 0")
        w *= sw
    if class_weight is not None:
        if not net.loss.classification or net.classes is None:
            msg = ("fit: class_weight needs a classification loss and class labels as "
                   "targets (one label per sample)")
            raise ValueError(msg)
        labels = as_labels(as_array(y), "fit")
        w *= _class_weights(class_weight, net.classes, labels)
    return w.astype(net.dtype)


def _class_weights(class_weight: Any, classes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    index = np.searchsorted(classes, labels)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"fit: class_weight must be a mapping or 'balanced' "
                             f"(got {class_weight!r})")
        counts = np.bincount(index, minlength=len(classes))
        per_class = len(labels) / (len(classes) * np.maximum(counts, 1))
        return per_class[index]
    if not isinstance(class_weight, Mapping):
        raise ValueError(f"fit: class_weight must be a mapping label -> weight or 'balanced' "
                         f"(got {type(class_weight).__name__})")
    by_text = {str(c): i for i, c in enumerate(classes.tolist())}
    per_class = np.ones(len(classes))
    for label, weight in class_weight.items():
        i = by_text.get(str(label))
        if i is None:
            raise ValueError(f"fit: class_weight names {label!r}, which is not a class "
                             f"({', '.join(by_text)})")
        if isinstance(weight, bool) or not isinstance(weight, int | float | np.integer
                                                      | np.floating) or not weight >= 0 \
                or not math.isfinite(weight):
            raise ValueError(f"fit: class_weight[{label!r}] must be a number >= 0 "
                             f"(got {weight!r})")
        per_class[i] = float(weight)
    return per_class[index]


def _split(X: np.ndarray, Y: np.ndarray, W: np.ndarray | None, split: float, shuffled: bool,
           stratify: bool, generator: np.random.Generator) -> tuple[Any, ...]:
    """Hold out ``split`` of the samples: the last rows, or a seeded (stratified) draw."""
    n = X.shape[0]
    n_val = round(n * split)
    if n_val < 1 or n_val >= n:
        msg = (f"fit: validation_split={split} of {n} samples leaves an empty training or "
               "validation set")
        raise ValueError(msg)
    if not shuffled:
        train, val = np.arange(n - n_val), np.arange(n - n_val, n)
    else:
        if stratify:
            groups = np.argmax(Y, axis=1) if Y.shape[1] > 1 else (Y[:, 0] > 0.5).astype(int)
            picks = []
            for g in np.unique(groups):
                members = np.flatnonzero(groups == g)
                k = round(len(members) * split)
                picks.append(generator.permutation(members)[:k])
            val = np.sort(np.concatenate(picks))
            if not 1 <= len(val) < n:
                raise ValueError("fit: the stratified validation split is empty; use a larger "
                                 "validation_split")
        else:
            val = np.sort(generator.permutation(n)[:n_val])
        mask = np.ones(n, bool)
        mask[val] = False
        train = np.flatnonzero(mask)
    W_train = None if W is None else W[train]
    return X[train], Y[train], W_train, (X[val], Y[val])


def _checked_weight(array: np.ndarray, like: np.ndarray, name: str, where: str,
                    dtype: np.dtype) -> np.ndarray:
    if array.shape != like.shape:
        hint = (" (transposed? W is (fan_in, fan_out))"
                if array.ndim == 2 and array.shape == like.shape[::-1] else "")
        raise ValueError(f"{where}: {name} must have shape {like.shape}, got {array.shape}{hint}")
    if array.dtype.kind not in "iuf":  # no bools, complex, strings or objects
        raise ValueError(f"{where}: {name} must hold real numbers (got dtype {array.dtype})")
    if not np.isfinite(array).all():
        bad = tuple(int(j) for j in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{where}: {name} holds {array[bad]} at {bad}; weights must be finite")
    return cast(array, dtype, name, where)


class _StateReader:
    """Checks a state dict against a network completely, then applies it in one go."""

    def __init__(self, net: Network, state: Mapping[str, Any]) -> None:
        self.net = net
        self.state = dict(state)
        self.used: set[str] = set()

    def take(self, key: str) -> np.ndarray:
        if key not in self.state:
            raise ValueError(f"member {key!r} is missing")
        self.used.add(key)
        value = self.state[key]
        if not isinstance(value, np.ndarray):
            value = np.asarray(value)
        return value

    def optional(self, key: str) -> np.ndarray | None:
        return self.take(key) if key in self.state else None

    def int_scalar(self, key: str, default: int | None = None) -> int:
        if default is not None and key not in self.state:
            return default
        value = self.take(key)
        if value.shape != () or value.dtype.kind not in "iu":
            raise ValueError(f"member {key!r} must be an integer scalar "
                             f"(got {value.dtype} {value.shape})")
        number = int(value)
        if not 0 <= number <= _MAX_COUNT:
            raise ValueError(f"member {key!r} must be in [0, 2**53] (got {number})")
        return number

    def float_scalar(self, key: str, default: float) -> float:
        if key not in self.state:
            return default
        value = self.finite(key, self.take(key))
        if value.shape != () or value.dtype.kind not in "iuf":
            raise ValueError(f"member {key!r} must be a real scalar (got {value.dtype} "
                             f"{value.shape})")
        return float(value)

    def text(self, key: str) -> str:
        value = self.take(key)
        if value.dtype.kind != "U" or value.shape != ():
            raise ValueError(f"member {key!r} must be a unicode string (got {value.dtype} "
                             f"{value.shape})")
        return str(value[()])

    def finite(self, key: str, value: np.ndarray) -> np.ndarray:
        if value.dtype.kind not in "biuf" or value.dtype.fields is not None:
            raise ValueError(f"member {key!r} must hold plain numbers (got {value.dtype})")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ValueError(f"member {key!r} holds NaN or inf")
        return value

    def read(self) -> Any:
        net = self.net
        loop = net.loop
        weights = []
        for i, params in enumerate(loop.params, start=1):
            for name, like in params.items():
                key = f"weights/{i}/{name}"
                value = self.take(key)
                if value.dtype != net.dtype:
                    raise ValueError(f"member {key!r} has dtype {value.dtype}, but the spec's "
                                     f"dtype is {net.dtype}")
                weights.append((like, _checked_weight(value, like, key, "state", net.dtype)))
        layer_states = []
        for i in range(1, len(net.layers) + 1):
            prefix = f"layers/{i}/"
            own = {k[len(prefix):]: self.finite(k, self.take(k)) for k in list(self.state)
                   if k.startswith(prefix)}
            layer_states.append(own)
        optimizer = {k[len("optimizer/"):]: self.finite(k, self.take(k))
                     for k in list(self.state) if k.startswith("optimizer/")}
        position = Position(
            epoch=self.int_scalar("training/epoch"),
            step=self.int_scalar("training/step", 0),
            batch=self.int_scalar("training/batch", 0),
            loss_sum=self.float_scalar("training/loss_sum", 0.0),
            epoch_rng=self.text("training/epoch_rng") if "training/epoch_rng" in self.state
            else None,
            epoch_samples=self.int_scalar("training/epoch_samples", 0),
            epoch_batches=self.int_scalar("training/epoch_batches", 0),
        )
        if position.batch and not 0 < position.batch < position.epoch_batches:
            raise ValueError(f"the training position is inconsistent (batch {position.batch} "
                             f"of an epoch of {position.epoch_batches})")
        rngs = [(loop.shuffle_rng, self.text("training/shuffle_rng"), "training/shuffle_rng")]
        if "training/noise_rng" in self.state:
            rngs.append((loop.noise_rng, self.text("training/noise_rng"), "training/noise_rng"))
        probes = [np.random.default_rng() for _ in rngs]
        for probe, (_, text, key) in zip(probes, rngs, strict=True):
            set_rng_state(probe, text, f"member {key!r}")
        if position.epoch_rng is not None:
            set_rng_state(np.random.default_rng(), position.epoch_rng,
                          "member 'training/epoch_rng'")
        scaler = self._scaler()
        classes = self.optional("classes")
        if classes is not None:
            classes = self._classes(classes)
        names = {key: self._names(key, labels=classes is not None)
                 for key in ("names/features", "names/targets")}
        unused = sorted(set(self.state) - self.used)
        if unused:
            raise ValueError(f"unexpected member(s) {', '.join(map(repr, unused[:5]))}")
        self._try_components(layer_states, optimizer)

        def apply() -> None:
            for like, value in weights:
                like[...] = value
            for rng, text, key in rngs:
                set_rng_state(rng, text, key)
            loop.position = position
            net.scaler = scaler
            net.classes = classes
            net.feature_names = names["names/features"]
            net.target_names = names["names/targets"]

        return apply

    def _try_components(self, layer_states: list[dict[str, np.ndarray]],
                        optimizer: dict[str, np.ndarray]) -> None:
        """Hand the optimizer and layers their state; put everything back if one refuses."""
        net = self.net
        saved_opt = {k: np.array(v) for k, v in net.optimizer.state_dict().items()}
        saved_layers = [{k: np.array(v) for k, v in layer.state_dict().items()}
                        for layer in net.layers]
        try:
            try:
                net.optimizer.load_state_dict(optimizer)
            except Exception as exc:
                raise ValueError(f"optimizer {net.spec.optimizer.name!r} rejected the saved "
                                 f"state: {type(exc).__name__}: {exc}") from None
            for i, (layer, state) in enumerate(zip(net.layers, layer_states, strict=True)):
                try:
                    layer.load_state_dict(state)
                except Exception as exc:
                    raise ValueError(f"layers[{i}] ({net.spec.layers[i].type}) rejected the "
                                     f"saved state: {type(exc).__name__}: {exc}") from None
        except ValueError:
            net.optimizer.load_state_dict(saved_opt)
            for layer, state in zip(net.layers, saved_layers, strict=True):
                layer.load_state_dict(state)
            raise
        net.loop.forget_workspaces()

    def _scaler(self) -> Standardizer | None:
        spec, net = self.net.spec, self.net
        present = {k[len("scaler/"):] for k in self.state if k.startswith("scaler/")}
        if not present:
            return None
        wanted = ({"x_mean", "x_std"} if spec.scales_inputs else set()) | (
            {"y_mean", "y_std"} if spec.scales_targets else set())
        if not wanted:
            raise ValueError(f"holds scaler statistics but the spec has standardize = "
                             f"{json.dumps(spec.standardize)}")
        for key in sorted(wanted - present):
            raise ValueError(f"member 'scaler/{key}' is missing")
        for key in sorted(present - wanted):
            raise ValueError(f"member 'scaler/{key}' does not match standardize = "
                             f"{json.dumps(spec.standardize)}")
        stats = {}
        for key in sorted(present):
            size = net.n_inputs if key[0] == "x" else net.n_outputs
            value = self.take(f"scaler/{key}")
            if value.shape != (size,) or value.dtype != net.dtype:
                raise ValueError(f"member 'scaler/{key}' must be ({size},) {net.dtype} "
                                 f"(got {value.shape} {value.dtype})")
            self.finite(f"scaler/{key}", value)
            if key.endswith("std") and not (value > 0).all():
                raise ValueError(f"member 'scaler/{key}' must be positive")
            stats[key] = value
        return Standardizer.from_state(stats)

    def _classes(self, classes: np.ndarray) -> np.ndarray:
        if classes.ndim != 1 or classes.dtype.kind not in "biufU" or len(classes) < 1:
            raise ValueError(f"member 'classes' must be a 1-D array of labels (got "
                             f"{classes.dtype} {classes.shape})")
        if len(np.unique(classes)) != len(classes) or (np.sort(classes) != classes).any():
            raise ValueError("member 'classes' must hold distinct labels, sorted")
        try:
            learn_classes(classes, self.net.n_outputs, "member 'classes'")
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        return classes

    def _names(self, key: str, labels: bool = False) -> list[str] | None:
        value = self.optional(key)
        if value is None:
            return None
        size = self.net.n_inputs if key.endswith("features") else self.net.n_outputs
        # a classifier trained on a label column names that one column
        sizes = (size, 1) if labels and key.endswith("targets") else (size,)
        if value.dtype.kind != "U" or value.ndim != 1 or value.shape[0] not in sizes:
            raise ValueError(f"member {key!r} must be {' or '.join(map(str, sizes))} "
                             f"strings (got {value.dtype} {value.shape})")
        return [str(v) for v in value.tolist()]


# -- loading ---------------------------------------------------------------------------------
def from_bytes(data: bytes, *, registry: Registry | None = None) -> Network:
    """A network from ``Network.to_bytes()``; exactly as safe as ``load`` (it is ``load``)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"from_bytes: expected bytes (got {type(data).__name__})")
    with tempfile.TemporaryDirectory(prefix="npframe-") as folder:
        path = Path(folder) / "model.npz"
        path.write_bytes(bytes(data))
        try:
            return load(path, registry=registry)
        except ModelFileError as exc:
            raise ModelFileError(str(exc).replace(str(path), "<bytes>")) from None

def load(path: str | os.PathLike[str], *, registry: Registry | None = None) -> Network:
    """Read a model written by ``Network.save``; never unpickles, never allocates more
    than the spec it holds calls for.

    Raises ``FileNotFoundError`` (an ``OSError``) for a missing file, ``ModelFileError``
    (a ``ValueError``) for anything that is not a valid model file, and ``SpecError``
    when the model needs a component that is not registered (a plugin that is not
    installed, which the message names). Either the whole network comes back or an
    exception does.
    """
    registry = registry or default_registry()
    with io.open_model(path) as model:
        try:
            NetworkSpec.from_mapping(model.header["spec"])  # its structure, before its records
            spec = NetworkSpec.from_mapping(_requalified(model.header, registry, model.path))
        except UnknownComponentError:
            raise
        except SpecError as exc:
            raise ModelFileError(f"{model.path}: the stored spec is invalid: {exc}") from None
        try:
            blueprint = assemble(spec, registry, check_dataset=False)
            blueprint.check_fits()
        except SpecError as exc:
            raise type(exc)(f"{exc.reason} (in the spec stored in {model.path})",
                            exc.path) from None
        _check_declared_weights(model, blueprint)  # before the network is allocated
        net = Network(spec, registry=registry, check_dataset=False, _blueprint=blueprint)
        state = model.read_state(_expected_members(net), budget=_state_budget(net))
    try:
        net.load_state_dict(state)
    except ValueError as exc:
        raise ModelFileError(f"{model.path}: {exc}") from None
    return net


def _component_records(header: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What the model says it needs: recorded (format 2), or read off a format-1 spec,
    whose networks are dense only."""
    if header.get("components"):
        return list(header["components"])
    spec = header["spec"]
    if not isinstance(spec, Mapping) or not isinstance(spec.get("layers"), list):
        return []
    records = []

    def add(kind: str, path: str, ref: Any) -> None:
        name = ref.get("name") if isinstance(ref, Mapping) else ref
        if isinstance(name, str):
            records.append({"kind": kind, "path": path, "name": name, "qualified": name})

    for i, layer in enumerate(spec["layers"]):
        if isinstance(layer, Mapping):
            add("activation", f"layers[{i}].activation", layer.get("activation"))
            if layer.get("initializer") is not None:
                add("initializer", f"layers[{i}].initializer", layer["initializer"])
    for key in ("loss", "initializer", "optimizer", "schedule"):
        if spec.get(key) is not None:
            add(key, key, spec[key])
    for i, metric in enumerate(spec.get("metrics") or []):
        add("metric", f"metrics[{i}]", metric)
    return records


def _requalified(header: Mapping[str, Any], registry: Registry, path: Any) -> Any:
    """The stored spec, with each plugin component pinned to the distribution that
    provided it when the model was saved (a bare name may have become ambiguous).

    Every missing component is named in one error (with ``pip install`` of its
    distribution when the file records it); a different version of a distribution
    gets a ``PluginWarning``.
    """
    spec = header["spec"]
    missing: list[tuple[dict[str, Any], str]] = []
    for record in _component_records(header):
        kind, name, qualified = record["kind"], record["name"], record["qualified"]
        _check_record(spec, record, path)
        if kind == "dataset":
            continue  # what it was trained on; using or resuming the model needs no dataset
        dist, version = record.get("distribution"), record.get("version")
        try:  # in-process registrations have no distribution to pin: by bare name
            entry = registry.entry(kind, qualified if dist else name)
        except SpecError as exc:
            missing.append((record, exc.reason))
            continue
        if version and entry.version and entry.version != version:
            warnings.warn(PluginWarning(
                f"{path}: {kind} {name!r} was saved with {dist} {version}; {entry.provider} "
                "is installed, which may compute differently"), stacklevel=3)
        if ":" not in name and _means_another(registry, kind, name, entry):
            spec = _with_name(spec, record["path"], qualified)
    if missing:
        record, reason = missing[0]
        dist = record.get("distribution")
        need = f"{record['kind']} {record['name']!r}"
        installed = dist is not None and any(
            s.key == normalize(dist) for s in registry.sources())
        if dist is None:
            how = (f"a plugin providing it must be installed (pip install the distribution "
                   f"that registers {need})")
        elif installed:
            how = (f"it was saved with {dist} {record.get('version') or ''}".rstrip()
                   + f", and the installed {dist} does not register it (install the version "
                   "the model was saved with)")
        else:
            how = (f"it comes from {dist} {record.get('version') or ''}".rstrip()
                   + f", which is not installed: pip install {dist}")
        others = "".join(f"; also missing: {r['kind']} {r['name']!r} ({r['path']})"
                         for r, _ in missing[1:])
        raise UnknownComponentError(f"{reason}. The model {path} needs {need}: {how}{others}",
                                    record["path"])
    return spec


def _check_record(spec: Any, record: Mapping[str, Any], path: Any) -> None:
    """A component record must name a known kind and the component the stored spec has
    at its path: it pins that component, so a corrupt one must not rename another."""
    kind, where, name = record["kind"], record["path"], record["name"]
    if kind not in KINDS:
        raise ModelFileError(
            f"{path}: member 'components' records a component of kind {kind!r:.40}, which "
            f"this npframe ({io.__version__}) does not know (kinds: {', '.join(KINDS)}); the "
            "file was written by a newer npframe, or is corrupt")
    found = _component_at(spec, where)
    if found != name:
        has = f"has {found!r}" if found is not None else "has no component"
        raise ModelFileError(
            f"{path}: member 'components' records {kind} {name!r:.60} at {where!r:.60}, "
            f"where the stored spec {has}; the file is corrupt")
    if record["qualified"].rpartition(":")[2] != name.rpartition(":")[2]:
        raise ModelFileError(
            f"{path}: member 'components' pins {kind} {name!r:.60} at {where!r:.60} to "
            f"{record['qualified']!r:.60}, another component; the file is corrupt")


def _component_at(spec: Any, where: str) -> str | None:
    """The name of the component at spec path ``where`` (``layers[1].activation``), or
    ``None`` when the path leads nowhere or to something that names no component."""
    parts = where.replace("[", ".").replace("]", "").split(".")
    node = spec
    try:
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        last = parts[-1]
        if last == "type" and isinstance(node, Mapping):
            value = node.get("type", "dense")  # a layer's own name; dense when left out
        else:
            value = node[int(last)] if last.isdigit() else node[last]
    except (LookupError, TypeError, ValueError):
        return None
    if isinstance(value, Mapping):
        value = value.get("name")
    return value if isinstance(value, str) else None


def _means_another(registry: Registry, kind: str, name: str, entry: Any) -> bool:
    """Whether the bare ``name`` no longer means ``entry`` (ambiguous, or another now)."""
    try:
        return registry.entry(kind, name).qualified_name != entry.qualified_name
    except SpecError:
        return True


def _with_name(spec: Any, path: str, name: str) -> Any:
    """``spec`` (plain data) with the component at ``path`` renamed (a copy)."""
    spec = json.loads(json.dumps(spec))
    parts = path.replace("[", ".").replace("]", "").split(".")
    node = spec
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    key: Any = int(last) if last.isdigit() else last
    if last == "type":  # a layer's own name
        node["type"] = name
    elif isinstance(node[key], dict):
        node[key]["name"] = name
    else:
        node[key] = name
    return spec


def _check_declared_weights(model: io.ModelFile, blueprint: Blueprint) -> None:
    """The file must declare every weight the spec calls for, at its full size, before
    the network is allocated: a small file whose spec describes a large network cannot
    make ``load`` allocate (and initialize) it only to find the weights missing. A
    declaration is bounded by the file's size (stored) or about 1000 times it
    (deflated), and ``read_state`` holds the data to it."""
    itemsize = blueprint.dtype.itemsize
    for i, layer in enumerate(blueprint.shapes):
        for name, shape in layer.items():
            key = f"weights/{i + 1}/{name}"
            need = math.prod(shape) * itemsize
            declared = model.members.get(key)
            if declared is None:
                raise ModelFileError(f"{model.path}: member {key!r} is missing; the file is "
                                     "incomplete or not an npframe model")
            if declared < need:
                raise ModelFileError(
                    f"{model.path}: member {key!r} declares {format_bytes(declared)}, but "
                    f"layers[{i}] of the stored spec needs {format_bytes(need)} for its "
                    f"{shape} {blueprint.dtype} {name!r}; the file does not hold the network "
                    "its spec describes")


def _expected_members(net: Network) -> dict[str, tuple[tuple[int, ...], np.dtype] | None]:
    """What a model file of this network holds: exact shapes where they are known."""
    expected: dict[str, tuple[tuple[int, ...], np.dtype] | None] = {}
    for key, value in net.loop.state_dict().items():
        if key.startswith(("weights/", "layers/")):
            expected[key] = (value.shape, value.dtype)
    for key in ("x_mean", "x_std", "y_mean", "y_std"):
        size = net.n_inputs if key[0] == "x" else net.n_outputs
        expected[f"scaler/{key}"] = ((size,), net.dtype)
    return expected


def _state_budget(net: Network) -> int:
    """Bytes a model file of this network may decompress: its weights and layer state,
    optimizer state of up to four times the weights, and a little for the rest."""
    weights = net.n_parameters * net.dtype.itemsize
    return 5 * weights + 64 * 2**20 + 16 * (net.n_inputs + net.n_outputs) * 2**10
