#!/usr/bin/env python
"""The command line on real tables, with its defaults, beside scikit-learn's MLP.

Issue 10's closing numbers: scikit-learn's bundled data sets written to CSV files as a
user would have them (breast cancer with a text label ``benign``/``malignant``, digits
with an integer label ``digit``, diabetes with a named target ``progression``), split
75/25 with ``random_state=0`` (stratified for classification), and trained by the
``npframe`` command with a spec that names only its layers (one hidden layer of 100 ReLU
units, scikit-learn's default) and, for a classifier, its loss::

    npframe train spec.toml --data train.csv --targets diagnosis --test test.csv --seed S

Everything else is npframe's default (Adam 1e-3, batch 32, 100 epochs). The test line of
the summary gives the accuracy (classifiers) or R² (regression). A second npframe
variant adds one line, ``standardize = "inputs"`` (classifiers) or ``true``
(regression). Beside them, scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` with
their defaults (``random_state=S``) on the same files, on raw inputs and with
``StandardScaler`` on the inputs (and, for regression, on the target through
``TransformedTargetRegressor``). Entries are mean (worst) over the seeds.

    python benchmarks/tables_vs_sklearn.py                       # 5 seeds, a few minutes
    python benchmarks/tables_vs_sklearn.py --seeds 2             # quicker
    python benchmarks/tables_vs_sklearn.py --md docs/defaults.md # also refresh that table

``--md`` rewrites the part of the file between ``<!-- tables-vs-sklearn -->`` and
``<!-- /tables-vs-sklearn -->``. Needs scikit-learn (``pip install -e ".[test]"``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import npframe

try:
    import sklearn
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
except ImportError:  # pragma: no cover - a benchmark, not the suite
    sys.exit("this benchmark needs scikit-learn: pip install scikit-learn")

BEGIN, END = "<!-- tables-vs-sklearn -->", "<!-- /tables-vs-sklearn -->"
HIDDEN = 100


def _spec(n_inputs: int, n_outputs: int, classifier: bool, standardize: bool) -> str:
    lines = [f"input = {n_inputs}"]
    if classifier:
        lines.append('loss = "categorical_crossentropy"')
    if standardize:
        lines.append('standardize = "inputs"' if classifier else "standardize = true")
    last = "softmax" if classifier else "linear"
    lines += ["", "[[layers]]", f"units = {HIDDEN}", 'activation = "relu"', "",
              "[[layers]]", f"units = {n_outputs}", f'activation = "{last}"', ""]
    return "\n".join(lines)


def _write_csv(path: Path, header: list[str], X: np.ndarray, y: np.ndarray) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row, target in zip(X.tolist(), y.tolist(), strict=True):
            writer.writerow([*map(repr, row), target])


def datasets(folder: Path) -> list[dict]:
    """The three problems written to ``folder``: CSV files and specs."""
    out = []
    cancer = load_breast_cancer()
    digits = load_digits()
    diabetes = load_diabetes()
    problems = [
        ("breast_cancer", cancer.data, np.where(cancer.target == 1, "benign", "malignant"),
         [n.replace(" ", "_") for n in cancer.feature_names], "diagnosis", 2),
        ("digits", digits.data, digits.target, [f"p{i}" for i in range(64)], "digit", 10),
        ("diabetes", diabetes.data, diabetes.target, list(diabetes.feature_names),
         "progression", 1),
    ]
    for name, X, y, features, target, n_out in problems:
        classifier = n_out > 1
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=0.25, random_state=0, stratify=y if classifier else None)
        train, test = folder / f"{name}.csv", folder / f"{name}_test.csv"
        _write_csv(train, [*features, target], X_tr, y_tr)
        _write_csv(test, [*features, target], X_te, y_te)
        specs = {}
        for standardize in (False, True):
            spec = folder / f"{name}{'_std' if standardize else ''}.toml"
            spec.write_text(_spec(X.shape[1], n_out, classifier, standardize))
            specs[standardize] = spec
        out.append({"name": name, "classifier": classifier, "train": train, "test": test,
                    "target": target, "specs": specs, "n_train": len(X_tr), "n_test": len(X_te),
                    "features": X.shape[1]})
    return out


def run_cli(problem: dict, standardize: bool, seed: int) -> tuple[float, float, str]:
    """``npframe train`` in a subprocess: (test accuracy or R², seconds, warnings)."""
    env = {k: v for k, v in os.environ.items() if k != "NPFRAME_PLUGINS"}
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    folder = problem["train"].parent
    out = folder / f"{problem['name']}-{int(standardize)}-{seed}.npz"
    command = [sys.executable, "-m", "npframe.cli", "train", str(problem["specs"][standardize]),
               "--data", str(problem["train"]), "--targets", problem["target"],
               "--test", str(problem["test"]), "--seed", str(seed), "--out", str(out), "-q"]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        return float("nan"), seconds, result.stderr.strip().splitlines()[-1]
    metric = "accuracy" if problem["classifier"] else "r2"
    match = re.search(rf"^  test +loss \S+  {metric} (\S+)", result.stdout, re.M)
    if match is None:  # pragma: no cover - the summary changed
        raise RuntimeError(f"no test line in:\n{result.stdout}")
    return float(match.group(1)), seconds, result.stderr.strip()


def run_sklearn(problem: dict, scaled: bool, seed: int) -> tuple[float, float]:
    """scikit-learn's default MLP on the same files: (test accuracy or R², seconds)."""
    def read(path: Path):
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))[1:]
        X = np.array([[float(v) for v in r[:-1]] for r in rows])
        y = [r[-1] for r in rows]
        return X, np.array(y) if problem["classifier"] else np.array(y, dtype=float)

    X_tr, y_tr = read(problem["train"])
    X_te, y_te = read(problem["test"])
    if problem["classifier"]:
        model = MLPClassifier(hidden_layer_sizes=(HIDDEN,), random_state=seed)
        if scaled:
            model = make_pipeline(StandardScaler(), model)
    else:
        model = MLPRegressor(hidden_layer_sizes=(HIDDEN,), random_state=seed)
        if scaled:
            model = TransformedTargetRegressor(make_pipeline(StandardScaler(), model),
                                               transformer=StandardScaler())
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_tr, y_tr)
    seconds = time.perf_counter() - start
    return float(model.score(X_te, y_te)), seconds


def _summary(values: list[float]) -> str:
    finite = [v for v in values if v == v]
    if len(finite) < len(values):
        return f"failed {len(values) - len(finite)}/{len(values)}"
    return f"{statistics.mean(values):.3f} ({min(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--md", type=Path, help="refresh the table in this markdown file")
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    rows = []
    notes = []
    with tempfile.TemporaryDirectory(prefix="npframe-tables-") as tmp:
        for problem in datasets(Path(tmp)):
            result: dict[str, list[float]] = {k: [] for k in
                                              ("cli", "cli_std", "sk", "sk_std")}
            times: dict[str, list[float]] = {k: [] for k in result}
            for seed in seeds:
                for standardize, key in ((False, "cli"), (True, "cli_std")):
                    score, seconds, warned = run_cli(problem, standardize, seed)
                    result[key].append(score)
                    times[key].append(seconds)
                    if warned:
                        notes.append(f"{problem['name']} {key} seed {seed}: {warned}")
                for scaled, key in ((False, "sk"), (True, "sk_std")):
                    score, seconds = run_sklearn(problem, scaled, seed)
                    result[key].append(score)
                    times[key].append(seconds)
                print(f"{problem['name']} seed {seed}: "
                      + ", ".join(f"{k} {v[-1]:.3f}" for k, v in result.items()),
                      file=sys.stderr)
            metric = "accuracy" if problem["classifier"] else "R²"
            rows.append((problem, metric, result, times))
    lines = [
        f"Generated by `python benchmarks/tables_vs_sklearn.py --seeds {args.seeds}` on "
        f"{dt.datetime.now().isoformat(timespec='seconds')} ({platform.python_version()}, "
        f"NumPy {np.__version__}, npframe {npframe.__version__}, scikit-learn "
        f"{sklearn.__version__}; {os.cpu_count()} cores, shared). Test {{accuracy, R²}}, "
        f"mean (worst) over seeds {seeds[0]}-{seeds[-1]}; seconds: median per run (npframe: "
        "the whole `npframe train` command, start-up and file reading included; "
        "scikit-learn: `fit` only).",
        "",
        "| data set (train / test rows) | metric | `npframe train`, spec with only layers | "
        "npframe + `standardize` | scikit-learn MLP default | scikit-learn + `StandardScaler` "
        "| npframe s | scikit-learn s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for problem, metric, result, times in rows:
        label = f"{problem['name']} ({problem['n_train']} / {problem['n_test']})"
        lines.append(
            f"| {label} | {metric} | {_summary(result['cli'])} | {_summary(result['cli_std'])} "
            f"| {_summary(result['sk'])} | {_summary(result['sk_std'])} "
            f"| {statistics.median(times['cli'] + times['cli_std']):.1f} "
            f"| {statistics.median(times['sk'] + times['sk_std']):.1f} |")
    if notes:
        lines += ["", "Warnings and errors printed by `npframe train`:", ""]
        lines += [f"- {note}" for note in notes]
    text = "\n".join(lines)
    print(text)
    if args.md is not None:
        doc = args.md.read_text(encoding="utf-8")
        if BEGIN not in doc or END not in doc:
            sys.exit(f"{args.md}: no {BEGIN} ... {END} block to refresh")
        head, rest = doc.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        args.md.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
