#!/usr/bin/env python
"""Which optimizer, batch size and epoch count should npframe default to? Measured.

Issue 10 ("Defaults that fit"): a user who writes only the layers should get a good fit
on ordinary tabular data. This script trains one hidden layer of 100 ReLU units
(scikit-learn's MLP default) with npframe's public API on scikit-learn's bundled data
sets, over a grid of optimizers, batch sizes and epoch counts, several seeds per cell,
and beside it scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` with their defaults
as the reference.

Data (fixed split: ``test_size=0.25``, ``random_state=0``, stratified for
classification; inputs standardized with statistics of the training part):

* ``breast_cancer`` (569 x 30, 2 classes): softmax over 2 one-hot columns +
  ``categorical_crossentropy``, and 1 sigmoid unit + ``binary_crossentropy``
* ``digits`` (1797 x 64, 10 classes): softmax + ``categorical_crossentropy``
* ``diabetes`` (442 x 10, target mean 152, std 77): linear output + ``mse``, on raw
  targets and on targets standardized with the training statistics
* ``friedman1`` (``make_friedman1(1000, noise=1.0, random_state=0)``, nonlinear, 10
  features of which 5 matter): as diabetes. California housing is not bundled with
  scikit-learn (it downloads), so it is not used.

npframe grid: optimizer {sgd 0.01, sgd 0.1, momentum (0.01, 0.9), adam 1e-3, adam 1e-2}
x batch size {32, 200 (scikit-learn's "auto" = min(200, n)), full batch} x epochs
{50, 100, 200, 500} x seeds. One run per (optimizer, batch, seed) trains to the largest
epoch count in chunks and is scored at every checkpoint on the way (``fit`` continued
in chunks gives bit-identical weights to one uninterrupted ``fit``, which the script
checks once); the time at a checkpoint is the training time up to it.

scikit-learn reference: defaults (adam 1e-3, batch "auto", ``alpha=1e-4``,
``tol=1e-4`` with ``n_iter_no_change=10``, so it often stops early) with
``max_iter`` 200 (its default) and 500, on raw and on standardized regression targets.

Also measured: the side-by-side time of the recommended defaults against scikit-learn's
default MLP (interleaved, same process, medians), whether standardizing regression
targets matters with those defaults, and how often a run ends "no better than it
started" (material for a ``ConvergenceWarning`` heuristic). A side study reruns Adam
1e-3 with scikit-learn's initializer (Glorot uniform) instead of npframe's ``he``.

    python benchmarks/defaults_study.py --quick                 # smoke run, ~10 seconds
    python benchmarks/defaults_study.py                         # the study, 5-12 min on 2 cores
    python benchmarks/defaults_study.py --md docs/defaults.md   # also refresh the doc

``--md`` rewrites what follows the "generated" marker in the file and keeps the
hand-written text above it; ``--from-json FILE`` re-renders a saved run (e.g. with
another ``--recommend``) without training anything.

BLAS is pinned to one thread per process (the matrices are small; two worker processes
use the two cores). Results (JSON and markdown) go to ``$TMPDIR/npframe-defaults/``
unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import itertools
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

import npframe

try:
    import sklearn
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, make_friedman1
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - a message for people, not a code path to test
    sys.exit("defaults_study.py needs scikit-learn: pip install scikit-learn")

DEFAULT_OUT = Path(tempfile.gettempdir()) / "npframe-defaults"
HIDDEN = 100

OPTIMIZERS: dict[str, dict[str, Any]] = {
    "sgd 0.01": {"name": "sgd", "learning_rate": 0.01},
    "sgd 0.1": {"name": "sgd", "learning_rate": 0.1},
    "momentum 0.01": {"name": "momentum", "learning_rate": 0.01, "momentum": 0.9},
    "adam 1e-3": {"name": "adam", "learning_rate": 1e-3},
    "adam 1e-2": {"name": "adam", "learning_rate": 1e-2},
}
BATCHES = ["32", "200", "full"]
EPOCHS = [50, 100, 200, 500]
SEEDS = [0, 1, 2, 3, 4]

#: (variant, data set, head). The head says how the network's output is prepared.
VARIANTS = [
    ("breast_cancer/softmax", "breast_cancer", "softmax"),
    ("breast_cancer/sigmoid", "breast_cancer", "sigmoid"),
    ("digits/softmax", "digits", "softmax"),
    ("diabetes/raw y", "diabetes", "raw"),
    ("diabetes/std y", "diabetes", "std"),
    ("friedman1/raw y", "friedman1", "raw"),
    ("friedman1/std y", "friedman1", "std"),
]

#: A side study: npframe's default initializer is ``he``; scikit-learn's is Glorot uniform.
INIT_STUDY = {"initializers": ["glorot_uniform"], "optimizers": ["adam 1e-3"],
              "batches": ["32", "200"]}

#: Today's defaults and the candidate the doc recommends (``--recommend`` overrides it).
TODAY = ("sgd 0.01", "full", 100)
RECOMMENDED = ("adam 1e-3", "32", 100)


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------
_DATA_CACHE: dict[str, dict[str, Any]] = {}


def load_data(name: str) -> dict[str, Any]:
    """The split and standardized arrays of one data set (cached per process)."""
    if name in _DATA_CACHE:
        return _DATA_CACHE[name]
    if name == "breast_cancer":
        X, y = load_breast_cancer(return_X_y=True)
    elif name == "digits":
        X, y = load_digits(return_X_y=True)
    elif name == "diabetes":
        X, y = load_diabetes(return_X_y=True)
    elif name == "friedman1":
        X, y = make_friedman1(n_samples=1000, n_features=10, noise=1.0, random_state=0)
    else:
        raise ValueError(f"unknown data set {name!r}")
    classification = name in ("breast_cancer", "digits")
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y if classification else None)
    mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
    std[std == 0] = 1.0  # digits has constant pixels
    data = {
        "name": name,
        "classification": classification,
        "X_tr": (X_tr - mean) / std,
        "X_te": (X_te - mean) / std,
        "y_tr": y_tr,
        "y_te": y_te,
    }
    if classification:
        classes = np.unique(y_tr)
        data["classes"] = classes
        data["onehot_tr"] = (y_tr[:, None] == classes[None, :]).astype(float)
        counts = np.array([(y_te == c).sum() for c in classes])
        data["trivial"] = float(counts.max() / len(y_te))  # majority-class accuracy
    else:
        data["y_mean"], data["y_std"] = float(y_tr.mean()), float(y_tr.std())
        data["trivial"] = 0.0  # R² of predicting the training mean, about 0
    _DATA_CACHE[name] = data
    return data


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """scikit-learn's ``r2_score`` for one output."""
    ss_res = float(np.sum((y_true - y_pred) ** 2))
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    return 1.0 - ss_res / ss_tot


# ---------------------------------------------------------------------------------------
# npframe runs
# ---------------------------------------------------------------------------------------
def npframe_problem(data: dict[str, Any], head: str, optimizer: dict[str, Any], seed: int,
                    ) -> tuple[dict[str, Any], np.ndarray, Any]:
    """The spec, the training targets and a scorer ``net -> test metric`` for one head."""
    layers = [{"units": HIDDEN, "activation": "relu"}]
    spec: dict[str, Any] = {"input": data["X_tr"].shape[1], "seed": seed,
                            "optimizer": dict(optimizer)}
    X_te, y_te = data["X_te"], data["y_te"]
    if head == "softmax":
        classes = data["classes"]
        spec.update(loss="categorical_crossentropy",
                    layers=[*layers, {"units": len(classes), "activation": "softmax"}])
        Y = data["onehot_tr"]

        def score(net):
            return float(np.mean(classes[np.argmax(net.predict(X_te), axis=1)] == y_te))
    elif head == "sigmoid":
        classes = data["classes"]
        spec.update(loss="binary_crossentropy",
                    layers=[*layers, {"units": 1, "activation": "sigmoid"}])
        Y = data["onehot_tr"][:, 1:]

        def score(net):
            return float(np.mean(classes[(net.predict(X_te)[:, 0] > 0.5).astype(int)] == y_te))
    else:
        spec.update(loss="mse", layers=[*layers, {"units": 1, "activation": "linear"}])
        if head == "std":
            mu, sd = data["y_mean"], data["y_std"]
        else:
            mu, sd = 0.0, 1.0
        Y = ((data["y_tr"] - mu) / sd)[:, None]

        def score(net):
            return r2(y_te, net.predict(X_te)[:, 0] * sd + mu)
    return spec, Y, score


def batch_size_of(batch: str, n: int) -> int | None:
    if batch == "full":
        return None
    return min(int(batch), n)


def constant_loss(loss: str, Y: np.ndarray) -> float:
    """The loss of predicting the training targets' column means for every sample.

    Loss-agnostic (it only calls the loss): for ``mse`` that is the best constant
    prediction (training R² = 0), for the cross-entropies the class priors.
    """
    return npframe.registry.create("loss", loss).value(Y, np.broadcast_to(Y.mean(axis=0), Y.shape))


def run_npframe(variant: str, dataset: str, head: str, opt_key: str, batch: str, seed: int,
                checkpoints: list[int], initializer: str = "he") -> list[dict[str, Any]]:
    """Train one (variant, optimizer, batch, seed) run to the last checkpoint.

    One record per checkpoint: test metric, training seconds so far, and the training
    loss before training, after the first epoch and at the checkpoint (for the
    "no better than it started" question).
    """
    data = load_data(dataset)
    spec, Y, score = npframe_problem(data, head, OPTIMIZERS[opt_key], seed)
    spec["initializer"] = initializer
    X = data["X_tr"]
    bs = batch_size_of(batch, len(X))
    net = npframe.Network.from_spec(spec)
    loss_init = net.evaluate(X, Y)
    epoch_losses: list[float] = []
    seconds = 0.0
    diverged_at: int | None = None
    records = []
    done = 0
    for stop in checkpoints:
        if diverged_at is None:
            t0 = time.perf_counter()
            try:
                history = net.fit(X, Y, epochs=stop - done, batch_size=bs, shuffle=True)
                epoch_losses.extend(history.loss)
            except npframe.DivergenceError:
                diverged_at = net.epoch
            seconds += time.perf_counter() - t0
            done = stop
        base = {"variant": variant, "dataset": dataset, "head": head, "optimizer": opt_key,
                "batch": batch, "seed": seed, "epochs": stop, "seconds": seconds,
                "initializer": initializer, "loss_init": loss_init,
                "loss_constant": constant_loss(spec["loss"], Y)}
        if diverged_at is not None:
            records.append({**base, "metric": float("nan"), "diverged_at": diverged_at,
                            "loss_first": epoch_losses[0] if epoch_losses else float("nan"),
                            "loss_last_epoch": float("nan"), "loss_final": float("nan")})
            continue
        metric = score(net)
        back = max(5, stop // 10)
        records.append({**base, "metric": metric if math.isfinite(metric) else float("nan"),
                        "diverged_at": None, "loss_first": epoch_losses[0],
                        "loss_last_epoch": epoch_losses[-1],
                        "loss_back": epoch_losses[-1 - back],
                        "sklearn_would_stop": sklearn_would_stop(epoch_losses),
                        "loss_final": net.evaluate(X, Y)})
    return records


def sklearn_would_stop(losses: list[float], tol: float = 1e-4, patience: int = 10) -> bool:
    """scikit-learn's MLP stopping rule (``tol``, ``n_iter_no_change``) on a loss history:
    True when it would have stopped (so not warned) within these epochs."""
    best, count = math.inf, 0
    for loss in losses:
        count = count + 1 if loss > best - tol else 0
        best = min(best, loss)
        if count > patience:
            return True
    return False


# ---------------------------------------------------------------------------------------
# scikit-learn reference runs
# ---------------------------------------------------------------------------------------
def sklearn_model(data: dict[str, Any], seed: int, max_iter: int):
    cls = MLPClassifier if data["classification"] else MLPRegressor
    return cls(hidden_layer_sizes=(HIDDEN,), random_state=seed, max_iter=max_iter)


def run_sklearn(variant: str, dataset: str, head: str, seed: int, max_iter: int,
                ) -> dict[str, Any]:
    """scikit-learn's default MLP (only ``max_iter`` and ``random_state`` set)."""
    data = load_data(dataset)
    X, X_te, y_te = data["X_tr"], data["X_te"], data["y_te"]
    model = sklearn_model(data, seed, max_iter)
    if data["classification"]:
        y, mu, sd = data["y_tr"], 0.0, 1.0
    elif head == "std":
        mu, sd = data["y_mean"], data["y_std"]
        y = (data["y_tr"] - mu) / sd
    else:
        y, mu, sd = data["y_tr"], 0.0, 1.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        t0 = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - t0
    if data["classification"]:
        metric = float(np.mean(model.predict(X_te) == y_te))
    else:
        metric = r2(y_te, model.predict(X_te) * sd + mu)
    return {"variant": variant, "dataset": dataset, "head": head, "seed": seed,
            "max_iter": max_iter, "metric": metric, "seconds": seconds,
            "n_iter": int(model.n_iter_),
            "convergence_warning": any(issubclass(w.category, ConvergenceWarning)
                                       for w in caught)}


# ---------------------------------------------------------------------------------------
# Side-by-side timing of the recommended defaults against scikit-learn's default MLP
# ---------------------------------------------------------------------------------------
def time_side_by_side(recommended: tuple[str, str, int], variants: list[tuple[str, str, str]],
                      reps: int) -> list[dict[str, Any]]:
    """Interleaved (npframe, sklearn, sklearn, npframe, ...) in this process; medians."""
    opt_key, batch, epochs = recommended
    out = []
    for variant, dataset, head in variants:
        data = load_data(dataset)
        X = data["X_tr"]
        bs = batch_size_of(batch, len(X))
        times: dict[str, list[float]] = {"npframe": [], "sklearn": []}
        sk_iters = []
        for rep in range(reps):
            order = ["npframe", "sklearn"] if rep % 2 == 0 else ["sklearn", "npframe"]
            for who in order:
                if who == "npframe":
                    spec, Y, _ = npframe_problem(data, head, OPTIMIZERS[opt_key], rep)
                    net = npframe.Network.from_spec(spec)
                    t0 = time.perf_counter()
                    net.fit(X, Y, epochs=epochs, batch_size=bs, shuffle=True)
                    times["npframe"].append(time.perf_counter() - t0)
                else:
                    record = run_sklearn(variant, dataset, head, rep, 200)
                    times["sklearn"].append(record["seconds"])
                    sk_iters.append(record["n_iter"])
        ratios = [a / b for a, b in zip(times["npframe"], times["sklearn"], strict=True)]
        per_epoch = [(a / epochs) / (b / it) for a, b, it in
                     zip(times["npframe"], times["sklearn"], sk_iters, strict=True)]
        out.append({"variant": variant, "reps": reps, "epochs": epochs,
                    "npframe_s": statistics.median(times["npframe"]),
                    "sklearn_s": statistics.median(times["sklearn"]),
                    "sklearn_n_iter": statistics.median(sk_iters),
                    "ratio": statistics.median(ratios),
                    "ratio_per_epoch": statistics.median(per_epoch)})
    return out


# ---------------------------------------------------------------------------------------
# Orchestration
# ---------------------------------------------------------------------------------------
def check_chunked_fit_is_one_fit() -> None:
    """The grid scores one run at several epoch counts; that relies on this."""
    data = load_data("breast_cancer")
    spec, Y, _ = npframe_problem(data, "softmax", OPTIMIZERS["adam 1e-3"], 0)
    a, b = npframe.Network.from_spec(spec), npframe.Network.from_spec(spec)
    a.fit(data["X_tr"], Y, epochs=7, batch_size=32)
    b.fit(data["X_tr"], Y, epochs=3, batch_size=32)
    b.fit(data["X_tr"], Y, epochs=4, batch_size=32)
    same = all(np.array_equal(u, v) for u, v in
               zip(a.get_weights(), b.get_weights(), strict=True))
    if not same:
        sys.exit("fit in chunks no longer equals one fit: score each epoch count separately")


def _warm_up() -> None:
    """One BLAS thread; load the plugins, the data and NumPy's code paths before timing."""
    threadpool_limits(limits=1, user_api="blas")
    for name in ("breast_cancer", "digits", "diabetes", "friedman1"):
        load_data(name)
    for name, head in (("breast_cancer", "softmax"), ("breast_cancer", "sigmoid"),
                       ("diabetes", "std")):
        data = load_data(name)
        spec, Y, score = npframe_problem(data, head, OPTIMIZERS["adam 1e-3"], 0)
        net = npframe.Network.from_spec(spec)
        net.fit(data["X_tr"], Y, epochs=2, batch_size=32)
        score(net)


def _call(job: tuple[str, tuple]) -> Any:
    kind, args = job
    return run_npframe(*args) if kind == "npframe" else run_sklearn(*args)


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    check_chunked_fit_is_one_fit()
    variants = [v for v in VARIANTS if not args.variants or v[0] in args.variants]
    jobs: list[tuple[str, tuple]] = []
    for (variant, dataset, head), opt, batch, seed in itertools.product(
            variants, args.optimizers, args.batches, args.seeds):
        jobs.append(("npframe", (variant, dataset, head, opt, batch, seed, args.epochs)))
    for (variant, dataset, head), init, opt, batch, seed in itertools.product(
            variants, INIT_STUDY["initializers"], INIT_STUDY["optimizers"], args.init_batches,
            args.seeds):
        jobs.append(("npframe", (variant, dataset, head, opt, batch, seed, args.epochs, init)))
    for (variant, dataset, head), seed, max_iter in itertools.product(
            variants, args.seeds, args.max_iter):
        jobs.append(("sklearn", (variant, dataset, head, seed, max_iter)))

    # Longest first (small batches, digits), so the two workers finish together.
    def cost(job):
        kind, a = job
        if kind == "sklearn":
            return 1
        n = len(load_data(a[1])["X_tr"])
        steps = 1 if a[4] == "full" else math.ceil(n / int(a[4]))
        return steps * (3 if a[1] == "digits" else 1)

    jobs.sort(key=cost, reverse=True)
    t0 = time.perf_counter()
    npf, skl = [], []
    done = 0
    with cf.ProcessPoolExecutor(max_workers=args.jobs, initializer=_warm_up) as pool:
        futures = {pool.submit(_call, job): job for job in jobs}
        for fut in cf.as_completed(futures):
            kind, _ = futures[fut]
            result = fut.result()
            (npf.extend if kind == "npframe" else skl.append)(result)
            done += 1
            if done % 25 == 0 or done == len(jobs):
                print(f"  {done}/{len(jobs)} runs, {time.perf_counter() - t0:.0f} s",
                      flush=True)
    grid_seconds = time.perf_counter() - t0

    recommended = tuple(args.recommend)
    timing_variants = [v for v in variants if v[2] in ("softmax", "std")]
    print("side-by-side timing ...", flush=True)
    _warm_up()
    t1 = time.perf_counter()
    timing = time_side_by_side(recommended, timing_variants, args.timing_reps)
    return {"npframe": npf, "sklearn": skl, "timing": timing,
            "grid_seconds": grid_seconds, "timing_seconds": time.perf_counter() - t1,
            "config": {"optimizers": args.optimizers, "batches": args.batches,
                       "epochs": args.epochs, "seeds": args.seeds, "max_iter": args.max_iter,
                       "init_study": {**INIT_STUDY, "batches": args.init_batches},
                       "variants": [v[0] for v in variants], "jobs": args.jobs,
                       "recommended": list(recommended), "today": list(TODAY)},
            "data": data_summary(variants), "machine": machine(), "command": args.command,
            "date": dt.datetime.now().isoformat(timespec="seconds")}


def data_summary(variants) -> list[dict[str, Any]]:
    out = []
    for name in dict.fromkeys(v[1] for v in variants):
        d = load_data(name)
        row = {"name": name, "n_train": len(d["X_tr"]), "n_test": len(d["X_te"]),
               "features": d["X_tr"].shape[1], "classification": d["classification"],
               "trivial": d["trivial"]}
        if d["classification"]:
            row["classes"] = len(d["classes"])
        else:
            row["y_mean"], row["y_std"] = d["y_mean"], d["y_std"]
        out.append(row)
    return out


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "npframe": npframe.__version__,
            "sklearn": sklearn.__version__, "platform": platform.platform(),
            "load_at_start": list(load) if load else None}


# ---------------------------------------------------------------------------------------
# Analysis and markdown
# ---------------------------------------------------------------------------------------
def _mean(xs):
    xs = [x for x in xs if math.isfinite(x)]
    return statistics.fmean(xs) if xs else float("nan")


def fmt(x: float, digits: int = 3) -> str:
    return "—" if not math.isfinite(x) else f"{x:.{digits}f}"


def fmt_s(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def cell_stats(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Mean, worst seed (NaN = diverged counts as worst), mean seconds of a grid cell."""
    metrics = [r["metric"] for r in runs]
    diverged = sum(not math.isfinite(m) for m in metrics)
    finite = [m for m in metrics if math.isfinite(m)]
    return {"mean": statistics.fmean(metrics) if not diverged else float("nan"),
            "min": min(finite) if finite and not diverged else float("nan"),
            "diverged": diverged, "n": len(metrics),
            "seconds": statistics.fmean(r["seconds"] for r in runs)}


def analyse(res: dict[str, Any]) -> dict[str, Any]:
    """Cells (mean over seeds), the reference, and every grid cell ranked."""
    cfg = res["config"]
    runs: dict[tuple, list] = defaultdict(list)
    for r in res["npframe"]:
        runs[(r["initializer"], r["variant"], r["optimizer"], r["batch"], r["epochs"])].append(r)
    all_cells = {k: cell_stats(v) for k, v in runs.items()}
    cells = {k[1:]: c for k, c in all_cells.items() if k[0] == "he"}
    sk: dict[tuple, list] = defaultdict(list)
    for r in res["sklearn"]:
        sk[(r["variant"], r["max_iter"])].append(r)
    reference = {v: _mean(r["metric"] for r in sk[(v, 200)]) for v in cfg["variants"]
                 if (v, 200) in sk}
    best = {}
    for (variant, *_), c in cells.items():
        if math.isfinite(c["mean"]):
            best[variant] = max(best.get(variant, -math.inf), c["mean"])
    core = [v for v in cfg["variants"] if not v.endswith("raw y")]
    ranking = []
    for opt, batch, epochs in itertools.product(cfg["optimizers"], cfg["batches"],
                                                cfg["epochs"]):
        row_cells = {v: cells.get((v, opt, batch, epochs)) for v in cfg["variants"]}
        if any(c is None for c in row_cells.values()):
            continue
        diverged = sum(c["diverged"] for c in row_cells.values())
        regret = {v: best[v] - c["mean"] if math.isfinite(c["mean"]) else math.inf
                  for v, c in row_cells.items()}
        worst = max(regret, key=regret.get)
        gaps = [row_cells[v]["mean"] - reference[v] for v in core if v in reference]
        ranking.append({"optimizer": opt, "batch": batch, "epochs": epochs,
                        "diverged": diverged, "runs": sum(c["n"] for c in row_cells.values()),
                        "worst_regret": regret[worst], "worst_variant": worst,
                        "mean_regret_core": statistics.fmean(regret[v] for v in core),
                        "mean_gap_core": statistics.fmean(gaps) if gaps else float("nan"),
                        "seconds": sum(c["seconds"] for c in row_cells.values())})
    ranking.sort(key=lambda r: (r["diverged"] > 0, r["worst_regret"], r["mean_regret_core"]))
    return {"cells": cells, "all_cells": all_cells, "sk": sk, "reference": reference,
            "best": best, "ranking": ranking, "core": core}


CONVERGENCE_RULES = [
    ("vs_init", "final training loss ≥ loss before training (issue 10's wording)"),
    ("vs_first", "last epoch's mean loss ≥ first epoch's mean loss"),
    ("half_init", "final training loss ≥ 0.5 x loss before training"),
    ("vs_constant", "final training loss ≥ loss of the best constant prediction "
                    "(training R² ≤ 0; class priors)"),
    ("half_constant", "final training loss ≥ 0.5 x loss of the best constant prediction"),
    ("improving", "still improving: last epoch's loss < 0.99 x the loss max(5, E/10) "
                  "epochs earlier"),
    ("sklearn", "scikit-learn's rule: never 10 epochs in a row without a 1e-4 "
                "(absolute) improvement"),
]


def convergence_rows(res: dict[str, Any], best: dict[str, float]) -> list[dict[str, Any]]:
    trivial = {d["name"]: d["trivial"] for d in res["data"]}
    rows = []
    for r in res["npframe"]:
        if r["diverged_at"] is not None or r["initializer"] != "he":
            continue
        classification = r["head"] in ("softmax", "sigmoid")
        margin = 0.02 if classification else 0.05
        rows.append({
            "run": r,
            "bad": r["metric"] <= trivial[r["dataset"]] + margin,
            "poor": r["metric"] < best[r["variant"]] - 0.05,
            "vs_init": r["loss_final"] >= r["loss_init"],
            "vs_first": r["loss_last_epoch"] >= r["loss_first"],
            "half_init": r["loss_final"] >= 0.5 * r["loss_init"],
            "vs_constant": r["loss_final"] >= r["loss_constant"],
            "half_constant": r["loss_final"] >= 0.5 * r["loss_constant"],
            "improving": r["loss_last_epoch"] < 0.99 * r["loss_back"],
            "sklearn": not r["sklearn_would_stop"],
            "ratio": r["loss_final"] / r["loss_init"],
        })
    return rows


def convergence_table(rows: list[dict[str, Any]]) -> list[str]:
    n = len(rows)
    bad, poor = sum(r["bad"] for r in rows), sum(r["poor"] and not r["bad"] for r in rows)
    good = n - bad - poor
    lines = ["| rule: warn when ... | runs warned | bad fits warned | poor fits warned | "
             "good fits warned (false alarms) |", "|---|---|---|---|---|"]
    for key, label in CONVERGENCE_RULES:
        flagged = sum(r[key] for r in rows)
        hit_bad = sum(r[key] and r["bad"] for r in rows)
        hit_poor = sum(r[key] and r["poor"] and not r["bad"] for r in rows)
        lines.append(f"| {label} | {flagged} of {n} ({flagged / max(n, 1):.1%}) | "
                     f"{hit_bad} of {bad} | {hit_poor} of {poor} | {flagged - hit_bad - hit_poor}"
                     f" of {good} |")
    return lines


def markdown(res: dict[str, Any]) -> str:
    cfg, a = res["config"], analyse(res)
    cells, sk, reference = a["cells"], a["sk"], a["reference"]
    m = res["machine"]
    rec = (cfg["recommended"][0], cfg["recommended"][1], int(cfg["recommended"][2]))
    today = (cfg["today"][0], cfg["today"][1], int(cfg["today"][2]))
    n_seeds = len(cfg["seeds"])

    def show(c: dict[str, float] | None) -> str:
        if c is None:
            return "not measured"
        if c["diverged"]:
            return f"diverged {c['diverged']}/{c['n']}"
        return f"{fmt(c['mean'])} ({fmt(c['min'])})"

    out = [
        "## The measurements",
        "",
        f"Generated by `{res['command']}` on {res['date']}.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores (shared); Python {m['python']}, NumPy "
        f"{m['numpy']}, npframe {m['npframe']}, scikit-learn {m['sklearn']}; BLAS pinned to "
        f"1 thread per process, {cfg['jobs']} worker processes; load average at start "
        f"{[round(x, 2) for x in m['load_at_start'] or []]}. Grid {res['grid_seconds']:.0f} s, "
        f"side-by-side timing {res['timing_seconds']:.0f} s.",
        "",
        "Network: one hidden layer of 100 ReLU units (scikit-learn's default), npframe's "
        "default initializer (`he`) unless said otherwise, float64, built with "
        "`npframe.Network.from_spec` and trained with `fit(X, Y, epochs, batch_size, "
        "shuffle=True)`. Split: `train_test_split(test_size=0.25, random_state=0)`, "
        "stratified for classification; inputs standardized with the training statistics. "
        f"Metric: test accuracy (classification), test R² (regression). Seeds per cell: {n_seeds} "
        "(spec `seed` / `random_state` 0, 1, ...); an entry is *mean (worst seed)*.",
        "",
        f"### Recommended (`{rec[0]}`, batch {rec[1]}, {rec[2]} epochs), today's "
        f"(`{today[0]}`, batch {today[1]}, {today[2]} epochs), scikit-learn's default",
        "",
        "| variant | today | recommended | scikit-learn default (max_iter 200) | "
        "recommended s | scikit-learn s |",
        "|---|---|---|---|---|---|",
    ]
    for v in cfg["variants"]:
        c_rec = cells.get((v, *rec))
        runs = sk.get((v, 200), [])
        sk_cell = ({"mean": _mean(r["metric"] for r in runs),
                    "min": min(r["metric"] for r in runs), "diverged": 0, "n": len(runs)}
                   if runs else None)
        out.append(f"| {v} | {show(cells.get((v, *today)))} | {show(c_rec)} | {show(sk_cell)} "
                   f"| {fmt_s(c_rec['seconds']) if c_rec else ''} | "
                   f"{fmt_s(_mean(r['seconds'] for r in runs)) if runs else ''} |")
    out += ["", "Seconds here are from the grid (two workers side by side on a shared machine); "
            "the side-by-side timing below is the better measure of time."]

    if res["timing"]:
        out += ["", "#### Time, side by side", "",
                "The recommended npframe fit and scikit-learn's default MLP, interleaved in "
                "one process (BLAS 1 thread), medians over "
                f"{res['timing'][0]['reps']} repetitions. scikit-learn stops early (its "
                "`tol`), so the per-epoch ratio is given too (npframe's epochs at batch "
                f"{rec[1]} against scikit-learn's at batch 200).", "",
                "| variant | npframe s | scikit-learn s | scikit-learn epochs | ratio (total) | "
                "ratio per epoch |", "|---|---|---|---|---|---|"]
        for t in res["timing"]:
            out.append(f"| {t['variant']} | {fmt_s(t['npframe_s'])} | {fmt_s(t['sklearn_s'])} "
                       f"| {t['sklearn_n_iter']:.0f} | {t['ratio']:.2f}x | "
                       f"{t['ratio_per_epoch']:.2f}x |")

    out += ["", "### Data", "",
            "| data set | train | test | features | target | trivial score |",
            "|---|---|---|---|---|---|"]
    for d in res["data"]:
        target = (f"{d['classes']} classes" if d["classification"]
                  else f"mean {d['y_mean']:.1f}, std {d['y_std']:.1f}")
        what = "majority-class accuracy" if d["classification"] else "R² of the mean"
        out.append(f"| {d['name']} | {d['n_train']} | {d['n_test']} | {d['features']} | "
                   f"{target} | {fmt(d['trivial'])} ({what}) |")
    out += [
        "",
        "Variants: *softmax* = one-hot targets, softmax output, `categorical_crossentropy`; "
        "*sigmoid* = 1 sigmoid unit, `binary_crossentropy`; *raw y* / *std y* = linear "
        "output, `mse`, on raw targets / on targets standardized with the training "
        "mean and std (predictions mapped back before scoring). `friedman1` is "
        "`make_friedman1(n_samples=1000, noise=1.0, random_state=0)`; California housing "
        "is not bundled with scikit-learn (it downloads), so it is not used.",
        "",
        "### scikit-learn's MLP with its defaults (the reference)",
        "",
        "`MLPClassifier` / `MLPRegressor(hidden_layer_sizes=(100,), random_state=seed, "
        "max_iter=...)`: adam 1e-3, batch min(200, n), `alpha=1e-4`, Glorot-uniform "
        "initialization, stops when the training loss has not improved by `tol=1e-4` for "
        "10 epochs. *warned* = runs that ended with scikit-learn's `ConvergenceWarning`.",
        "",
        "| variant | max_iter | mean (worst) | epochs run (median) | seconds (mean) | warned |",
        "|---|---|---|---|---|---|",
    ]
    for v in cfg["variants"]:
        for mi in cfg["max_iter"]:
            runs = sk.get((v, mi), [])
            if not runs:
                continue
            ms = [r["metric"] for r in runs]
            out.append(
                f"| {v} | {mi} | {fmt(statistics.fmean(ms))} ({fmt(min(ms))}) | "
                f"{statistics.median(r['n_iter'] for r in runs):.0f} | "
                f"{fmt_s(statistics.fmean(r['seconds'] for r in runs))} | "
                f"{sum(r['convergence_warning'] for r in runs)}/{len(runs)} |")

    out += [
        "",
        "### Every grid cell, ranked",
        "",
        "*Regret* of a cell on a variant = the best cell's mean on that variant minus this "
        "cell's mean (0 = the best any cell did). Ranked by the worst regret over all "
        f"{len(cfg['variants'])} variants (a default must not fail anywhere), then by the mean "
        f"regret over the {len(a['core'])} variants a careful user sees (classification and "
        "standardized regression targets). *vs sklearn* = mean over those of npframe's "
        "mean minus scikit-learn's default. *seconds* = training time summed over all "
        "variants (mean over seeds). Cells where some run diverged come last.",
        "",
        "| optimizer | batch | epochs | worst regret | on | mean regret | vs sklearn | "
        "diverged runs | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in a["ranking"]:
        key = (r["optimizer"], r["batch"], r["epochs"])
        mark = " **(recommended)**" if key == rec else (" *(today)*" if key == today else "")
        worst = ("—" if not math.isfinite(r["worst_regret"])
                 else fmt(r["worst_regret"]))
        out.append(f"| {r['optimizer']}{mark} | {r['batch']} | {r['epochs']} | {worst} | "
                   f"{r['worst_variant']} | {fmt(r['mean_regret_core'])} | "
                   f"{fmt(r['mean_gap_core'], 3)} | {r['diverged']}/{r['runs']} | "
                   f"{fmt_s(r['seconds'])} |")

    out += ["", "### Per variant", "",
            "Mean over seeds (worst seed) at that many epochs; the last column is the training "
            "time to the largest epoch count (mean over seeds). `div k/n` = k of n seeds ended "
            "in `DivergenceError`."]
    for v in cfg["variants"]:
        out += ["", f"#### {v} (scikit-learn default: {fmt(reference.get(v, math.nan))})", "",
                "| optimizer | batch | " + " | ".join(f"{e} ep" for e in cfg["epochs"])
                + f" | s @ {cfg['epochs'][-1]} |",
                "|---|---|" + "---|" * (len(cfg["epochs"]) + 1)]
        for opt, batch in itertools.product(cfg["optimizers"], cfg["batches"]):
            entries = []
            for e in cfg["epochs"]:
                c = cells.get((v, opt, batch, e))
                entries.append("" if c is None else (f"div {c['diverged']}/{c['n']}"
                                                     if c["diverged"] else show(c)))
            last = cells.get((v, opt, batch, cfg["epochs"][-1]))
            out.append(f"| {opt} | {batch} | " + " | ".join(entries)
                       + f" | {fmt_s(last['seconds']) if last else ''} |")

    study = cfg.get("init_study")
    if study:
        out += ["", "### Side study: the initializer", "",
                "npframe's default initializer is `he` (normal, variance 2/fan_in); "
                "scikit-learn's MLP uses Glorot uniform (variance 2/(fan_in + fan_out)), "
                "which for 10 inputs and 100 units is 9x smaller in the hidden layer. "
                "Same runs as above with `initializer = \"glorot_uniform\"`.", "",
                "| variant | optimizer | batch | initializer | "
                + " | ".join(f"{e} ep" for e in cfg["epochs"]) + " |",
                "|---|---|---|---|" + "---|" * len(cfg["epochs"])]
        for v, opt, batch in itertools.product(cfg["variants"], study["optimizers"],
                                               study["batches"]):
            for init in ["he", *study["initializers"]]:
                entries = [show(a["all_cells"].get((init, v, opt, batch, e)))
                           for e in cfg["epochs"]]
                out.append(f"| {v} | {opt} | {batch} | {init} | " + " | ".join(entries) + " |")

    out += ["", "### Regression targets: raw or standardized", "",
            f"With the recommended optimizer and batch (`{rec[0]}`, batch {rec[1]}) and with "
            "scikit-learn's default MLP.", "",
            "| variant | " + " | ".join(f"{e} ep" for e in cfg["epochs"])
            + " | scikit-learn max_iter " + " / ".join(map(str, cfg["max_iter"])) + " |",
            "|---|" + "---|" * (len(cfg["epochs"]) + 1)]
    for v in cfg["variants"]:
        if not v.endswith(" y"):
            continue
        entries = [show(cells.get((v, rec[0], rec[1], e))) for e in cfg["epochs"]]
        skm = " / ".join(fmt(_mean(r["metric"] for r in sk.get((v, mi), [])))
                         for mi in cfg["max_iter"])
        out.append(f"| {v} | " + " | ".join(entries) + f" | {skm} |")

    rows = convergence_rows(res, a["best"])
    n_div = sum(r["diverged_at"] is not None and r["initializer"] == "he"
                for r in res["npframe"])
    bad = sum(r["bad"] for r in rows)
    poor = sum(r["poor"] and not r["bad"] for r in rows)
    out += ["", "### Does a run end \"no better than it started\"?", "",
            f"{len(rows)} finished grid runs, each scored at every checkpoint as if it had been "
            f"asked for that many epochs ({n_div} more ended in `DivergenceError` and are not "
            "counted). *Bad* fit: test accuracy within 0.02 of the majority class, or test "
            f"R² ≤ 0.05 ({bad} runs). *Poor* fit: not bad, but more than 0.05 below the best "
            f"cell of its variant ({poor} runs). *Good*: the rest.", ""]
    out += convergence_table(rows)
    by_variant: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        if r["bad"]:
            counts = by_variant[r["run"]["variant"]]
            counts[0 if r["vs_constant"] else 1 if r["half_constant"] else 2] += 1
    if by_variant:
        out += ["", "Bad fits by how well they fit the *training* data (final training loss "
                "against the loss of predicting the training means):", "",
                "| variant | ≥ constant (underfit) | 0.5-1 x constant | < 0.5 x constant "
                "(fits the training data: overfit) |", "|---|---|---|---|"]
        for v in cfg["variants"]:
            if v in by_variant:
                u, mid, o = by_variant[v]
                out.append(f"| {v} | {u} | {mid} | {o} |")
    ratios_bad = sorted(r["ratio"] for r in rows if r["bad"])
    ratios_good = sorted(r["ratio"] for r in rows if not r["bad"] and not r["poor"])
    if ratios_bad and ratios_good:
        out += ["", "Final ÷ initial training loss: bad fits median "
                f"{statistics.median(ratios_bad):.3f} (range {ratios_bad[0]:.3f} to "
                f"{ratios_bad[-1]:.3f}); good fits median {statistics.median(ratios_good):.3f} "
                f"(max {ratios_good[-1]:.3f})."]
    rec_rows = [r for r in rows if (r["run"]["optimizer"], r["run"]["batch"],
                                    r["run"]["epochs"]) == rec]
    if rec_rows:
        out += ["", f"The same rules on the recommended cell alone ({len(rec_rows)} runs, all "
                "variants and seeds):", ""]
        out += convergence_table(rec_rows)
    return "\n".join(out) + "\n"


GENERATED_MARKER = "<!-- generated by benchmarks/defaults_study.py --md: do not edit below -->"


def write_md(path: Path, text: str) -> None:
    """Replace what follows GENERATED_MARKER in ``path``, keeping the hand-written head."""
    head = ""
    if path.exists():
        old = path.read_text()
        if GENERATED_MARKER in old:
            head = old[:old.index(GENERATED_MARKER)]
    body = head + GENERATED_MARKER + "\n\n" + text
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(body)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1 seed, batch 32 and full, 20/50 epochs")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--seeds", type=int, default=len(SEEDS), help="seeds per cell")
    p.add_argument("--variants", nargs="*", help="only these variants (names as in the tables)")
    p.add_argument("--recommend", nargs=3, metavar=("OPTIMIZER", "BATCH", "EPOCHS"),
                   default=list(RECOMMENDED),
                   help="the cell the doc recommends, e.g. 'adam 1e-3' 32 200")
    p.add_argument("--timing-reps", type=int, default=5)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--md", type=Path, help="also write the markdown report here")
    p.add_argument("--from-json", type=Path, help="re-render a previous run's results")
    args = p.parse_args(argv)
    args.command = "python benchmarks/defaults_study.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    args.recommend[2] = int(args.recommend[2])
    args.optimizers = list(OPTIMIZERS)
    args.batches = list(BATCHES)
    args.epochs = list(EPOCHS)
    args.seeds = list(range(args.seeds))
    args.max_iter = [200, 500]
    args.init_batches = list(INIT_STUDY["batches"])
    if args.quick:
        args.seeds, args.batches, args.epochs = [0], ["32", "full"], [20, 50]
        args.max_iter, args.timing_reps, args.init_batches = [200], 1, ["32"]
        args.recommend[2] = 50
    if args.from_json:
        res = json.loads(args.from_json.read_text())
        res["config"]["recommended"] = args.recommend
    else:
        print(f"npframe {npframe.__version__}, scikit-learn {sklearn.__version__}; "
              f"{args.jobs} workers", flush=True)
        res = run_all(args)
        args.out.mkdir(parents=True, exist_ok=True)
        stamp = "quick" if args.quick else "full"
        (args.out / f"defaults-{stamp}.json").write_text(json.dumps(res, indent=1))
        print(f"results: {args.out / f'defaults-{stamp}.json'}")
    text = markdown(res)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "defaults.md").write_text(text)
    if args.md:
        write_md(args.md, text)
        print(f"wrote {args.md}")
    else:
        print(text)


if __name__ == "__main__":
    main()
