"""Callbacks: code that runs at the edges of training, Keras-style.

A callback is any object with some of ``set_network``, ``on_train_begin(logs)``,
``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch, logs)``, ``on_train_end(logs)``
and the per-step ``on_batch_begin(step, logs)`` / ``on_batch_end(step, logs)``;
missing methods are skipped, so subclassing ``Callback`` is a convenience, not a
requirement. ``epoch`` counts every epoch the network has trained, across ``fit``
calls and save/load, and ``step`` every optimizer step. Setting
``network.stop_training = True`` ends ``fit`` after the current epoch. Callbacks see
the network through its public attributes only (``optimizer``, ``base_learning_rate``,
``metrics``, ``get_weights``/``set_weights``, ``save``).

Per-step hooks cost a Python call per step, so ``fit`` calls them only on callbacks
that define them (and, for a callback with a ``wants_batches`` attribute, only when it
is true).
"""

from __future__ import annotations

import csv
import errno
import io
import os
import string
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from attrs import converters, define, field, validators

from npframe.interfaces import Schedule, TrainingPlan
from npframe.registry import default_registry

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
]

HOOKS = ("on_train_begin", "on_epoch_begin", "on_epoch_end", "on_train_end",
         "on_batch_begin", "on_batch_end")


class Callback:
    """Base class with no-op epoch hooks; ``self.network`` is set before training starts.

    Define ``on_batch_begin(step, logs)`` / ``on_batch_end(step, logs)`` to run per
    optimizer step (``logs``: ``epoch``, ``batch``, ``size``, and ``loss`` after it).
    """

    network: Any = None

    def set_network(self, network: Any) -> None:
        self.network = network

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        """Before the first epoch of a ``fit``."""

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        """Before ``epoch``'s first batch."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """After ``epoch``: ``logs`` holds ``loss``, ``val_loss`` and metrics."""

    def on_train_end(self, logs: dict[str, Any]) -> None:
        """After the last epoch (also when a callback stopped training)."""


@define
class History:
    """What ``fit`` returns: per-epoch values, in order."""

    #: Mean of each epoch's batch losses (Keras' convention).
    loss: list[float] = field(factory=list)
    #: The loss on ``validation_data`` after each epoch; empty without it.
    val_loss: list[float] = field(factory=list)
    #: Metric name (``"mae"``, ``"val_mae"``, ...) -> per-epoch values.
    metrics: dict[str, list[float]] = field(factory=dict)
    #: The global index of each recorded epoch.
    epochs: list[int] = field(factory=list)

    def record(self, epoch: int, logs: dict[str, float]) -> None:
        self.epochs.append(epoch)
        for key, value in logs.items():
            if key == "loss":
                self.loss.append(value)
            elif key == "val_loss":
                self.val_loss.append(value)
            else:
                self.metrics.setdefault(key, []).append(value)

    @property
    def history(self) -> dict[str, list[float]]:
        """Everything as one dict, as Keras' ``History.history``."""
        out = {"loss": self.loss}
        if self.val_loss:
            out["val_loss"] = self.val_loss
        out.update(self.metrics)
        return out


class CallbackList:
    """Dispatches each hook to the callbacks that define it, in order.

    ``batch_begin`` and ``batch_end`` list the per-step hooks to call (none, usually).
    """

    def __init__(self, callbacks: Iterable[Any], network: Any) -> None:
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            setter = getattr(cb, "set_network", None)
            if setter is not None:
                setter(network)
        self.batch_begin = self._per_step("on_batch_begin")
        self.batch_end = self._per_step("on_batch_end")

    def _per_step(self, hook: str) -> list[Callable[[int, dict[str, Any]], None]]:
        return [getattr(cb, hook) for cb in self.callbacks
                if callable(getattr(cb, hook, None)) and getattr(cb, "wants_batches", True)]

    def call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            method = getattr(cb, hook, None)
            if method is not None:
                method(*args)


def check_callbacks(callbacks: Any) -> list[Any]:
    """A list of callbacks, each defining at least one hook, or ``TypeError``."""
    if callbacks is None:
        return []
    if not isinstance(callbacks, Iterable) or isinstance(callbacks, str):
        callbacks = [callbacks]
    out = list(callbacks)
    for i, cb in enumerate(out):
        if isinstance(cb, type) or not any(callable(getattr(cb, h, None)) for h in HOOKS):
            msg = (
                f"fit: callbacks[{i}] ({type(cb).__name__}) defines none of "
                f"{', '.join(HOOKS)}; pass callback objects, not classes or functions"
            )
            raise TypeError(msg)
    return out


class ModelCheckpoint(Callback):
    """Save the network during ``fit``: every ``every`` epochs and/or when it improves.

    ``path`` must end in ``.npz`` and may contain ``{epoch}`` (epochs trained so far:
    1 after the first epoch, counting across ``fit`` calls and ``load``) and any key of
    the epoch's logs, e.g. ``"ckpt/{epoch:03d}-{val_loss:.4f}.npz"``. Files are written
    with ``Network.save``, so a crash mid-save never destroys the previous one.

    - ``every=K``: save after every K-th epoch (``epoch % K == 0``, global count, so a
      resumed run keeps the cadence). The default is 1 unless ``save_best_only``.
    - ``save_best_only=True``: save only when ``monitor`` (``"val_loss"``, ``"loss"`` or
      a metric such as ``"val_mae"``) beats the best value seen so far (``best``);
      with ``every`` too, only every K-th epoch is considered. ``mode`` is ``"min"``,
      ``"max"`` or ``"auto"`` (``"max"`` for metrics with ``greater_is_better``).
    """

    def __init__(self, path: str | os.PathLike[str], *, every: int | None = None,
                 save_best_only: bool = False, monitor: str = "val_loss",
                 mode: str = "auto") -> None:
        if not isinstance(path, str | os.PathLike) or not os.fspath(path):
            raise TypeError(f"ModelCheckpoint: path must be a str or os.PathLike (got {path!r})")
        text = str(os.fspath(path))
        if not text.lower().endswith(".npz"):
            msg = f"ModelCheckpoint: path must end in .npz (got {text!r})"
            raise ValueError(msg)
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
        except ValueError as exc:
            raise ValueError(f"ModelCheckpoint: bad placeholder in path {text!r}: {exc}") from None
        if any(not f or f[0].isdigit() for f in fields):
            msg = (
                f"ModelCheckpoint: path {text!r} has a positional placeholder; "
                "name it, e.g. {epoch} or {val_loss:.4f}"
            )
            raise ValueError(msg)
        if every is not None and (isinstance(every, bool) or not isinstance(every, int)
                                  or every < 1):
            raise ValueError(f"ModelCheckpoint: every must be an int >= 1 (got {every!r})")
        if not isinstance(save_best_only, bool):
            msg = f"ModelCheckpoint: save_best_only must be True or False (got {save_best_only!r})"
            raise TypeError(msg)
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"ModelCheckpoint: monitor must be a log name (got {monitor!r})")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"ModelCheckpoint: mode must be 'auto', 'min' or 'max' (got {mode!r})")
        self.path = text
        self.every = every if every is not None or save_best_only else 1
        self.save_best_only = save_best_only
        self.monitor = monitor
        self.mode = mode
        #: The best ``monitor`` value saved so far (``None`` before the first); set it to
        #: carry the record over into a resumed run.
        self.best: float | None = None
        #: Every file written, in order (a fixed path appears once per save).
        self.saved: list[str] = []

    def __repr__(self) -> str:
        return (
            f"ModelCheckpoint({self.path!r}, every={self.every}, "
            f"save_best_only={self.save_best_only}, monitor={self.monitor!r}, mode={self.mode!r})"
        )

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        """Fail before the first epoch, not after it, when the folder does not exist."""
        folder = Path(self.path).parent
        if "{" not in str(folder) and not folder.is_dir():
            msg = f"ModelCheckpoint: folder '{folder}' does not exist (create it first)"
            raise FileNotFoundError(errno.ENOENT, msg, self.path)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        trained = epoch + 1
        if self.every is not None and trained % self.every:
            return
        if self.save_best_only:
            value = self._monitored(logs)
            if not self._improves(value):
                return
            self.best = value
        self._save(trained, logs)

    def _monitored(self, logs: dict[str, float]) -> float:
        return _monitored_value("ModelCheckpoint", self.monitor, logs)

    def _improves(self, value: float) -> bool:
        if value != value:  # NaN never improves
            return False
        if self.best is None:
            return True
        maximize = _maximize(self.network, self.monitor, self.mode)
        return value > self.best if maximize else value < self.best

    def _save(self, trained: int, logs: dict[str, float]) -> None:
        try:
            target = self.path.format(**{**logs, "epoch": trained})
        except (KeyError, IndexError, ValueError) as exc:
            msg = (
                f"ModelCheckpoint: cannot fill path {self.path!r} ({type(exc).__name__}: {exc}); "
                f"available: epoch, {', '.join(sorted(logs))}"
            )
            raise ValueError(msg) from None
        self.network.save(target)
        self.saved.append(target)


# -- training control: early stopping, learning-rate changes, CSV logs -------------------
def _monitored_value(owner: str, monitor: str, logs: dict[str, float]) -> float:
    """``logs[monitor]`` as a float, or a ``ValueError`` that lists what is available."""
    if monitor not in logs:
        hint = " (pass validation_data or validation_split to fit, or monitor='loss')" if (
            monitor.startswith("val_")) else ""
        msg = (
            f"{owner}: monitor {monitor!r} is not in the epoch's logs "
            f"(available: {', '.join(sorted(logs)) or 'none'}){hint}"
        )
        raise ValueError(msg)
    return float(logs[monitor])


def _maximize(network: Any, monitor: str, mode: str) -> bool:
    """Whether larger ``monitor`` values are better; ``"auto"`` asks the metric itself."""
    if mode != "auto":
        return mode == "max"
    metric = (getattr(network, "metrics", None) or {}).get(monitor.removeprefix("val_"))
    return bool(getattr(metric, "greater_is_better", False))


def _check_mode(instance: Any, attribute: Any, value: Any) -> None:
    if value not in ("auto", "min", "max"):
        msg = f"'{attribute.name}' must be 'auto', 'min' or 'max' (got {value!r})"
        raise ValueError(msg)


def _check_monitor(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, str) or not value:
        msg = f"'{attribute.name}' must be a log name such as 'val_loss' (got {value!r})"
        raise ValueError(msg)


def _count(instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        msg = f"'{attribute.name}' must be an int >= 0 (got {value!r})"
        raise ValueError(msg)


def _nonnegative(instance: Any, attribute: Any, value: float) -> None:
    if not value >= 0.0 or value == float("inf"):
        msg = f"'{attribute.name}' must be a finite float >= 0 (got {value!r})"
        raise ValueError(msg)


def _learning_rate_of(owner: str, network: Any) -> float:
    lr = getattr(getattr(network, "optimizer", None), "learning_rate", None)
    if isinstance(lr, bool) or not isinstance(lr, int | float):
        msg = (
            f"{owner}: the optimizer {type(getattr(network, 'optimizer', None)).__name__} has "
            "no numeric 'learning_rate' attribute to change"
        )
        raise TypeError(msg)
    return float(lr)


@define(eq=False)
class EarlyStopping(Callback):
    """Stop ``fit`` when ``monitor`` has not improved for ``patience`` epochs.

    An epoch improves when its value beats the best so far by more than ``min_delta``
    (lower is better for losses; ``mode="auto"`` asks the metric's
    ``greater_is_better``, so ``"val_accuracy"`` and ``"r2"`` are maximized).
    Training stops at the ``patience``-th consecutive epoch without improvement
    (``patience=0`` and ``1`` both stop at the first). With a ``baseline``, the
    patience counter only resets on epochs that also beat the baseline. With
    ``restore_best_weights``, the network ends ``fit`` with the weights of its best
    epoch, whether training stopped early or ran to the end (the optimizer state is
    not rewound). A NaN value never improves. Keras' semantics otherwise.
    """

    monitor: str = field(default="val_loss", validator=_check_monitor)
    min_delta: float = field(default=0.0, converter=float, validator=_nonnegative)
    patience: int = field(default=0, validator=_count)
    mode: str = field(default="auto", validator=_check_mode)
    restore_best_weights: bool = field(default=False, validator=validators.instance_of(bool))
    baseline: float | None = field(
        default=None, converter=converters.optional(float))
    #: Best monitored value of the current ``fit`` and the (global) epoch it came from.
    best: float | None = field(default=None, init=False)
    best_epoch: int | None = field(default=None, init=False)
    #: The epoch after which training was stopped, or ``None``.
    stopped_epoch: int | None = field(default=None, init=False)
    #: Consecutive epochs without improvement.
    wait: int = field(default=0, init=False)
    _best_weights: list[Any] | None = field(default=None, init=False, repr=False)
    _last_epoch: int | None = field(default=None, init=False, repr=False)

    def _improves(self, value: float, reference: float | None) -> bool:
        if value != value:
            return False
        if reference is None:
            return True
        if _maximize(self.network, self.monitor, self.mode):
            return value > reference + self.min_delta
        return value < reference - self.min_delta

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self.best = self.best_epoch = self.stopped_epoch = self._last_epoch = None
        self.wait = 0
        self._best_weights = None

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        value = _monitored_value("EarlyStopping", self.monitor, logs)
        self._last_epoch = epoch
        self.wait += 1
        if self._improves(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self._best_weights = self.network.get_weights()
            if self.baseline is None or self._improves(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.network.stop_training = True

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if (self.restore_best_weights and self._best_weights is not None
                and self.best_epoch != self._last_epoch):
            self.network.set_weights(self._best_weights)


def _as_schedule(value: Any) -> Any:
    """A registered schedule for a name or table; anything else as given."""
    if isinstance(value, str | Mapping):
        return default_registry().create("schedule", value, path="LearningRateScheduler.schedule")
    return value


@define(eq=False)
class LearningRateScheduler(Callback):
    """Set ``optimizer.learning_rate = base * factor`` before every epoch (or step).

    This is npframe's one schedule mechanism: a spec's ``schedule`` is applied by a
    ``LearningRateScheduler`` that ``fit`` adds (one passed in ``callbacks`` replaces
    it). ``schedule`` is an ``npframe.Schedule``, a registered schedule's name or table
    (``{"name": "step", "step_size": 10}``), or any callable ``epoch -> factor``. A
    ``Schedule`` gets the global epoch and step and the run's ``TrainingPlan`` (so it
    can know the run's length); one with ``per_step = True`` is asked before every
    optimizer step. ``base`` is the network's ``base_learning_rate``, so the same epoch
    always gets the same rate, across ``fit`` calls and ``load``.
    """

    schedule: Any = field(converter=_as_schedule)
    #: ``(epoch, learning_rate)`` for every epoch this callback set (per-step
    #: schedules: the rate at the epoch's first step).
    rates: list[tuple[int, float]] = field(factory=list, init=False, repr=False)
    _plan: TrainingPlan | None = field(default=None, init=False, repr=False)
    _epoch: int = field(default=0, init=False, repr=False)

    @schedule.validator
    def _resolve(self, attribute: Any, value: Any) -> None:
        if not callable(value):
            msg = (
                "LearningRateScheduler: schedule must be a Schedule, a callable "
                f"epoch -> factor, or a registered schedule's name or table (got {value!r})"
            )
            raise TypeError(msg)

    @property
    def wants_batches(self) -> bool:
        """Per-step hooks only for a per-step schedule."""
        return isinstance(self.schedule, Schedule) and self.schedule.per_step

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        _learning_rate_of("LearningRateScheduler", self.network)
        plan = logs.get("plan")
        self._plan = plan if isinstance(plan, TrainingPlan) else None

    def _factor(self, epoch: int, step: int) -> float:
        if isinstance(self.schedule, Schedule):
            plan = self._plan or TrainingPlan(epoch + 1, 1)
            factor = self.schedule.at(epoch, step, plan)
        else:
            factor = self.schedule(epoch)
        try:
            factor = float(factor)
        except (TypeError, ValueError):
            factor = float("nan")
        if not (factor >= 0.0 and factor != float("inf")):
            msg = (
                f"LearningRateScheduler: the schedule returned {factor!r} at epoch {epoch} "
                f"(step {step}); it must return a finite factor >= 0 of the base learning rate"
            )
            raise ValueError(msg)
        return factor

    def _base(self) -> float:
        base = getattr(self.network, "base_learning_rate", None)
        return _learning_rate_of("LearningRateScheduler", self.network) if base is None \
            else float(base)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        self._epoch = epoch
        if self.wants_batches:
            return
        step = logs.get("step", epoch)
        rate = self._base() * self._factor(epoch, step)
        self.network.optimizer.learning_rate = rate
        self.rates.append((epoch, rate))

    def on_batch_begin(self, step: int, logs: dict[str, Any]) -> None:
        epoch = logs.get("epoch", self._epoch)
        rate = self._base() * self._factor(epoch, step)
        self.network.optimizer.learning_rate = rate
        if logs.get("batch") == 0 or not self.rates or self.rates[-1][0] != epoch:
            self.rates.append((epoch, rate))


@define(eq=False)
class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving.

    After ``patience`` consecutive epochs without an improvement larger than
    ``min_delta`` (absolute, as Keras), the rate becomes ``max(lr * factor, min_lr)``;
    then ``cooldown`` epochs pass before counting again. Keras' semantics and
    defaults. The network's base learning rate is scaled too, so with a spec
    ``schedule`` the reduction persists (the schedule multiplies the reduced base).
    Reductions are not part of the saved optimizer state.
    """

    monitor: str = field(default="val_loss", validator=_check_monitor)
    factor: float = field(default=0.1, converter=float)
    patience: int = field(default=10, validator=_count)
    mode: str = field(default="auto", validator=_check_mode)
    min_delta: float = field(default=1e-4, converter=float, validator=_nonnegative)
    cooldown: int = field(default=0, validator=_count)
    min_lr: float = field(default=0.0, converter=float, validator=_nonnegative)
    best: float | None = field(default=None, init=False)
    wait: int = field(default=0, init=False)
    cooldown_counter: int = field(default=0, init=False)
    #: ``(epoch, new_learning_rate)`` for every reduction, in order.
    reductions: list[tuple[int, float]] = field(factory=list, init=False, repr=False)

    @factor.validator
    def _below_one(self, attribute: Any, value: float) -> None:
        if not 0.0 < value < 1.0:
            raise ValueError(f"'factor' must be in (0, 1) (got {value!r})")

    def _improves(self, value: float) -> bool:
        if value != value:
            return False
        if self.best is None:
            return True
        if _maximize(self.network, self.monitor, self.mode):
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        _learning_rate_of("ReduceLROnPlateau", self.network)
        self.best, self.wait, self.cooldown_counter = None, 0, 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        value = _monitored_value("ReduceLROnPlateau", self.monitor, logs)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improves(value):
            self.best, self.wait = value, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        old = _learning_rate_of("ReduceLROnPlateau", self.network)
        if old > self.min_lr:
            new = max(old * self.factor, self.min_lr)
            self.network.optimizer.learning_rate = new
            base = getattr(self.network, "base_learning_rate", None)
            if base is not None:
                self.network.base_learning_rate = base * (new / old)
            self.reductions.append((epoch, new))
            self.cooldown_counter = self.cooldown
            self.wait = 0


@define(eq=False)
class CSVLogger(Callback):
    """Append one CSV row per epoch to ``path``: ``epoch`` then the logs, sorted by name.

    ``epoch`` is the network's global 0-based epoch. The header comes from the first
    epoch's logs; later rows leave a missing value empty, and a new log name is an
    error (the columns are fixed). ``append=False`` starts a fresh file at
    ``on_train_begin``; ``append=True`` continues an existing file under its own
    header (e.g. after ``npframe.load``). Floats are written with ``repr``, so they
    read back bit for bit. Each epoch's line is one ``write`` to a file opened in
    append mode and closed straight away: a crash loses at most the line in flight,
    and no file handle stays open between epochs.
    """

    path: str = field(converter=os.fspath)
    separator: str = field(default=",")
    append: bool = field(default=False, validator=validators.instance_of(bool))
    _columns: list[str] | None = field(default=None, init=False, repr=False)

    @separator.validator
    def _one_char(self, attribute: Any, value: Any) -> None:
        if not isinstance(value, str) or len(value) != 1 or value in "\r\n\"":
            msg = (
                "CSVLogger: separator must be one character, not a quote or newline "
                f"(got {value!r})"
            )
            raise ValueError(msg)

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self._columns = None
        if not self.append:
            with open(self.path, "w", encoding="utf-8", newline=""):
                pass
            return
        try:
            with open(self.path, encoding="utf-8", newline="") as f:
                header = next(csv.reader(f, delimiter=self.separator), None)
        except FileNotFoundError:
            header = None
        if header:
            if header[0] != "epoch":
                msg = (
                    f"CSVLogger: {self.path}: the existing file's first column is "
                    f"{header[0]!r}, not 'epoch'; is it a CSVLogger file?"
                )
                raise ValueError(msg)
            self._columns = header

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=self.separator, lineterminator="\n")
        if self._columns is None:
            self._columns = ["epoch", *sorted(logs)]
            writer.writerow(self._columns)
        else:
            extra = sorted(set(logs) - set(self._columns[1:]))
            if extra:
                msg = (
                    f"CSVLogger: {self.path}: logs gained {', '.join(extra)}, which the "
                    f"header ({', '.join(self._columns)}) has no column for; log to a new file"
                )
                raise ValueError(msg)
        writer.writerow([str(epoch), *(_csv_value(logs.get(k)) for k in self._columns[1:])])
        with open(self.path, "a", encoding="utf-8", newline="") as f:
            f.write(buffer.getvalue())


def _csv_value(value: Any) -> str:
    """``repr`` of a float (shortest text that reads back to the same float); ``""`` for None."""
    if value is None:
        return ""
    if isinstance(value, bool | int):
        return str(int(value))
    return repr(float(value))
