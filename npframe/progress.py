"""Training progress: a tqdm bar on a terminal, plain periodic lines elsewhere.

``Network.fit(verbose=True)`` and ``npframe train`` add a ``ProgressBar``; pass one in
``callbacks`` to choose its stream or how often it prints.
"""

from __future__ import annotations

import math
import sys
import time
from typing import IO, Any

from npframe.callbacks import Callback

__all__ = ["ProgressBar", "format_duration", "format_logs"]


def format_logs(logs: dict[str, float]) -> str:
    """``"loss=0.0123 val_loss=0.0131"``: four significant digits, in the logs' order."""
    return " ".join(f"{key}={value:.4g}" for key, value in logs.items())


def format_duration(seconds: float) -> str:
    """``"42s"``, ``"3m05s"``, ``"2h01m"``: short, for time left and elapsed."""
    if not math.isfinite(seconds):
        return "?"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class ProgressBar(Callback):
    """Shows epochs done, loss, validation loss (and metrics), rate and time left.

    On a terminal it draws a tqdm bar on ``file`` (standard error by default). When
    ``file`` is not a terminal (CI logs, pipes, files) it prints a plain line after the
    first epoch, then at most every ``interval`` seconds, and after the last epoch, so
    logs stay short and readable. ``force_bar`` overrides the terminal check.
    """

    def __init__(self, epochs: int | None = None, *, file: IO[str] | None = None,
                 interval: float = 2.0, force_bar: bool | None = None) -> None:
        if interval < 0:
            raise ValueError(f"ProgressBar: interval must be >= 0 seconds (got {interval!r})")
        self.epochs = epochs
        self.file = file
        self.interval = interval
        self.force_bar = force_bar
        self._bar: Any = None
        self._start = 0.0
        self._last_print = 0.0
        self._last_postfix = 0.0
        self._done = 0
        self._printed = 0
        self._logs: dict[str, float] = {}

    def _stream(self) -> IO[str]:
        return self.file if self.file is not None else sys.stderr

    def _use_bar(self, stream: IO[str]) -> bool:
        if self.force_bar is not None:
            return self.force_bar
        isatty = getattr(stream, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # a closed stream
            return False

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self.epochs = logs.get("epochs", self.epochs)
        self._start = self._last_print = time.perf_counter()
        self._last_postfix = -math.inf
        self._done = self._printed = 0
        self._logs = {}
        stream = self._stream()
        if self._use_bar(stream):
            from tqdm import tqdm

            self._bar = tqdm(total=self.epochs, unit="epoch", file=stream, dynamic_ncols=True,
                             desc="training")

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self._done += 1
        self._logs = logs
        now = time.perf_counter()
        if self._bar is not None:
            # formatting every epoch's logs costs more than a tiny epoch: only when drawn
            if now - self._last_postfix >= self._bar.mininterval or self._done == self.epochs:
                self._last_postfix = now
                self._bar.set_postfix_str(format_logs(logs), refresh=False)
            self._bar.update(1)
        elif (self._done in (1, self.epochs)) or now - self._last_print >= self.interval:
            self._print_line(now)

    def _print_line(self, now: float) -> None:
        self._last_print = now
        self._printed = self._done
        elapsed = now - self._start
        rate = self._done / elapsed if elapsed > 0 else math.inf
        total = f"/{self.epochs}" if self.epochs is not None else ""
        timing = f"{rate:.1f} epoch/s" if math.isfinite(rate) else "-- epoch/s"
        if self.epochs is not None and self._done < self.epochs:
            left = (self.epochs - self._done) / rate if rate > 0 else math.inf
            timing += f", {format_duration(left)} left"
        else:
            timing += f", {format_duration(elapsed)} total"
        print(f"epoch {self._done}{total}  {format_logs(self._logs)}  [{timing}]",
              file=self._stream(), flush=True)

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self._bar is not None:
            if self._logs:  # a stopped run: show where it stopped
                self._bar.set_postfix_str(format_logs(self._logs), refresh=False)
            self._bar.close()
            self._bar = None
        elif self._done > self._printed:  # stopped early: the last line is still owed
            self._print_line(time.perf_counter())
