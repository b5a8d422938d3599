"""The ``npframe`` command: train, predict, evaluate, check specs, list plugins.

Exit codes: 0 success; 2 a usage error or bad input (a wrong spec, a malformed data
file, a missing model file), reported as one ``npframe: error: ...`` line on standard
error; 1 an unexpected error, reported with its traceback because it is a bug.
Results go to standard output, progress and diagnostics to standard error.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from npframe import diagnostics
from npframe._version import __version__
from npframe.assembly import assemble
from npframe.errors import CLIError, NpframeError, PluginLoadError, PluginWarning, SpecError
from npframe.kinds import KINDS
from npframe.memory import format_bytes
from npframe.plugins import STRICT_ENV_VAR, strict
from npframe.registry import default_registry
from npframe.scaffold import add_parser as _add_new_plugin_parser
from npframe.schema import spec_schema, write_schema
from npframe.summary import describe_component, layer_table, table
from npframe.sweeps import command as sweep_command

__all__ = ["CLIError", "build_parser", "main"]

PROG = "npframe"
EXIT_OK, EXIT_UNEXPECTED, EXIT_BAD_INPUT = 0, 1, 2


# -- argument types ------------------------------------------------------------------------
def _int_at_least(minimum: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an int (got {text!r})") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be >= {minimum} (got {value})")
        return value

    return parse


def _batch_size(text: str) -> int | str:
    if text.strip().lower() == "full":
        return "full"
    return _int_at_least(1, "batch size")(text)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1) (got {text!r})") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1) (got {text})")
    return value


# -- the parser ----------------------------------------------------------------------------
_EPILOG = """\
examples:
  npframe train docs/examples/tutorial.toml          the tutorial, end to end
  npframe train net.toml --data train.csv --targets price --out model.npz --plot loss.png
  npframe predict model.npz --data new.csv --out predictions.csv
  npframe evaluate model.npz --data test.csv --targets price
  npframe check net.toml
  npframe plugins

exit codes: 0 ok, 2 usage error or bad input (one line on stderr), 1 unexpected error
"""

_DATA_HELP = (
    "a CSV file with a header row, a .npy array, or an .npz file with members X and y"
)
_TARGETS_HELP = (
    "the target columns, by header name or 0-based index, comma-separated (e.g. "
    "'price' or '2,3' or '-1'); default: the columns after the network's inputs"
)


def build_parser() -> argparse.ArgumentParser:
    """The ``npframe`` argument parser with its five subcommands."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train and use npframe networks described by spec files (.toml / .json).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = sub.add_parser(
        "train", help="train a network from a spec, save it, print a summary",
        description=(
            "Train the network SPEC describes on --data (or on the dataset the spec's "
            "[train] table names), save it, and print a summary. The spec's [train] table "
            "gives defaults that the options override."
        ),
    )
    train.add_argument("spec", metavar="SPEC", help="the network spec (.toml or .json)")
    train.add_argument("--data", metavar="FILE", help=_DATA_HELP)
    train.add_argument("--targets", metavar="COLS", help=_TARGETS_HELP)
    train.add_argument("--epochs", metavar="N", type=_int_at_least(0, "epochs"),
                       help="epochs to train (default: [train] epochs, else 100)")
    train.add_argument("--batch-size", metavar="B", type=_batch_size,
                       help="minibatch size, or 'full' for full-batch gradient descent "
                            "(default: [train] batch_size, else full)")
    train.add_argument("--validation-split", metavar="F", type=_fraction,
                       help="hold out this fraction of the data (its last rows) to "
                            "report val_loss (default: [train] validation_split, else 0)")
    train.add_argument("--seed", metavar="S", type=_int_at_least(0, "seed"),
                       help="replace the spec's seed")
    train.add_argument("--out", metavar="MODEL.npz",
                       help="where to save the model (default: SPEC's name with .npz, "
                            "in the current folder)")
    train.add_argument("--plot", metavar="LOSS.png",
                       help='draw the loss curves to this PNG (needs pip install "npframe[plot]")')
    train.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    train.set_defaults(handler=_cmd_train)

    predict = sub.add_parser(
        "predict", help="write a model's predictions for a data file as CSV",
        description=(
            "Write MODEL's predictions for the inputs in --data as CSV (to --out, or "
            "standard output). The header names the target columns when the data file "
            "has them, else y0, y1, ...; numbers are written so they read back exactly."
        ),
    )
    predict.add_argument("model", metavar="MODEL", help="a model file saved by npframe train")
    predict.add_argument("--data", metavar="FILE", required=True, help=_DATA_HELP)
    predict.add_argument("--targets", metavar="COLS",
                         help="target columns in the file to skip (by name or index)")
    predict.add_argument("--out", metavar="FILE", help="output CSV (default: standard output)")
    predict.set_defaults(handler=_cmd_predict)

    evaluate = sub.add_parser(
        "evaluate", help="print a model's loss and metrics on a data file",
        description=(
            "Print MODEL's loss on --data (on the scale training measures it) and its "
            "metrics (those in the spec, plus --metrics), which are on the raw target scale."
        ),
    )
    evaluate.add_argument("model", metavar="MODEL", help="a model file saved by npframe train")
    evaluate.add_argument("--data", metavar="FILE", required=True, help=_DATA_HELP)
    evaluate.add_argument("--targets", metavar="COLS", help=_TARGETS_HELP)
    evaluate.add_argument("--metrics", metavar="NAMES",
                          help="more registered metrics to report, comma-separated (e.g. mae,r2)")
    evaluate.set_defaults(handler=_cmd_evaluate)

    check = sub.add_parser(
        "check", help="validate a spec and print the network it describes",
        description=(
            "Validate SPEC and print the network: layers with shapes, the parameter count, "
            "and every component with the distribution that provides it."
        ),
    )
    check.add_argument("spec", metavar="SPEC", help="the network spec (.toml or .json)")
    check.set_defaults(handler=_cmd_check)

    plugins = sub.add_parser(
        "plugins", help="list registered components and plugins that failed to load",
        description=(
            "List every registered component by kind, with the distribution and version "
            "that provides it, then every plugin that failed to load, with its error."
        ),
    )
    plugins.add_argument("--kind", choices=list(KINDS), help="only this kind of component")
    plugins.add_argument("--json", action="store_true",
                         help="the whole report as JSON, for scripts")
    plugins.add_argument("--verbose", "-v", action="store_true",
                         help="show each failed plugin's whole traceback")
    plugins.set_defaults(handler=_cmd_plugins)
    _add_strict_option(plugins)
    _add_new_plugin_parser(sub)
    _add_schema_parser(sub)
    sweep_command.add_parser(sub)
    return parser


# -- shared helpers ------------------------------------------------------------------------
@contextlib.contextmanager
def _in_spec(path: str) -> Iterator[None]:
    """Prefix spec errors with the file: ``net.toml: layers[1].activation: ...``."""
    try:
        yield
    except SpecError as exc:
        if str(exc).startswith(path):
            raise
        raise SpecError(str(exc), path) from None


def _load_spec(path: str) -> Any:
    from npframe.spec import NetworkSpec

    with _in_spec(path):
        return NetworkSpec.from_path(path)


def _load_model(path: str) -> Any:
    from npframe import load

    return load(path)


def _check_output(path: str | os.PathLike, suffix: str, option: str) -> Path:
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


def _fmt(value: float) -> str:
    return f"{value:.6g}" if math.isfinite(value) else str(value)


def _logs_line(logs: dict[str, float]) -> str:
    return "  ".join(f"{key} {_fmt(value)}" for key, value in logs.items())


def _architecture(spec: Any) -> str:
    parts = [str(spec.input)]
    for layer in spec.layers:
        if layer.type == "dense":
            parts.append(f"{layer.units} {describe_component(layer.params.get('activation'))}")
        else:
            parts.append(layer.type)
    return " -> ".join(parts)


_component = describe_component
_table = table


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# -- train ---------------------------------------------------------------------------------
def _cmd_train(args: argparse.Namespace, out: IO[str]) -> int:
    import attrs

    from npframe.plot import plot_history, require_matplotlib
    from npframe.registry import default_registry
    from npframe.spec import TrainSpec
    from npframe.trainer import resolve_data, train

    spec = _load_spec(args.spec)
    if args.seed is not None:
        spec = attrs.evolve(spec, seed=args.seed)
    model_path = _check_output(args.out or Path(args.spec).stem + ".npz", ".npz", "--out")
    plot_path = _check_output(args.plot, ".png", "--plot") if args.plot else None
    if plot_path is not None:
        try:
            require_matplotlib()
        except ImportError as exc:
            raise CLIError(f"--plot: {exc}") from None
    if args.data is None:
        if args.targets is not None:
            raise CLIError("--targets chooses columns of a --data file; give --data too")
        if spec.train is None or spec.train.dataset is None:
            known = ", ".join(default_registry().names("dataset")) or "(none)"
            msg = (
                f"no data: pass --data FILE, or name a dataset in {args.spec}'s [train] "
                f"table (dataset = \"tutorial\"); registered datasets: {known}"
            )
            raise CLIError(msg)
    with _in_spec(args.spec):
        dataset = resolve_data(spec, args.data, targets=args.targets)
    defaults = spec.train or TrainSpec()
    split = defaults.validation_split if args.validation_split is None else args.validation_split
    batch_size = defaults.batch_size if args.batch_size is None else args.batch_size

    start = time.perf_counter()
    net, history = train(
        spec, dataset, epochs=args.epochs, batch_size=args.batch_size,
        validation_split=args.validation_split, verbose=not args.quiet,
    )
    elapsed = time.perf_counter() - start
    net.save(model_path)
    if plot_path is not None and history.loss:
        plot_history(history, plot_path, title=f"{Path(args.spec).name}: {_architecture(spec)}")

    source = args.data if args.data is not None else f"dataset {spec.train.dataset.name!r}"
    batches = "full batch" if batch_size in (None, "full") else f"batch size {batch_size}"
    rows = [
        ("network", f"{_architecture(spec)}  ({_plural(net.n_parameters, 'parameter')}, "
                    f"{spec.dtype}{', standardized' if spec.standardize else ''}, "
                    f"seed {spec.seed})"),
        ("data", _describe_data(source, dataset, split)),
        ("training", f"{_plural(len(history.loss), 'epoch')} in {elapsed:.1f} s, {batches}, "
                     f"{spec.loss.name} loss, {_component(spec.optimizer)}"),
    ]
    if history.loss:
        final = {key: values[-1] for key, values in history.history.items() if values}
        rows.append(("final", _logs_line(final)))
    if dataset.X_test is not None and dataset.y_test is not None:
        rows.append(("test", _logs_line(net.evaluate_metrics(dataset.X_test, dataset.y_test))))
    rows.append(("model", str(model_path)))
    if plot_path is not None:
        rows.append(("plot", str(plot_path) if history.loss else "none: no epochs trained"))
    print(f"trained {args.spec}", file=out)
    print(_table(rows), file=out)
    if spec.standardize and history.loss:
        metrics = ", metrics on the raw scale" if net.metrics else ""
        print(f"  (losses on the standardized scale{metrics})", file=out)
    examples = dataset.examples
    if examples is not None and examples.ndim == 2 and examples.shape[1:] == (net.n_inputs,):
        print(file=out)
        print(_examples_table(net, dataset), file=out)
    return EXIT_OK


def _describe_data(source: str, dataset: Any, split: float) -> str:
    """``"data.csv: 120 samples (30 held out for validation); inputs a, b -> targets y"``."""
    n = dataset.X.shape[0]
    text = f"{source}: {n} samples"
    n_val = round(n * split) if split else 0
    if n_val:
        text += f" ({n_val} held out for validation)"
    if dataset.X_test is not None and dataset.y_test is not None:
        text += f", {dataset.X_test.shape[0]} test samples"
    if dataset.feature_names or dataset.target_names:
        text += (f"; inputs {', '.join(dataset.feature_names) or '?'}"
                 f" -> targets {', '.join(dataset.target_names) or '?'}")
    return text


def _examples_table(net: Any, dataset: Any) -> str:
    X = np.asarray(dataset.examples, dtype=np.float64)
    pred = net.predict(X)
    inputs = list(dataset.feature_names) or [f"x{i}" for i in range(net.n_inputs)]
    outputs = list(dataset.target_names) or [f"y{i}" for i in range(net.n_outputs)]
    rows = [[*inputs, "->", *outputs]]
    for x, p in zip(X, pred, strict=True):
        rows.append([*(_fmt(v) for v in x), "->", *(f"{v:.2f}" if abs(v) < 1e6 else _fmt(v)
                                                    for v in p)])
    right = [i for i in range(len(rows[0])) if i != net.n_inputs]
    return "predictions for the dataset's examples (raw scale):\n" + _table(rows, right=right)


# -- predict -------------------------------------------------------------------------------
def _inputs(net: Any, data: str, targets: str | None) -> Any:
    """Read ``data`` for ``net``: its input columns and, when present, its target columns."""
    from npframe.data import load_data

    dataset = load_data(data, targets, n_features=net.n_inputs)
    n_targets = dataset.y.shape[1]
    if targets is None and n_targets not in (0, net.n_outputs):
        msg = (
            f"{data}: {dataset.X.shape[1] + n_targets} columns, but the model takes "
            f"{net.n_inputs} inputs and has {net.n_outputs} outputs; give the "
            f"{net.n_inputs} input columns first (then, optionally, the {net.n_outputs} "
            "targets), or name the target columns with --targets"
        )
        raise CLIError(msg)
    return dataset


def _cmd_predict(args: argparse.Namespace, out: IO[str]) -> int:
    net = _load_model(args.model)
    dataset = _inputs(net, args.data, args.targets)
    pred = net.predict(dataset.X)
    names = list(dataset.target_names)
    if len(names) != pred.shape[1]:
        names = [f"y{i}" for i in range(pred.shape[1])]
    if args.out is None:
        _write_csv(out, names, pred)
        return EXIT_OK
    with open(args.out, "w", newline="", encoding="utf-8") as fh:
        _write_csv(fh, names, pred)
    print(f"wrote {_plural(pred.shape[0], 'prediction')} ({', '.join(names)}) to {args.out}",
          file=out)
    return EXIT_OK


def _write_csv(fh: IO[str], header: list[str], values: np.ndarray) -> None:
    """``repr`` of each float: the shortest text that reads back to the same number."""
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([repr(v) for v in row] for row in values.tolist())


# -- evaluate ------------------------------------------------------------------------------
def _cmd_evaluate(args: argparse.Namespace, out: IO[str]) -> int:
    from npframe.registry import default_registry
    from npframe.trainer import check_dataset

    net = _load_model(args.model)
    extra = {}
    if args.metrics:
        registry = default_registry()
        for name in (part.strip() for part in args.metrics.split(",")):
            if name and name not in net.metrics and name not in extra:
                extra[name] = registry.create("metric", name, path="--metrics")
    dataset = _inputs(net, args.data, args.targets)
    check_dataset(net, dataset, args.data)
    results = net.evaluate_metrics(dataset.X, dataset.y)
    if extra:
        pred = net.predict(dataset.X)
        y = dataset.y.astype(net.dtype)
        results.update({name: float(metric(y, pred)) for name, metric in extra.items()})
    scale = ", standardized scale" if net.scaler is not None else ""
    rows = [("loss", _fmt(results.pop("loss")), f"({net.spec.loss.name}{scale})")]
    rows += [(name, _fmt(value), "") for name, value in results.items()]
    print(f"{args.model} on {args.data}: {_plural(dataset.X.shape[0], 'sample')}", file=out)
    print(_table(rows), file=out)
    return EXIT_OK


# -- check ---------------------------------------------------------------------------------
def _cmd_check(args: argparse.Namespace, out: IO[str]) -> int:
    spec = _load_spec(args.spec)
    with _in_spec(args.spec):
        blueprint = assemble(spec)
        blueprint.check_fits()
    print(f"{args.spec}: ok", file=out)
    print(f"network: {_architecture(spec)}", file=out)
    print(layer_table(blueprint), file=out)
    options = [f"standardize = {json.dumps(spec.standardize)}", f"seed {spec.seed}",
               f"training takes about {format_bytes(blueprint.training_bytes())} "
               "besides the data"]
    print(f"  {', '.join(options)}", file=out)
    print("components:", file=out)
    components: list[tuple[str, str, str]] = []
    for kind, _path, ref, entry in blueprint.entries:
        row = (kind, _component(ref), entry.provider)
        if row not in components:
            components.append(row)
    print(_table(components), file=out)
    if spec.train is not None:
        t = spec.train
        parts = [f"dataset {_component(t.dataset)}" if t.dataset else "no dataset (use --data)",
                 _plural(t.epochs, "epoch"),
                 "full batch" if t.batch_size is None else f"batch size {t.batch_size}",
                 "shuffled" if t.shuffle else "in order"]
        if t.validation_split:
            parts.append(f"validation split {t.validation_split}")
        print(f"train: {', '.join(parts)}", file=out)
    return EXIT_OK


# -- plugins -------------------------------------------------------------------------------
def _cmd_plugins(args: argparse.Namespace, out: IO[str]) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)  # the report lists the failures
        report = diagnostics.report()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2), file=out)
    else:
        out.write(diagnostics.format_report(report, kind=args.kind, verbose=args.verbose))
    return EXIT_OK


def _add_strict_option(plugins: argparse.ArgumentParser) -> None:
    plugins.add_argument("--strict", action="store_true",
                         help="exit with code 2 when any plugin failed to load (as "
                              f"{STRICT_ENV_VAR}=1 does), after printing the report")
    plugins.set_defaults(handler=_cmd_plugins_strict)


def _cmd_plugins_strict(args: argparse.Namespace, out: IO[str]) -> int:
    """``npframe plugins``; in strict mode (``--strict`` or the variable) the report is
    still printed, and a failed plugin then makes the exit code 2."""
    if not (args.strict or strict()):
        return _cmd_plugins(args, out)
    try:
        _cmd_plugins(args, out)
    except PluginLoadError:
        # the variable made loading raise once every plugin had been tried; the failures
        # are recorded, so the report can be made now
        _cmd_plugins(args, out)
    failures = default_registry().failures()
    if failures:
        why = "--strict" if args.strict else f"{STRICT_ENV_VAR} is set"
        listed = "; ".join(str(f) for f in failures)
        raise CLIError(f"{why}: {_plural(len(failures), 'plugin')} failed to load: {listed}")
    return EXIT_OK


# -- schema --------------------------------------------------------------------------------
def _add_schema_parser(sub: Any) -> None:
    schema = sub.add_parser(
        "schema", help="write the JSON Schema of specs, for editors",
        description=(
            "Write the JSON Schema (draft 2020-12) of the spec language: every key, and "
            "every registered component with its parameters, plugins included. Editors "
            "validate and complete specs with it (docs/spec.md, 'Editor support'); run it "
            "again after installing or removing a plugin."
        ),
    )
    schema.add_argument("--out", metavar="FILE.json",
                        help="write it to this file (default: standard output)")
    schema.set_defaults(handler=_cmd_schema)


def _cmd_schema(args: argparse.Namespace, out: IO[str]) -> int:
    if args.out is None:
        print(json.dumps(spec_schema(), indent=2, ensure_ascii=False), file=out)
        return EXIT_OK
    path = _check_output(args.out, ".json", "--out")
    registry = default_registry()
    write_schema(path, registry)
    components = _plural(len(registry.entries()), "component")
    print(f"wrote the spec schema ({components}) to {path}", file=out)
    return EXIT_OK


# -- main ----------------------------------------------------------------------------------
def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def _is_bad_input(exc: BaseException) -> bool:
    """Errors about what the user gave us; everything else is a bug worth a traceback."""
    if isinstance(exc, NpframeError):
        return True
    return isinstance(exc, OSError) and exc.filename is not None


@contextlib.contextmanager
def _short_warnings(stream: IO[str]) -> Iterator[None]:
    """Warnings as ``npframe: warning: ...`` lines instead of Python's two-line format."""
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"{PROG}: warning: {' '.join(str(message).split())}", file=stream)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    try:
        with _short_warnings(sys.stderr):
            return args.handler(args, sys.stdout)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `npframe predict ... | head`: the reader left
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        if _is_bad_input(exc):
            print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        traceback.print_exc()
        print(f"{PROG}: unexpected error (a bug): please report it with the traceback above",
              file=sys.stderr)
        return EXIT_UNEXPECTED


if __name__ == "__main__":
    sys.exit(main())
