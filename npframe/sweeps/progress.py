"""Sweep progress on standard error: trials done / total, the best so far, time left.

A tqdm bar on a terminal; elsewhere (CI logs, pipes, files) a plain line after the
first trial, then at most every ``interval`` seconds, and after the last, as
``npframe.progress.ProgressBar`` does for epochs.
"""

from __future__ import annotations

import math
import sys
import time
from typing import IO, Any

from npframe.progress import format_duration

__all__ = ["SweepProgress"]


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class SweepProgress:
    """Told about each finished trial; estimates time left from this run's rate."""

    def __init__(self, total: int, done: int, rank: str, *, file: IO[str] | None = None,
                 interval: float = 2.0, force_bar: bool | None = None) -> None:
        self.total = total
        self.done = done
        self.rank = rank
        self.file = file if file is not None else sys.stderr
        self.interval = interval
        self.failed = 0
        self._ran = 0
        self._to_run = total - done
        self._best = ""
        self._start = self._last_print = time.perf_counter()
        self._bar: Any = None
        use_bar = force_bar if force_bar is not None else _isatty(self.file)
        if use_bar and self._to_run:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=done, unit="trial", file=self.file,
                             dynamic_ncols=True, desc="sweep")

    def update(self, row: dict[str, Any], best: dict[str, Any] | None) -> None:
        self.done += 1
        self._ran += 1
        self.failed += row["status"] != "ok"
        if best is not None:
            self._best = f"best trial {best['trial']} {self.rank}={_number(best[self.rank])}"
        if self._bar is not None:
            self._bar.set_postfix_str(self._best, refresh=False)
            self._bar.update(1)
            return
        now = time.perf_counter()
        if self._ran == 1 or self.done == self.total or now - self._last_print >= self.interval:
            self._print(now)

    def _print(self, now: float) -> None:
        self._last_print = now
        elapsed = now - self._start
        left = self.total - self.done
        if left > 0:
            rate = self._ran / elapsed if elapsed > 0 else math.inf
            timing = f"{format_duration(left / rate) if rate > 0 else '?'} left"
        else:
            timing = f"{format_duration(elapsed)} total"
        failed = f" ({self.failed} failed)" if self.failed else ""
        best = f"  {self._best}" if self._best else ""
        print(f"trials {self.done}/{self.total}{failed}{best}  [{timing}]", file=self.file,
              flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _isatty(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False
