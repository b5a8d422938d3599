"""Training progress: a tqdm bar on a terminal, plain periodic lines elsewhere."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from npframe.callbacks import Callback

__all__ = ["ProgressBar"]


def _format_logs(logs: dict[str, float]) -> str:
    return " ".join(f"{key}={value:.4g}" for key, value in logs.items())


class ProgressBar(Callback):
    """Shows epochs, loss, validation loss, rate and time left.

    On a terminal it draws a tqdm bar; otherwise (CI logs, pipes) it prints a line
    about every ``interval`` seconds and after the last epoch, so logs stay readable.
    """

    def __init__(self, epochs: int | None = None, *, file: IO[str] | None = None,
                 interval: float = 2.0, force_bar: bool | None = None) -> None:
        self.epochs = epochs
        self.file = file
        self.interval = interval
        self.force_bar = force_bar
        self._bar: Any = None
        self._start = 0.0
        self._last_print = 0.0
        self._done = 0

    def _stream(self) -> IO[str]:
        return self.file if self.file is not None else sys.stderr

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        total = logs.get("epochs", self.epochs)
        self.epochs = total
        self._start = self._last_print = time.perf_counter()
        self._done = 0
        stream = self._stream()
        use_bar = self.force_bar if self.force_bar is not None else stream.isatty()
        if use_bar:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, unit="epoch", file=stream, dynamic_ncols=True)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self._done += 1
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()}, refresh=False)
            self._bar.update(1)
            return
        now = time.perf_counter()
        if now - self._last_print >= self.interval or self._done == self.epochs:
            self._last_print = now
            elapsed = now - self._start
            rate = self._done / elapsed if elapsed > 0 else float("inf")
            left = (self.epochs - self._done) / rate if self.epochs and rate > 0 else 0.0
            print(
                f"epoch {epoch + 1} ({self._done}/{self.epochs}) {_format_logs(logs)} "
                f"[{rate:.1f} epoch/s, {left:.0f}s left]",
                file=self._stream(), flush=True,
            )

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
