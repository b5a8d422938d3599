"""Hyperparameter sweeps: a grid or a random search over spec keys, on any executor.

``npframe.sweep("sweep.toml", executor=...)`` runs one; ``npframe sweep`` is the same
on the command line. The file format is in ``docs/sweeps.md``.
"""

from npframe.sweeps.executors import dask_local, dask_scheduler, process_pool
from npframe.sweeps.runner import SweepResult, sweep
from npframe.sweeps.sweepfile import Sweep, load_sweep

__all__ = [
    "Sweep",
    "SweepResult",
    "dask_local",
    "dask_scheduler",
    "load_sweep",
    "process_pool",
    "sweep",
]
