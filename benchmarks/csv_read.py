#!/usr/bin/env python
"""npframe's CSV reader against ``np.loadtxt``: time and peak memory, side by side.

A seeded file of N rows x K float columns (``%.10g``, a header row) is written once to
``$TMPDIR/npframe-bench/``. Each repetition reads it with both readers, in alternating
order, each in a fresh subprocess so memory figures start clean. A subprocess reports:

* **time**: wall time of the call (no tracemalloc running);
* **peak RSS**: how far the call raised the process's resident-set high-water mark
  (``VmHWM``, or ``ru_maxrss`` without /proc) above what it was after the imports;
* **tracemalloc peak**: the call repeated under ``tracemalloc`` (NumPy reports its array
  buffers to it); the peak of traced allocations.

The table gives medians and the median of the per-repetition ratios npframe / NumPy.

    python benchmarks/csv_read.py                       # 1,000,000 x 10, 3 repetitions
    python benchmarks/csv_read.py --rows 100000 --reps 5
    python benchmarks/csv_read.py --text-column         # also a class-label column
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CHILD = r"""
import json, resource, sys, time, tracemalloc
import numpy as np
from npframe.csvfile import read_csv

reader, path, text_column, traced = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4] == "1"


def call():
    if reader == "numpy":
        if text_column:  # what a user would write: numbers, then the labels
            numbers = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, usecols=range(10))
            return numbers, np.loadtxt(path, delimiter=",", skiprows=1, usecols=[10], dtype=str)
        return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return read_csv(path, text_columns=["label"] if text_column else ())


def rss():
    # the resident-set high-water mark: VmHWM where there is one, since ru_maxrss starts
    # at the parent's size (a child inherits it across fork and exec)
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: KiB on Linux, bytes on macOS
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


before = rss()
start = time.perf_counter()
result = call()
seconds = time.perf_counter() - start
peak_rss = rss() - before
del result
traced_peak = None
if traced:
    tracemalloc.start()
    result = call()
    traced_peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"seconds": seconds, "peak_rss": peak_rss, "traced_peak": traced_peak}))
"""

READERS = ("numpy", "npframe")


def make_file(rows: int, cols: int, text_column: bool, folder: Path) -> Path:
    path = folder / f"csv_{rows}x{cols}{'_label' if text_column else ''}.csv"
    if path.exists():
        return path
    rng = np.random.default_rng(0)
    header = ",".join(f"c{i}" for i in range(cols)) + (",label" if text_column else "")
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as f:
        f.write(header + "\n")
        for start in range(0, rows, 100_000):
            block = rng.standard_normal((min(100_000, rows - start), cols))
            lines = [",".join(f"{v:.10g}" for v in row) for row in block.tolist()]
            if text_column:
                labels = rng.choice(["benign", "malignant"], size=len(lines))
                lines = [f"{line},{label}" for line, label in zip(lines, labels, strict=True)]
            f.write("\n".join(lines) + "\n")
    tmp.replace(path)
    return path


def run(reader: str, path: Path, text_column: bool, traced: bool) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, reader, str(path), "1" if text_column else "0",
         "1" if traced else "0"],
        capture_output=True, text=True, check=True, env=env,
    )
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=10)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--text-column", action="store_true",
                        help="add a 'label' column read as text (numpy: a second loadtxt)")
    parser.add_argument("--no-tracemalloc", action="store_true")
    parser.add_argument("--out", type=Path,
                        default=Path(tempfile.gettempdir()) / "npframe-bench")
    args = parser.parse_args(argv)
    if args.text_column and args.cols != 10:
        parser.error("--text-column assumes --cols 10")
    args.out.mkdir(parents=True, exist_ok=True)
    path = make_file(args.rows, args.cols, args.text_column, args.out)
    traced = not args.no_tracemalloc
    results: dict[str, list[dict]] = {r: [] for r in READERS}
    for rep in range(args.reps):
        order = READERS if rep % 2 == 0 else READERS[::-1]
        for reader in order:
            results[reader].append(run(reader, path, args.text_column, traced))
            print(f"rep {rep + 1}/{args.reps} {reader:8s} "
                  f"{results[reader][-1]['seconds']:6.2f} s", file=sys.stderr)
    report(path, args, results, traced)


def report(path: Path, args: argparse.Namespace, results: dict[str, list[dict]],
           traced: bool) -> None:
    metrics = [("seconds", "time (s)", 1.0), ("peak_rss", "peak RSS (MB)", 1e6)]
    if traced:
        metrics.append(("traced_peak", "tracemalloc peak (MB)", 1e6))
    size = path.stat().st_size / 1e6
    extra = " + a text column" if args.text_column else ""
    print(f"{args.rows:,} rows x {args.cols} columns{extra} ({size:.1f} MB), "
          f"{args.reps} repetitions, medians")
    print(f"{'':14s}" + "".join(f"{label:>24s}" for _, label, _ in metrics))
    for reader in READERS:
        row = [statistics.median(r[key] for r in results[reader]) / scale
               for key, _, scale in metrics]
        name = "np.loadtxt" if reader == "numpy" else "npframe"
        print(f"{name:14s}" + "".join(f"{v:24.2f}" for v in row))
    ratios = [statistics.median(a[key] / b[key] if b[key] else float("nan") for a, b in
                                zip(results["npframe"], results["numpy"], strict=True))
              for key, _, _ in metrics]
    print(f"{'ratio':14s}" + "".join(f"{r:23.2f}x" for r in ratios))


if __name__ == "__main__":
    main()
