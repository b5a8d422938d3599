"""``npframe sweep``: the command line of ``npframe.sweep``.

``add_parser(subparsers)`` adds the subcommand to ``npframe``'s parser; its handler
follows the CLI's conventions: results on standard output, progress on standard
error, exit 0 when every trial ran, 2 for bad input (one line), 130 on Ctrl-C after
saving every finished trial (SIGTERM too), 1 (one line, no traceback) when trials
were lost with their workers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from npframe.errors import CLIError, SweepIncompleteError
from npframe.sweeps.executors import dask_local, dask_scheduler
from npframe.sweeps.results import ResultPaths
from npframe.sweeps.runner import SweepResult, sweep
from npframe.sweeps.sweepfile import load_sweep

__all__ = ["add_parser"]

EXIT_OK, EXIT_INCOMPLETE = 0, 1
#: How many of the best trials the summary lists.
TOP = 5


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an int (got {text!r})") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (got {value})")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``sweep`` to ``npframe``'s subcommands."""
    parser = subparsers.add_parser(
        "sweep", help="run a grid or random search over spec keys, keep a results table",
        description=(
            "Run the trials SWEEP describes (a grid or a random search over spec keys; "
            "format in docs/sweeps.md), one row per trial in --out as trials finish, and "
            "save the best trial's model. Run it again with the same --out to run only "
            "the trials that are missing."
        ),
    )
    parser.add_argument("sweep", metavar="SWEEP", help="the sweep file (.toml or .json)")
    parser.add_argument("--out", metavar="RESULTS.csv",
                        help="the results table; a .json twin is written beside it "
                             "(default: SWEEP's name + .results.csv, in the current folder)")
    parser.add_argument("--best-model", metavar="MODEL.npz",
                        help="where the best trial's model goes (default: beside --out, "
                             "RESULTS.best.npz)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", metavar="N", type=_positive_int,
                       help="run trials on N local processes, BLAS on one thread each")
    where.add_argument("--dask-local", metavar="N", type=_positive_int,
                       help="start a Dask LocalCluster of N single-threaded workers for the "
                            'run (needs pip install "npframe[dask]")')
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run trials on the Dask cluster whose scheduler is at ADDRESS, "
                            "e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    parser.set_defaults(handler=_cmd_sweep)
    return parser


def _cmd_sweep(args: argparse.Namespace, out: IO[str]) -> int:
    results = args.out or Path(args.sweep).stem + ".results.csv"
    try:
        paths = ResultPaths.from_out(results)
    except ValueError as exc:
        raise CLIError(f"--out {exc}") from None
    if Path(args.sweep).resolve() in (paths.csv.resolve(), paths.json.resolve()):
        raise CLIError(f"--out {results}: would overwrite the sweep file {args.sweep}")
    if args.best_model is not None:
        best = Path(args.best_model)
        if best.suffix.lower() != ".npz":
            raise CLIError(f"--best-model {best}: the file name must end in .npz")
        if not best.parent.is_dir():
            raise CLIError(f"--best-model {best}: folder '{best.parent}' does not exist "
                           "(create it first)")
    plan = load_sweep(args.sweep)  # every mistake in it, before a cluster starts
    try:
        with _terminate_as_interrupt(), _executor(args) as executor:
            result = sweep(plan, executor, workers=args.workers, out=results,
                           best_model=args.best_model,
                           progress=False if args.quiet else sys.stderr)
    except ImportError as exc:
        raise CLIError(str(exc)) from None
    except (OSError, TimeoutError) as exc:
        if args.scheduler is None or getattr(exc, "filename", None) is not None:
            raise
        raise CLIError(f"--scheduler {args.scheduler}: cannot connect: {exc}") from None
    except KeyboardInterrupt:
        saved = _saved_trials(paths)
        print(f"npframe: sweep interrupted: {saved} of {plan.n_trials} trials are saved in "
              f"{paths.csv}; run the same command again to run the other "
              f"{plan.n_trials - saved}", file=sys.stderr)
        raise
    except SweepIncompleteError as exc:
        if isinstance(exc.result, SweepResult):
            _summary(exc.result, out)
        print(f"npframe: error: {exc}", file=sys.stderr)
        return EXIT_INCOMPLETE
    _summary(result, out)
    return EXIT_OK


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """``kill PID`` (SIGTERM) stops a sweep as Ctrl-C does: finished trials saved,
    workers and clusters stopped, rather than workers left behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _executor(args: argparse.Namespace) -> contextlib.AbstractContextManager[Any]:
    if args.dask_local is not None:
        return dask_local(args.dask_local)
    if args.scheduler is not None:
        return dask_scheduler(args.scheduler)
    return contextlib.nullcontext(None)


def _saved_trials(paths: ResultPaths) -> int:
    try:
        return len(json.loads(paths.json.read_text(encoding="utf-8"))["trials"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _summary(result: SweepResult, out: IO[str]) -> None:
    n = len(result.rows)
    failed = sum(row["status"] != "ok" for row in result.rows)
    direction = "higher" if result.greater_is_better else "lower"
    resumed = f", {result.resumed} from an earlier run" if result.resumed else ""
    print(f"swept {result.name}: {n} trials ({result.ran} run now{resumed}), {failed} failed; "
          f"ranked by {result.rank} ({direction} is better)", file=out)
    ranked = result.ranked()
    if ranked:
        params = _param_columns(result)
        header = ["rank", "trial", *params, result.rank, "epochs", "seconds"]
        lines = [header]
        for place, row in enumerate(ranked[:TOP], start=1):
            lines.append([str(place), str(row["trial"]), *(_cell(row[p]) for p in params),
                          _cell(row[result.rank]), _cell(row["epochs"]), _cell(row["seconds"])])
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        for line in lines:
            print("  " + "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True))
                  .rstrip(), file=out)
    if result.paths is not None:
        print(f"  results: {result.paths.csv}, {result.paths.json}", file=out)
    if result.best_model is not None and result.best is not None:
        print(f"  best model: {result.best_model} (trial {result.best['trial']})", file=out)
    elif ranked:
        print("  best model: not saved", file=out)
    else:
        print("  no trial finished", file=out)


def _param_columns(result: SweepResult) -> list[str]:
    """The swept keys: the columns between ``trial`` and the rank."""
    return result.columns[1:result.columns.index(result.rank)]
