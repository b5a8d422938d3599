"""What every ``npframe`` subcommand shares: exit codes, argument types, spec and output
checks, number formatting, and warnings as one line each."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from npframe.errors import CLIError, ConvergenceWarning, NpframeError, SpecError
from npframe.interfaces import Metric
from npframe.network import Network
from npframe.registry import default_registry
from npframe.spec import NetworkSpec
from npframe.summary import describe_component

PROG = "npframe"
EXIT_OK, EXIT_UNEXPECTED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

DATA_HELP = "a CSV file with a header row, a .npy array, or an .npz file with members X and y"
TARGETS_HELP = (
    "the target columns, by header name, 0-based index or range, comma-separated (e.g. "
    "'price', '2,3', '-1' or '64:74'); a classifier reads a single target column as "
    "class labels; default: the columns after the network's inputs"
)


# -- argument types ------------------------------------------------------------------------
def int_at_least(minimum: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an int (got {text!r})") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be >= {minimum} (got {value})")
        return value

    return parse


def batch_size(text: str) -> int | str:
    if text.strip().lower() == "full":
        return "full"
    return int_at_least(1, "batch size")(text)


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1) (got {text!r})") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1) (got {text})")
    return value


# -- specs and outputs ---------------------------------------------------------------------
@contextlib.contextmanager
def in_spec(path: str) -> Iterator[None]:
    """Prefix spec errors with the file: ``net.toml: layers[1].activation: ...``."""
    try:
        yield
    except SpecError as exc:
        if str(exc).startswith(path):
            raise
        raise SpecError(str(exc), path) from None


def load_spec(path: str) -> NetworkSpec:
    with in_spec(path):
        return NetworkSpec.from_path(path)


def check_output(path: str | os.PathLike[str], suffix: str, option: str) -> Path:
    """Fail before training, not after, when an output cannot be written."""
    path = Path(path)
    if path.suffix.lower() != suffix:
        raise CLIError(f"{option} {path}: the file name must end in {suffix}")
    folder = path.parent
    if not folder.is_dir():
        raise CLIError(f"{option} {path}: folder '{folder}' does not exist (create it first)")
    if path.is_dir():
        raise CLIError(f"{option} {path}: is a folder")
    return path


def report_metrics(net: Network) -> dict[str, Metric]:
    """What a summary reports besides the loss when the spec names no metrics: accuracy
    for a classifier, R² otherwise."""
    if net.metrics:
        return {}
    name = "accuracy" if net.loss.classification else "r2"
    try:
        return {name: default_registry().create("metric", name)}
    except NpframeError:  # not registered (a registry without the built-ins)
        return {}


# -- text ----------------------------------------------------------------------------------
def fmt(value: float) -> str:
    return f"{value:.6g}" if math.isfinite(value) else str(value)


def logs_line(logs: dict[str, float]) -> str:
    return "  ".join(f"{key} {fmt(value)}" for key, value in logs.items())


def architecture(spec: NetworkSpec) -> str:
    """``"2 -> 4 relu -> dropout -> 3 linear"``."""
    parts = [str(spec.input)]
    for layer in spec.layers:
        if layer.type == "dense":
            parts.append(f"{layer.units} {describe_component(layer.params.get('activation'))}")
        else:
            parts.append(layer.type)
    return " -> ".join(parts)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def one_line(text: Any) -> str:
    return " ".join(str(text).split())


# -- warnings ------------------------------------------------------------------------------
@contextlib.contextmanager
def short_warnings(stream: IO[str]) -> Iterator[None]:
    """Warnings as ``npframe: warning: ...`` lines instead of Python's two-line format."""
    def show(message: Any, category: Any, filename: Any, lineno: Any, file: Any = None,
             line: Any = None) -> None:
        print(f"{PROG}: warning: {one_line(message)}", file=stream)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


@contextlib.contextmanager
def collected_warnings(stream: IO[str]) -> Iterator[list[warnings.WarningMessage]]:
    """Warnings raised inside, printed as ``npframe: warning: ...`` lines as they leave,
    and handed to the caller (the summary says when training did not converge)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            yield caught
        finally:
            for warning in caught:
                print(f"{PROG}: warning: {one_line(warning.message)}", file=stream)
