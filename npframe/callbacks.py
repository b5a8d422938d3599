"""Callbacks: code that runs at the edges of training, Keras-style.

A callback is any object with some of ``set_network``, ``on_train_begin(logs)``,
``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch, logs)`` and
``on_train_end(logs)``; missing methods are skipped, so subclassing ``Callback`` is a
convenience, not a requirement. ``epoch`` counts every epoch the network has trained,
across ``fit`` calls and save/load. Setting ``network.stop_training = True`` ends
``fit`` after the current epoch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from attrs import define, field

if TYPE_CHECKING:
    from npframe.network import Network

__all__ = ["Callback", "CallbackList", "History"]

HOOKS = ("on_train_begin", "on_epoch_begin", "on_epoch_end", "on_train_end")


class Callback:
    """Base class with no-op hooks; ``self.network`` is set before training starts."""

    network: Network | None = None

    def set_network(self, network: Network) -> None:
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
    """Dispatches each hook to the callbacks that define it, in order."""

    def __init__(self, callbacks: Iterable[Any], network: Network) -> None:
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            setter = getattr(cb, "set_network", None)
            if setter is not None:
                setter(network)

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
