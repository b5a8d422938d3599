"""One trial: build its spec, train, measure; runs wherever an executor sends it.

``run_trial`` never raises for a trial that fails on its own terms (a spec the swept
values make invalid, a loss that diverges): it returns an outcome with
``status = "failed"`` and the error, so the sweep records it and goes on, and so
Dask does not retry a failure that would only repeat. Errors of the machine it runs
on (``OSError``, ``MemoryError``) do propagate: on Dask they are retried elsewhere.
Everything here goes through npframe's public API (``Network.from_spec``, ``fit``,
``evaluate``, ``save``), and every trial carries its seed in its spec, so a trial
gives the same numbers on any worker.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import math
import os
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from attrs import field, frozen

import npframe
from npframe.sweeps.specpath import parse_path, set_in_place

__all__ = ["TrialOutcome", "TrialTask", "fold_slices", "run_trial", "trial_spec"]

#: Outcome statuses.
OK, FAILED = "ok", "failed"


@frozen(kw_only=True)
class TrialTask:
    """Everything a worker needs for one trial; plain data and arrays, so it pickles.

    ``validation_split`` holds out the last fraction of the rows (as ``npframe train``
    does); ``folds`` runs k-fold cross-validation instead and averages. With
    ``refit``, the trial trains on all the rows and only returns the model: that is
    how a cross-validated sweep's best model is made.
    """

    index: int
    params: dict[str, Any]
    base_spec: dict[str, Any]
    X: np.ndarray = field(eq=False, repr=False)
    y: np.ndarray = field(eq=False, repr=False)
    validation_split: float = 0.0
    folds: int | None = None
    return_model: bool = False
    refit: bool = False
    callbacks: tuple[Any, ...] = ()


@frozen(kw_only=True)
class TrialOutcome:
    """What a trial reports back: final-epoch logs (averaged over folds), or its error."""

    index: int
    status: str
    logs: dict[str, float] = field(factory=dict)
    #: The spread (standard deviation) of each log over the folds; empty without folds.
    spread: dict[str, float] = field(factory=dict)
    epochs: int | None = None
    seconds: float = 0.0
    error: str = ""
    #: The ``ConvergenceWarning`` of a trial that trained but learned nothing.
    warning: str = ""
    model: bytes | None = field(default=None, repr=False)


def trial_spec(base_spec: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The base spec with each swept value set; shallow paths first, so
    ``optimizer = "adam"`` is set before ``optimizer.learning_rate``."""
    spec = copy.deepcopy(base_spec)
    steps = {path: parse_path(path) for path in params}
    for path in sorted(params, key=lambda p: len(steps[p])):
        set_in_place(spec, steps[path], copy.deepcopy(params[path]))
    return spec


def fold_slices(n: int, folds: int) -> list[slice]:
    """``folds`` contiguous validation blocks covering ``range(n)``, sizes differing by at
    most one (scikit-learn's ``KFold`` without shuffling)."""
    sizes = [n // folds + (1 if i < n % folds else 0) for i in range(folds)]
    edges = [0, *itertools.accumulate(sizes)]
    return [slice(a, b) for a, b in itertools.pairwise(edges)]


def _fit_options(net: Any) -> dict[str, Any]:
    """``epochs``, ``batch_size`` and ``shuffle`` from the trial spec's ``[train]`` table."""
    train = net.to_spec().get("train") or {}
    return {"epochs": train.get("epochs", 100), "batch_size": train.get("batch_size"),
            "shuffle": train.get("shuffle", True)}


def _train(spec: dict[str, Any], X: np.ndarray, y: np.ndarray,
           validation: tuple[np.ndarray, np.ndarray] | None,
           callbacks: Sequence[Any]) -> tuple[Any, dict[str, float], int]:
    net = npframe.Network.from_spec(spec)
    history = net.fit(X, y, validation_data=validation, callbacks=list(callbacks),
                      **_fit_options(net))
    logs = {key: float(values[-1]) for key, values in history.history.items() if values}
    return net, logs, len(history.loss)


def _scratch_folder() -> str | None:
    """A RAM-backed folder when there is one: a model file that lives for a moment
    should not wait for the disk."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def _model_bytes(net: Any) -> bytes:
    """The model file ``net.save`` writes, as bytes to send back to the sweep."""
    with tempfile.TemporaryDirectory(prefix="npframe-trial-", dir=_scratch_folder()) as folder:
        path = Path(folder) / "model.npz"
        net.save(path)
        return path.read_bytes()


def _evaluate(task: TrialTask, spec: dict[str, Any]) -> TrialOutcome:
    X, y = task.X, task.y
    if task.refit:
        net, logs, epochs = _train(spec, X, y, None, task.callbacks)
        return TrialOutcome(index=task.index, status=OK, logs=logs, epochs=epochs,
                            model=_model_bytes(net))
    if task.folds is None:
        n_val = round(len(X) * task.validation_split)
        net, logs, epochs = _train(spec, X[:-n_val], y[:-n_val], (X[-n_val:], y[-n_val:]),
                                   task.callbacks)
        model = _model_bytes(net) if task.return_model else None
        return TrialOutcome(index=task.index, status=OK, logs=logs, epochs=epochs, model=model)
    per_fold: list[dict[str, float]] = []
    epochs_per_fold = []
    for block in fold_slices(len(X), task.folds):
        keep = np.ones(len(X), dtype=bool)
        keep[block] = False
        _, logs, epochs = _train(spec, X[keep], y[keep], (X[block], y[block]), task.callbacks)
        per_fold.append(logs)
        epochs_per_fold.append(epochs)
    keys = [key for key in per_fold[0] if all(key in logs for logs in per_fold)]
    mean = {key: float(np.mean([logs[key] for logs in per_fold])) for key in keys}
    spread = {key: float(np.std([logs[key] for logs in per_fold])) for key in keys}
    return TrialOutcome(index=task.index, status=OK, logs=mean, spread=spread,
                        epochs=round(float(np.mean(epochs_per_fold))))


@contextlib.contextmanager
def _convergence_warnings_noted() -> Iterator[list[str]]:
    """Note ``ConvergenceWarning`` for the trial's row instead of printing it from a
    worker (or raising it under ``-W error``): a trial that learned nothing still ranks,
    and says so. Every other warning goes on as the filters say."""
    noted: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", npframe.ConvergenceWarning)
        yield noted
    for w in caught:
        if issubclass(w.category, npframe.ConvergenceWarning):
            noted.append(" ".join(str(w.message).split()))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def run_trial(task: TrialTask) -> TrialOutcome:
    """Train and measure one trial; a failure of the trial itself is an outcome, not a raise."""
    start = time.perf_counter()
    try:
        with _convergence_warnings_noted() as noted:
            outcome = _evaluate(task, trial_spec(task.base_spec, task.params))
    except (OSError, MemoryError):
        raise  # the machine's problem, not the trial's: let the executor retry it
    except Exception as exc:
        text = " ".join(str(exc).split()) or "(no message)"
        return TrialOutcome(index=task.index, status=FAILED, error=f"{type(exc).__name__}: {text}",
                            seconds=time.perf_counter() - start)
    seconds = time.perf_counter() - start
    if not all(math.isfinite(v) for v in outcome.logs.values()):
        bad = ", ".join(k for k, v in outcome.logs.items() if not math.isfinite(v))
        return TrialOutcome(index=task.index, status=FAILED, seconds=seconds,
                            error=f"non-finite final values: {bad}")
    return TrialOutcome(index=outcome.index, status=outcome.status, logs=outcome.logs,
                        spread=outcome.spread, epochs=outcome.epochs, seconds=seconds,
                        warning="; ".join(dict.fromkeys(noted)), model=outcome.model)

