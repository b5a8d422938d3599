"""Where trials run: a local process pool, or Dask (a LocalCluster or a scheduler).

All of them are ``concurrent.futures.Executor`` objects, so the sweep treats them
alike. Each worker runs BLAS on one thread: N single-threaded workers beat N workers
whose BLAS thread pools fight over the same cores. BLAS reads its thread count once,
when NumPy loads, so the setting must be in a worker's environment before it starts:

* ``process_pool`` starts its workers with ``spawn`` (fresh interpreters, not forks of
  a process whose NumPy is already loaded) while the variables are set;
* Dask's nanny sets the same variables in every worker it starts
  (``distributed.nanny.pre-spawn-environ``), so a LocalCluster needs nothing more.

Dask is optional (``pip install "npframe[dask]"``); nothing here imports it until a
Dask executor is asked for.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

__all__ = [
    "BLAS_THREAD_VARIABLES",
    "DASK_EXTRA_HINT",
    "DASK_RETRIES",
    "dask_local",
    "dask_scheduler",
    "process_pool",
    "require_distributed",
    "terminate_workers",
    "worker_info",
]

#: Environment variables that size BLAS thread pools; read once, when NumPy loads.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

#: How often Dask runs a trial again when it raises (``OSError``, ``MemoryError``):
#: ``client.submit(..., retries=DASK_RETRIES)``. A worker that dies mid-trial is a
#: separate case: the scheduler reruns its tasks elsewhere by itself, up to
#: ``distributed.scheduler.allowed-failures`` times.
DASK_RETRIES = 2

#: How long ``dask_scheduler`` tries to reach the scheduler before giving up.
CONNECT_TIMEOUT = "10s"

DASK_EXTRA_HINT = 'install the dask extra: pip install "npframe[dask]"'


def worker_info() -> dict[str, Any]:
    """Run in a worker: its process id and BLAS thread settings."""
    return {"pid": os.getpid(),
            **{name: os.environ.get(name, "") for name in BLAS_THREAD_VARIABLES}}


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def process_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A ``ProcessPoolExecutor`` of ``workers`` processes, BLAS on one thread in each.

    The BLAS variables are set in this process's environment while the pool lives, so
    that every worker the pool starts (at first, or to replace one) inherits them;
    this process's own NumPy, loaded already, is not affected. The workers are
    started and have imported npframe before the pool is handed out, so the first
    trials do not pay for interpreter start-up.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1 (got {workers!r})")
    with _environment(dict.fromkeys(BLAS_THREAD_VARIABLES, "1")):
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        try:
            for future in [pool.submit(worker_info) for _ in range(workers)]:
                future.result()
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def terminate_workers(pool: ProcessPoolExecutor) -> None:
    """Stop a pool's workers now, running trials included (for Ctrl-C)."""
    pool.shutdown(wait=False, cancel_futures=True)
    if sys.version_info >= (3, 14):
        pool.terminate_workers()
        return
    # before Python 3.14 a pool has no public way to stop a running call
    for process in list((pool._processes or {}).values()):
        if process.pid is None:
            continue  # never started
        with contextlib.suppress(ProcessLookupError, OSError):
            os.kill(process.pid, signal.SIGTERM)


def require_distributed(option: str) -> Any:
    """``distributed``, or an ``ImportError`` that names the extra to install."""
    try:
        import distributed
    except ImportError as exc:
        msg = (f"{option} needs Dask's distributed scheduler, which is not installed "
               f"({exc}); {DASK_EXTRA_HINT}")
        raise ImportError(msg) from None
    return distributed


@contextlib.contextmanager
def dask_local(workers: int) -> Iterator[Executor]:
    """A ``distributed.LocalCluster`` of ``workers`` single-threaded worker processes,
    as an executor; the cluster is closed at the end, also on errors and Ctrl-C."""
    distributed = require_distributed("--dask-local")
    # dashboard on a free port: the usual 8787 may belong to another cluster
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                       processes=True, dashboard_address=":0")
    try:
        with _client_executor(distributed.Client(cluster)) as executor:
            yield executor
    finally:
        cluster.close()


@contextlib.contextmanager
def dask_scheduler(address: str) -> Iterator[Executor]:
    """The Dask cluster whose scheduler listens at ``address``, as an executor; the
    client disconnects at the end (the cluster keeps running)."""
    distributed = require_distributed("--scheduler")
    with _client_executor(distributed.Client(address, timeout=CONNECT_TIMEOUT)) as executor:
        yield executor


@contextlib.contextmanager
def _client_executor(client: Any) -> Iterator[Executor]:
    try:
        # pure=False: two trials are never "the same computation" to Dask, even when
        # their arguments look alike
        yield client.get_executor(retries=DASK_RETRIES, pure=False)
    finally:
        client.close()
