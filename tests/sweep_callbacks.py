"""Callbacks the sweep tests hand to trials; a module of its own so that worker
processes (a process pool, Dask workers) can import them by name."""

from __future__ import annotations

import os


class CrashOnce:
    """Kills the worker process at the first trial to start, once per marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def on_train_begin(self, logs: dict) -> None:
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.close(fd)
        os._exit(1)


class InterruptAt:
    """Raises ``KeyboardInterrupt`` as the ``n``-th fit begins (serial sweeps only: the
    count lives in this object)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.fits = 0

    def on_train_begin(self, logs: dict) -> None:
        self.fits += 1
        if self.fits == self.n:
            raise KeyboardInterrupt
