"""``npframe.sweep``: run the trials a sweep file describes, keep every finished one.

The flow: check the sweep (``load_sweep``), open or resume the results table, submit
the missing trials to the executor, and record each outcome as it arrives (row,
files, best model, progress). Scheduling is the executor's business: a process pool,
a Dask cluster, or this process when there is none. This module only submits and
collects, and handles the two ways a trial can vanish without an outcome:

* a worker of the sweep's own process pool dies (``BrokenProcessPool``): the pool is
  started again and the unfinished trials are submitted again, ``retries`` times;
* anything else (Dask's ``KilledWorker`` after its own reruns, a broken executor
  passed in): the trial stays missing, the rest go on, and ``SweepIncompleteError``
  says so at the end. Running the sweep again runs only what is missing.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import IO, Any

from attrs import field, frozen

from npframe.errors import SweepIncompleteError
from npframe.sweeps.executors import process_pool, terminate_workers
from npframe.sweeps.progress import SweepProgress
from npframe.sweeps.results import ResultPaths, ResultsTable, write_atomically
from npframe.sweeps.sweepfile import Sweep, load_sweep
from npframe.sweeps.trial import TrialOutcome, TrialTask, run_trial

__all__ = ["SweepResult", "sweep"]

Record = Callable[[TrialOutcome], None]


@frozen(kw_only=True)
class SweepResult:
    """What a sweep left: its rows (trial order), the best one, and where files went."""

    name: str
    rank: str
    greater_is_better: bool
    columns: list[str]
    rows: list[dict[str, Any]]
    best: dict[str, Any] | None
    #: The best trial's model file, when it was saved.
    best_model: Path | None
    #: ``results.csv`` / ``results.json``, or ``None`` when no ``out`` was given.
    paths: ResultPaths | None
    #: Trials run by this call, and trials found already done in the results file.
    ran: int
    resumed: int
    #: Trials that never finished (lost with their workers); run the sweep again.
    missing: list[int] = field(factory=list)

    def ranked(self) -> list[dict[str, Any]]:
        """Finished trials, best first (ties: the earlier trial)."""
        sign = -1.0 if self.greater_is_better else 1.0
        ok = [r for r in self.rows if r["status"] == "ok" and r[self.rank] is not None]
        return sorted(ok, key=lambda row: (sign * row[self.rank], row["trial"]))


def sweep(
    source: str | os.PathLike | Mapping[str, Any] | Sweep,
    executor: Executor | None = None,
    *,
    out: str | os.PathLike | None = None,
    best_model: str | os.PathLike | None = None,
    workers: int | None = None,
    callbacks: Iterable[Any] = (),
    progress: bool | IO[str] = False,
    retries: int = 2,
    base_dir: str | os.PathLike | None = None,
) -> SweepResult:
    """Run the grid or random search ``source`` describes; return its results.

    ``source`` is a sweep file (``.toml`` / ``.json``), a mapping of the same keys
    (relative paths then count from ``base_dir``, default the current folder), or a
    ``Sweep`` that ``load_sweep`` checked already.
    Trials run on ``executor`` (any ``concurrent.futures.Executor``, e.g.
    ``distributed.Client(...).get_executor(retries=2)``), on a pool of ``workers``
    local processes (BLAS on one thread each), or one after another in this process.

    ``out`` (``results.csv`` or ``results.json``; both are written) keeps a row per
    trial as trials finish; if it exists, only the trials it lacks are run. The best
    trial's model goes to ``best_model`` (default ``results.best.npz`` beside ``out``).
    ``callbacks`` go to every trial's ``fit`` (they must pickle to reach workers).
    ``progress`` is ``True`` for standard error, or a stream.

    Raises ``SpecError`` for a wrong sweep file, ``ResultsFileError`` for a results
    file of another sweep, both before any trial runs; ``SweepIncompleteError`` when
    some trials were lost with their workers (the others are saved); and
    ``KeyboardInterrupt`` after saving every trial that finished.
    """
    if executor is not None and workers is not None:
        raise ValueError("give an executor or a number of workers, not both")
    paths = ResultPaths.from_out(out) if out is not None else None
    best_path = _best_model_path(best_model, paths)
    plan = source if isinstance(source, Sweep) else load_sweep(source, base_dir=base_dir)
    table = ResultsTable.new(
        param_paths=plan.paths, rank=plan.rank, greater_is_better=plan.greater_is_better,
        log_keys=plan.log_keys, spread=plan.folds is not None, settings=plan.settings(),
        paths=paths)
    table.resume(plan.name, plan.params)
    missing = table.missing(plan.n_trials)
    resumed = plan.n_trials - len(missing)
    tasks = [_task(plan, i, callbacks, return_model=best_path is not None and plan.folds is None)
             for i in missing]
    stream = _stream(progress)
    bar = SweepProgress(plan.n_trials, resumed, plan.rank, file=stream) if stream else None
    keeper = _Keeper(table, plan.params, best_path, bar)
    try:
        with _Runner(executor, workers, retries) as runner:
            lost = runner.run(tasks, keeper.record)
            best = table.best()
            if not lost and best is not None and keeper.model_is_stale():
                if stream is not None:
                    how = "on all the rows" if plan.folds is not None else "again"
                    print(f"training the best trial ({best['trial']}) {how} for its model",
                          file=stream, flush=True)
                task = _task(plan, best["trial"], callbacks, return_model=True,
                             refit=plan.folds is not None)
                runner.run([task], keeper.record_model)  # if lost: no model, rows all kept
    finally:
        keeper.flush()
        if bar is not None:
            bar.close()
    result = _result(plan, table, best_path, ran=len(tasks) - len(lost), resumed=resumed)
    if lost:
        raise SweepIncompleteError(_lost_message(plan, table, lost), result)
    return result


def _stream(progress: bool | IO[str]) -> IO[str] | None:
    if progress is True:
        import sys

        return sys.stderr
    return progress or None


def _best_model_path(best_model: str | os.PathLike | None,
                     paths: ResultPaths | None) -> Path | None:
    if best_model is None:
        return paths.default_best_model() if paths is not None else None
    path = Path(best_model)
    if path.suffix.lower() != ".npz":
        raise ValueError(f"{path}: the best model's file name must end in .npz")
    if not path.parent.is_dir():
        raise ValueError(f"{path}: folder '{path.parent}' does not exist (create it first)")
    return path


def _task(plan: Sweep, index: int, callbacks: Iterable[Any], *, return_model: bool,
          refit: bool = False) -> TrialTask:
    return TrialTask(index=index, params=plan.params(index), base_spec=plan.spec, X=plan.X,
                     y=plan.y, validation_split=plan.validation_split, folds=plan.folds,
                     return_model=return_model, refit=refit, callbacks=tuple(callbacks))


def _result(plan: Sweep, table: ResultsTable, best_path: Path | None, *, ran: int,
            resumed: int) -> SweepResult:
    best = table.best()
    saved = (best is not None and best_path is not None and best_path.exists()
             and table.best_model is not None and table.best_model["trial"] == best["trial"])
    return SweepResult(name=plan.name, rank=plan.rank, greater_is_better=plan.greater_is_better,
                       columns=list(table.columns), rows=table.sorted_rows(), best=best,
                       best_model=best_path if saved else None, paths=table.paths, ran=ran,
                       resumed=resumed, missing=table.missing(plan.n_trials))


def _lost_message(plan: Sweep, table: ResultsTable, lost: list[tuple[TrialTask, Any]]) -> str:
    exc = lost[0][1]
    reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}".rstrip(": ")
    where = f" in {table.paths.csv}" if table.paths is not None else ""
    return (f"{plan.name}: {len(lost)} of {plan.n_trials} trials did not finish ({reason}); "
            f"the {len(table.rows)} finished trials are saved{where}; run the sweep again "
            "to run the missing ones")


#: The results files are rewritten after a trial unless the last rewrite took longer
#: than 1 / SAVE_SHARE of the time since: writing stays under a fifth of the driver's
#: time even for tables of many thousand rows, and is immediate for usual ones.
SAVE_SHARE = 5.0


class _Keeper:
    """Records outcomes as they arrive: the row, both files, the best model, progress."""

    def __init__(self, table: ResultsTable, params: Callable[[int], dict[str, Any]],
                 best_path: Path | None, bar: SweepProgress | None) -> None:
        self.table = table
        self.params = params
        self.best_path = best_path
        self.bar = bar
        self._next_save = 0.0
        self._unsaved = False

    def record(self, outcome: TrialOutcome) -> None:
        row = self.table.add(outcome, self.params(outcome.index))
        if row is None:
            return  # a trial reported twice (an executor retried it): one row only
        best = self.table.best()
        improved = best is row and outcome.model is not None
        if improved:
            self._save_model(outcome)
        self._save(force=improved)
        if self.bar is not None:
            self.bar.update(row, best)

    def record_model(self, outcome: TrialOutcome) -> None:
        if outcome.model is not None:
            self._save_model(outcome)
            self._save(force=True)

    def flush(self) -> None:
        """Write what a skipped rewrite left out (at the end, on Ctrl-C, on errors)."""
        if self._unsaved:
            self._save(force=True)

    def _save(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now < self._next_save:
            self._unsaved = True
            return
        self.table.save()
        self._unsaved = False
        self._next_save = now + SAVE_SHARE * (time.monotonic() - now)

    def model_is_stale(self) -> bool:
        """Whether the best trial's model still needs making (cross-validation, or a
        best model file that is missing or holds another trial)."""
        best = self.table.best()
        if best is None or self.best_path is None:
            return False
        held = self.table.best_model
        return held is None or held["trial"] != best["trial"] or not self.best_path.exists()

    def _save_model(self, outcome: TrialOutcome) -> None:
        assert self.best_path is not None and outcome.model is not None
        write_atomically(self.best_path, outcome.model, durable=True)
        self.table.best_model = {"trial": outcome.index, "path": str(self.best_path)}


class _Runner:
    """Runs tasks in this process, on the executor given, or on the sweep's own
    process pool, which it starts again when a worker dies."""

    def __init__(self, executor: Executor | None, workers: int | None, retries: int) -> None:
        self.executor = executor
        self.workers = workers
        self.retries = retries
        self._pool: ProcessPoolExecutor | None = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> _Runner:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._close_pool()

    def run(self, tasks: list[TrialTask], record: Record) -> list[tuple[TrialTask, Any]]:
        """Run ``tasks``; return those that never finished, with why."""
        if self.executor is None and self.workers is None:
            for task in tasks:
                record(run_trial(task))
            return []
        attempts: Counter[int] = Counter()
        lost_for_good: list[tuple[TrialTask, Any]] = []
        pending = list(tasks)
        while pending:
            lost = self._collect(self.executor or self._open_pool(), pending, record)
            pending = []
            for task, exc in lost:
                attempts[task.index] += 1
                if (self.workers is not None and isinstance(exc, BrokenExecutor)
                        and attempts[task.index] <= self.retries):
                    pending.append(task)
                else:
                    lost_for_good.append((task, exc))
            if pending:
                self._close_pool()  # a broken pool takes no more work: start a new one
        return lost_for_good

    def _open_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            assert self.workers is not None, "run() uses the executor given, if any"
            self._pool = self._stack.enter_context(process_pool(self.workers))
        return self._pool

    def _close_pool(self) -> None:
        self._pool = None
        self._stack.close()

    def _collect(self, executor: Executor, tasks: list[TrialTask],
                 record: Record) -> list[tuple[TrialTask, Any]]:
        futures = {}
        lost: list[tuple[TrialTask, Any]] = []
        try:
            for task in tasks:
                try:
                    futures[executor.submit(run_trial, task)] = task
                except BrokenExecutor as exc:
                    lost.append((task, exc))
            for future in as_completed(futures):
                try:
                    outcome = future.result()
                except Exception as exc:  # the worker, not the trial: see run_trial
                    lost.append((futures[future], exc))
                    continue
                record(outcome)
        except BaseException:  # Ctrl-C (or a failure to save): stop the other trials
            for future in futures:
                future.cancel()
            if self._pool is not None:
                terminate_workers(self._pool)
            raise
        return lost
