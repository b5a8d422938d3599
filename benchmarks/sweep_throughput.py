#!/usr/bin/env python
"""Sweep throughput on this machine, per-trial overheads, and data-parallel arithmetic.

Three measurements, the numbers behind ``docs/scaling.md``:

1. **Throughput.** A grid of identical trials (only the seed differs) lasting about
   ``--trial-seconds`` each on one BLAS thread, run serially in this process (BLAS
   with its default threads), on a process pool of 1 and 2 workers
   (``npframe.sweeps.process_pool``: BLAS on one thread per worker), and on a Dask
   LocalCluster of 1 and 2 single-threaded workers. Two "bare" rows run the same
   training with no sweep around it (``fit`` in 1 or 2 pinned processes): their ratio
   is what this machine can give two processes at the moment, the ceiling for any
   executor. Every executor is started once (its start-up timed on its own) and kept
   for the whole measurement, the configurations run interleaved (A B C ... then
   ... C B A), and the table gives medians and the median of per-repetition speed-ups
   with the middle half of them: on a shared machine, other tenants come and go.
2. **Per-trial overhead.** The same with tiny trials (one epoch on 64 rows), where
   nearly all of a trial's wall time is the executor's; plus what the driver spends
   per finished trial rewriting the results files, for tables of growing size.
3. **Data-parallel steps.** For the tutorial's 2-4-4-3 net, 784-256-256-10 and
   1024-4096-4096-1024: one training step's time on one core (a worker with BLAS on
   one thread; a shared machine's second core is not reliably free) against the time
   a ring all-reduce of the gradients takes at 1 and 10 Gbit/s.

    python benchmarks/sweep_throughput.py --quick       # a smoke run, about a minute
    python benchmarks/sweep_throughput.py               # what docs/scaling.md reports

Results go to ``$TMPDIR/npframe-sweep-bench/results.json`` (``--out`` to change).
Everything uses npframe's public API (``npframe.sweep``, ``Network.from_spec``, ``fit``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import npframe
from npframe.sweeps import dask_local, process_pool
from npframe.sweeps.results import ResultPaths, ResultsTable
from npframe.sweeps.runner import _Keeper
from npframe.sweeps.trial import TrialOutcome

# -- the sweeps --------------------------------------------------------------------------
TRIAL_NET = {
    "input": 8,
    "seed": 0,
    "standardize": True,
    "optimizer": {"name": "adam", "learning_rate": 0.003},
    "layers": [{"units": 64, "activation": "relu"}, {"units": 64, "activation": "relu"},
               {"units": 1, "activation": "linear"}],
}


def write_data(folder: Path, rows: int, name: str) -> Path:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 8))
    y = np.sin(X[:, :1]) + X[:, 1:2] * X[:, 2:3]
    path = folder / name
    np.savez(path, X=X, y=y)
    return path


def sweep_of(data: Path, trials: int, epochs: int, net: dict[str, Any]) -> dict[str, Any]:
    return {"spec": net, "data": str(data), "validation_split": 0.2, "epochs": epochs,
            "batch_size": 32, "grid": {"seed": list(range(trials))}}


def bare_trial(sweep: dict[str, Any], seed: int) -> float:
    """One trial's training with no sweep around it: ``from_spec`` and ``fit``."""
    with np.load(sweep["data"]) as data:
        X, y = data["X"], data["y"]
    n_val = round(len(X) * sweep["validation_split"])
    net = npframe.Network.from_spec({**sweep["spec"], "seed": seed})
    history = net.fit(X[:-n_val], y[:-n_val], epochs=sweep["epochs"],
                      batch_size=sweep["batch_size"], validation_data=(X[-n_val:], y[-n_val:]))
    return history.val_loss[-1]


def calibrate(data: Path, seconds: float) -> int:
    """Epochs that make one trial last about ``seconds`` on one BLAS thread."""
    probe = 10
    with process_pool(1) as pool:
        pool.submit(bare_trial, sweep_of(data, 1, 1, TRIAL_NET), 0).result()
        start = time.perf_counter()
        pool.submit(bare_trial, sweep_of(data, 1, probe, TRIAL_NET), 0).result()
        per_epoch = (time.perf_counter() - start) / probe
    return max(1, round(seconds / per_epoch))


Executor = Callable[[], contextlib.AbstractContextManager[Any]]

SERIAL = "serial, this process"
POOL_1 = "process pool, 1 worker"
BARE_1, BARE_2 = "bare fit, 1 process", "bare fit, 2 processes"

SWEEPS: dict[str, Executor] = {
    SERIAL: lambda: contextlib.nullcontext(None),
    POOL_1: lambda: process_pool(1),
    "process pool, 2 workers": lambda: process_pool(2),
    "Dask LocalCluster, 1 worker": lambda: dask_local(1),
    "Dask LocalCluster, 2 workers": lambda: dask_local(2),
}
BARE: dict[str, Executor] = {BARE_1: lambda: process_pool(1), BARE_2: lambda: process_pool(2)}


def run_once(name: str, executor: Any, sweep: dict[str, Any], out: Path | None) -> float:
    """Seconds to run ``sweep`` (or, for the bare rows, its trainings) on ``executor``."""
    start = time.perf_counter()
    if name in BARE:
        seeds = sweep["grid"]["seed"]
        list(executor.map(bare_trial, [sweep] * len(seeds), seeds))
    else:
        if out is not None:
            for suffix in (".csv", ".json", ".best.npz"):
                out.with_suffix(suffix).unlink(missing_ok=True)
        result = npframe.sweep(sweep, executor, out=out)
        assert all(row["status"] == "ok" for row in result.rows), result.rows
    return time.perf_counter() - start


def interleaved(sweep: dict[str, Any], reps: int, out: Path | None,
                names: list[str]) -> dict[str, dict[str, list[float]]]:
    """Every executor started once (start-up timed), warmed up with one trial, then the
    sweep run on each in turn, ``reps`` times, the order reversed every other time."""
    times: dict[str, dict[str, list[float]]] = {
        name: {"startup": [], "run": []} for name in names}
    warm_up = {**sweep, "grid": {"seed": [0]}}
    with contextlib.ExitStack() as stack:
        executors = {}
        for name in names:
            start = time.perf_counter()
            executors[name] = stack.enter_context((BARE | SWEEPS)[name]())
            times[name]["startup"].append(time.perf_counter() - start)
            run_once(name, executors[name], warm_up, out)
        for rep in range(reps):
            for name in names if rep % 2 == 0 else names[::-1]:
                run = run_once(name, executors[name], sweep, out)
                times[name]["run"].append(run)
                print(f"  rep {rep + 1}/{reps}  {name:<30} {run:6.2f} s", file=sys.stderr,
                      flush=True)
    return times


def _speedups(times: dict[str, dict[str, list[float]]], name: str,
              reference: str) -> list[float]:
    pairs = zip(times[reference]["run"], times[name]["run"], strict=True)
    return sorted(ref / run for ref, run in pairs)


def _speedup(times: dict[str, dict[str, list[float]]], name: str, reference: str) -> float:
    return statistics.median(_speedups(times, name, reference))


def _spread(values: list[float]) -> str:
    """The middle half of the repetitions: ``"1.52-1.91"`` (all of them when few)."""
    if len(values) < 4:
        return f"{values[0]:.2f}-{values[-1]:.2f}"
    q1, _, q3 = statistics.quantiles(values, n=4)
    return f"{q1:.2f}-{q3:.2f}"


def throughput_table(times: dict[str, dict[str, list[float]]],
                     trials: int) -> list[dict[str, Any]]:
    """Medians. Speed-ups against the serial run and against one pinned worker; the
    overhead is a 1-worker executor's time per trial beyond the bare fit's."""
    bare_per_trial = statistics.median(times[BARE_1]["run"]) / trials
    rows = []
    for name, t in times.items():
        run = statistics.median(t["run"])
        rows.append({
            "executor": name,
            "startup_s": statistics.median(t["startup"]),
            "sweep_s": run,
            "trials_per_s": trials / run,
            "vs_serial": _speedup(times, name, SERIAL),
            "vs_one_worker": _speedup(times, name, POOL_1 if name in SWEEPS else BARE_1),
            "vs_one_worker_spread": _spread(
                _speedups(times, name, POOL_1 if name in SWEEPS else BARE_1)),
            "overhead_per_trial_ms": 1000 * (run / trials - bare_per_trial)
            if name.endswith(("1 worker", "this process")) else None,
        })
    return rows


# -- the driver's own cost per finished trial ---------------------------------------------
def _outcome(i: int) -> TrialOutcome:
    logs = {"loss": 0.1 / (i + 1), "val_loss": 0.2 / (i + 1)}
    return TrialOutcome(index=i, status="ok", logs=logs, epochs=50, seconds=1.0)


def driver_cost(folder: Path, sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    """What the sweep's own process spends per finished trial: recording n trials one
    by one (rows, ranking, the files rewritten as ``npframe.sweep`` rewrites them), and
    one full rewrite of a table of n rows."""
    out = []
    for n in sizes:
        table = ResultsTable.new(param_paths=["optimizer.learning_rate", "layers[0].units"],
                                 rank="val_loss", greater_is_better=False,
                                 log_keys=["loss", "val_loss"], spread=False,
                                 settings={"spec": TRIAL_NET},
                                 paths=ResultPaths.from_out(folder / f"driver{n}.csv"))
        keeper = _Keeper(table, lambda i: {"optimizer.learning_rate": 10.0 ** -(i % 5),
                                           "layers[0].units": 8 + i}, None, None)
        start = time.perf_counter()
        for i in range(n):
            keeper.record(_outcome(i))
        keeper.flush()
        record = (time.perf_counter() - start) / n
        laps = []
        for _ in range(3):
            start = time.perf_counter()
            table.save()
            laps.append(time.perf_counter() - start)
        out.append({"rows": n, "record_ms": 1000 * record,
                    "save_ms": 1000 * statistics.median(laps)})
    return out


# -- data-parallel arithmetic -------------------------------------------------------------
NETS = {
    "tutorial 2-4-4-3 (full batch 7000, float64)": ([2, 4, 4, 3], 7000, "float64"),
    "784-256-256-10 (batch 128, float32)": ([784, 256, 256, 10], 128, "float32"),
    "1024-4096-4096-1024 (batch 512, float32)": ([1024, 4096, 4096, 1024], 512, "float32"),
}


def step_seconds(sizes: list[int], batch: int, dtype: str, steps: int) -> tuple[float, int]:
    """Median seconds of one training step on one batch; the parameter count.

    One step is one ``fit`` epoch over exactly one (full) batch.
    """
    spec = {"input": sizes[0], "seed": 0, "dtype": dtype,
            "layers": [{"units": u, "activation": "relu"} for u in sizes[1:-1]]
            + [{"units": sizes[-1], "activation": "linear"}]}
    net = npframe.Network.from_spec(spec)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(batch, sizes[0])).astype(dtype)
    y = rng.normal(size=(batch, sizes[-1])).astype(dtype)
    net.fit(X, y, epochs=1, shuffle=False)  # warm-up: buffers, caches
    laps = []
    for _ in range(steps):
        start = time.perf_counter()
        net.fit(X, y, epochs=1, shuffle=False)
        laps.append(time.perf_counter() - start)
    n_params = sum(w.size for w in net.get_weights())
    return statistics.median(laps), n_params


#: One network message's latency, assumed (Ethernet within a rack).
LATENCY = 50e-6


def allreduce_seconds(nbytes: int, workers: int, gbit: float, latency: float) -> float:
    """A ring all-reduce: each worker sends and receives 2 (N-1)/N of the gradient bytes,
    in 2 (N-1) rounds that each pay the network latency."""
    volume = 2 * (workers - 1) / workers * nbytes
    return volume * 8 / (gbit * 1e9) + 2 * (workers - 1) * latency


def data_parallel(steps: int, quick: bool) -> list[dict[str, Any]]:
    rows = []
    with process_pool(1) as pool:  # one core, BLAS on one thread
        for name, (sizes, batch, dtype) in NETS.items():
            if quick and sizes[1] > 1000:
                continue
            n_steps = steps if sizes[1] < 1000 else 2
            seconds, n_params = pool.submit(step_seconds, sizes, batch, dtype, n_steps).result()
            rows.append(_data_parallel_row(name, seconds, n_params, dtype))
            print(f"  {name}: step {1000 * seconds:.3f} ms", file=sys.stderr, flush=True)
    return rows


def _data_parallel_row(name: str, seconds: float, n_params: int, dtype: str) -> dict[str, Any]:
    nbytes = n_params * np.dtype(dtype).itemsize
    row = {"net": name, "parameters": n_params, "gradient_MB": nbytes / 1e6,
           "step_ms": 1000 * seconds}
    for gbit in (1, 10):
        comm = allreduce_seconds(nbytes, 8, gbit, latency=LATENCY)
        row[f"allreduce_8_at_{gbit}G_ms"] = 1000 * comm
        # 8 machines, each 1/8 of the batch: the best case, compute scales perfectly
        row[f"speedup_8_at_{gbit}G"] = seconds / (seconds / 8 + comm)
    return row


# -- main -----------------------------------------------------------------------------------
def markdown(rows: list[dict[str, Any]], columns: list[tuple[str, str, str]]) -> str:
    lines = ["| " + " | ".join(title for _, title, _ in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        cells = []
        for key, _, fmt in columns:
            value = row.get(key)
            cells.append("-" if value is None else format(value, fmt))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs")
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--trials", type=int, default=4, help="trials per throughput sweep")
    parser.add_argument("--trial-seconds", type=float, default=1.0)
    parser.add_argument("--parts", default="throughput,overhead,driver,dp",
                        help="which measurements, comma-separated (default: all four)")
    parser.add_argument("--out", type=Path,
                        default=Path(tempfile.gettempdir()) / "npframe-sweep-bench")
    args = parser.parse_args()
    if args.quick:
        args.reps, args.trials, args.trial_seconds = 1, 4, 0.3
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "numpy": np.__version__, "npframe": npframe.__version__,
                    "load_average": os.getloadavg()},
        "settings": vars(args) | {"out": str(args.out)},
    }
    parts = set(args.parts.split(","))
    names = [*SWEEPS, *BARE]
    with tempfile.TemporaryDirectory(prefix="npframe-sweep-bench-") as scratch:
        folder = Path(scratch)
        if "throughput" in parts:
            data = write_data(folder, 2000, "data.npz")
            epochs = calibrate(data, args.trial_seconds)
            print(f"throughput: {args.trials} trials of {epochs} epochs", file=sys.stderr)
            times = interleaved(sweep_of(data, args.trials, epochs, TRIAL_NET), args.reps,
                                folder / "results.csv", names)
            report["throughput"] = {
                "epochs": epochs, "trials": args.trials,
                "trial_seconds": statistics.median(times[BARE_1]["run"]) / args.trials,
                "rows": throughput_table(times, args.trials)}
        if "overhead" in parts:
            tiny_data = write_data(folder, 64, "tiny.npz")
            tiny_net = {**TRIAL_NET, "layers": [{"units": 8, "activation": "relu"},
                                                {"units": 1, "activation": "linear"}]}
            tiny = sweep_of(tiny_data, 40 if args.quick else 100, 1, tiny_net)
            print("overhead: tiny trials", file=sys.stderr)
            n_tiny = len(tiny["grid"]["seed"])
            tiny_times = interleaved(tiny, min(args.reps, 5), folder / "tiny.csv", names)
            report["overhead"] = {"trials": n_tiny,
                                  "rows": throughput_table(tiny_times, n_tiny)}
        if "driver" in parts:
            report["driver"] = driver_cost(folder, (10, 100, 1000) if args.quick
                                           else (10, 100, 1000, 10000))
    if "dp" in parts:
        print("data-parallel steps", file=sys.stderr)
        report["data_parallel"] = data_parallel(5, args.quick)
    report["machine"]["load_average_after"] = os.getloadavg()

    path = args.out / "results.json"
    path.write_text(json.dumps(report, indent=1))
    if "throughput" in report:
        t = report["throughput"]
        print(f"\n## Throughput: {t['trials']} trials of ~{t['trial_seconds']:.2f} s on one "
              f"BLAS thread ({t['epochs']} epochs)\n")
        print(markdown(t["rows"], [("executor", "executor", "s"),
                                   ("startup_s", "start-up (s)", ".2f"),
                                   ("sweep_s", "run (s)", ".2f"),
                                   ("trials_per_s", "trials/s", ".2f"),
                                   ("vs_serial", "vs serial", ".2f"),
                                   ("vs_one_worker", "vs 1 worker", ".2f"),
                                   ("vs_one_worker_spread", "(middle half)", "s")]))
    if "overhead" in report:
        o = report["overhead"]
        print(f"\n## Per-trial overhead: {o['trials']} tiny trials\n")
        print(markdown(o["rows"], [
            ("executor", "executor", "s"), ("sweep_s", "run (s)", ".2f"),
            ("trials_per_s", "trials/s", ".1f"), ("vs_one_worker", "vs 1 worker", ".2f"),
            ("overhead_per_trial_ms", "ms per trial over bare fit", ".1f")]))
    if "driver" in report:
        print("\n## Driver: per finished trial, and one rewrite of the files\n")
        print(markdown(report["driver"], [("rows", "trials (rows)", "d"),
                                          ("record_ms", "ms per trial recorded", ".3f"),
                                          ("save_ms", "ms per full rewrite", ".2f")]))
    if "data_parallel" in report:
        print("\n## Data-parallel: one step on one core vs a ring all-reduce over 8 machines\n")
        print(markdown(report["data_parallel"], [
            ("net", "network", "s"), ("parameters", "parameters", ",d"),
            ("gradient_MB", "gradients (MB)", ".3f"), ("step_ms", "step (ms)", ".3f"),
            ("allreduce_8_at_1G_ms", "all-reduce 1 Gbit/s (ms)", ".3f"),
            ("allreduce_8_at_10G_ms", "all-reduce 10 Gbit/s (ms)", ".3f"),
            ("speedup_8_at_1G", "8 machines, 1 Gbit/s", ".2f"),
            ("speedup_8_at_10G", "8 machines, 10 Gbit/s", ".2f")]))
    machine = report["machine"]
    print(f"\n(results: {path}; load average at start {machine['load_average']}, "
          f"at the end {machine['load_average_after']})")


if __name__ == "__main__":
    main()
