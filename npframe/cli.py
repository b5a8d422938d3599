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
from npframe.errors import ConvergenceWarning, DataError, NpframeError, PluginWarning, SpecError
from npframe.kinds import KINDS
from npframe.memory import format_bytes
from npframe.scaffold import add_parser as _add_new_plugin_parser
from npframe.summary import describe_component, layer_table, table

__all__ = ["CLIError", "build_parser", "main"]

PROG = "npframe"
EXIT_OK, EXIT_UNEXPECTED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class CLIError(Exception):
    """Bad input noticed by the command itself; its message is printed as one line."""


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
  npframe train net.toml --data houses.csv --targets price --out model.npz
  npframe predict model.npz --data houses_new.csv --out predictions.csv
  npframe evaluate model.npz --data houses_test.csv --metrics mae,r2
  npframe check net.toml
  npframe plugins

exit codes: 0 ok, 2 usage error or bad input (one line on stderr), 1 unexpected error
"""

_DATA_HELP = (
    "a CSV file with a header row, a .npy array, or an .npz file with members X and y"
)
_TARGETS_HELP = (
    "the target columns, by header name, 0-based index or range, comma-separated (e.g. "
    "'price', '2,3', '-1' or '64:74'); a classifier reads a single target column as "
    "class labels; default: the columns after the network's inputs"
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
    train.add_argument("--weights", metavar="COLUMN",
                       help="a column of --data holding one sample weight per row (not an "
                            "input)")
    train.add_argument("--test", metavar="FILE",
                       help="a test file (same columns as --data) to report the loss and "
                            "metrics on after training (default: [train] test)")
    train.add_argument("--epochs", metavar="N", type=_int_at_least(0, "epochs"),
                       help="epochs to train (default: [train] epochs, else 100)")
    train.add_argument("--batch-size", metavar="B", type=_batch_size,
                       help="minibatch size, or 'full' for full-batch gradient descent "
                            "(default: [train] batch_size, else 32)")
    train.add_argument("--validation-split", metavar="F", type=_fraction,
                       help="hold out this fraction of the data (its last rows, or a "
                            "random draw with --validation-shuffle) to report val_loss "
                            "(default: [train] validation_split, else 0)")
    train.add_argument("--validation-shuffle", action="store_true", default=None,
                       help="hold out a seeded random fraction (stratified by class for "
                            "labels) instead of the last rows")
    train.add_argument("--seed", metavar="S", type=_int_at_least(0, "seed"),
                       help="replace the spec's seed")
    train.add_argument("--out", metavar="MODEL.npz",
                       help="where to save the model (default: SPEC's name with .npz, "
                            "in the current folder)")
    train.add_argument("--checkpoint-every", metavar="N", type=_int_at_least(1, "checkpoint"),
                       help="also save the model to --out after every N-th epoch")
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
                         help="target columns in the file to skip (by name, index or range); "
                              "default: the model's target columns, when the file has them")
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
    _add_new_plugin_parser(sub)
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

    from npframe import io
    from npframe.callbacks import ModelCheckpoint
    from npframe.plot import plot_history, require_matplotlib
    from npframe.registry import default_registry
    from npframe.spec import TrainSpec
    from npframe.trainer import prepare

    spec = _load_spec(args.spec)
    if args.seed is not None:
        spec = attrs.evolve(spec, seed=args.seed)
    model_path = _check_output(args.out or Path(args.spec).stem + ".npz", ".npz", "--out")
    io.check_writable(model_path)  # a folder that refuses files fails now, not after training
    plot_path = _check_output(args.plot, ".png", "--plot") if args.plot else None
    if plot_path is not None:
        try:
            require_matplotlib()
        except ImportError as exc:
            raise CLIError(f"--plot: {exc}") from None
    if args.data is None:
        for option in ("targets", "weights"):
            if getattr(args, option) is not None:
                raise CLIError(f"--{option} chooses columns of a --data file; give --data too")
        if spec.train is None or spec.train.dataset is None:
            known = ", ".join(default_registry().names("dataset")) or "(none)"
            msg = (
                f"no data: pass --data FILE, or name a dataset in {args.spec}'s [train] "
                f"table (dataset = \"tutorial\"); registered datasets: {known}"
            )
            raise CLIError(msg)
    defaults = spec.train or TrainSpec()
    test = args.test
    if test is None and defaults.test is not None:
        test = str(Path(args.spec).parent / defaults.test)
        if not Path(test).exists():
            raise CLIError(f"{args.spec}: train.test: {test}: no such file (paths in a spec "
                           "are relative to the spec file)")
    callbacks = []
    if args.checkpoint_every is not None:
        callbacks.append(ModelCheckpoint(model_path, every=args.checkpoint_every))
    with _in_spec(args.spec):
        run = prepare(
            spec, args.data, targets=args.targets, epochs=args.epochs,
            batch_size=args.batch_size, validation_split=args.validation_split,
            validation_shuffle=args.validation_shuffle, test=test, weights=args.weights,
            callbacks=callbacks, verbose=not args.quiet,
        )
    report_metrics = _report_metrics(run.net)  # for the test line, without spec metrics

    start = time.perf_counter()
    with _collected_warnings(sys.stderr) as caught:
        try:
            history = run.fit()
        except KeyboardInterrupt:
            return _save_interrupted(run.net, model_path)
    elapsed = time.perf_counter() - start
    run.net.save(model_path)
    net = run.net
    if plot_path is not None and history.loss:
        plot_history(history, plot_path, title=f"{Path(args.spec).name}: {_architecture(spec)}")

    source = args.data if args.data is not None else f"dataset {spec.train.dataset.name!r}"
    batches = ("full batch" if run.batch_size is None else f"batch size {run.batch_size}")
    scale = {True: ", standardized", "inputs": ", inputs standardized",
             "targets": ", targets standardized"}.get(spec.standardize, "")
    rows = [
        ("network", f"{_architecture(spec)}  ({_plural(net.n_parameters, 'parameter')}, "
                    f"{spec.dtype}{scale}, seed {spec.seed})"),
        ("data", _describe_data(source, run)),
        ("training", f"{_plural(len(history.loss), 'epoch')} in {elapsed:.1f} s, {batches}, "
                     f"{spec.loss.name} loss, {_component(spec.optimizer)}"),
    ]
    stopper = run.early_stopping
    if stopper is not None and stopper.stopped_epoch is not None:
        rows.append(("stopped", _stopped(stopper)))
    if history.loss:
        final = {key: values[-1] for key, values in history.history.items() if values}
        rows.append(("final", _logs_line(final)))
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        rows.append(("converged", "no: training did not converge (see the warning above)"))
    if run.test is not None:
        results = net.evaluate_metrics(run.test.X, run.test.y, metrics=report_metrics)
        where = "" if run.test_source == "test split" else (
            f"  ({_plural(len(run.test.X), 'sample')} of {run.test_source})")
        rows.append(("test", _logs_line(results) + where))
    rows.append(("model", str(model_path)))
    if plot_path is not None:
        rows.append(("plot", str(plot_path) if history.loss else "none: no epochs trained"))
    print(f"trained {args.spec}", file=out)
    print(_table(rows), file=out)
    if spec.scales_targets and history.loss:
        raw = net.metrics or (report_metrics and run.test is not None)
        metrics = ", metrics on the raw scale" if raw else ""
        print(f"  (losses on the standardized scale{metrics})", file=out)
    examples = run.dataset.examples
    if examples is not None and examples.ndim == 2 and examples.shape[1:] == (net.n_inputs,):
        print(file=out)
        print(_examples_table(net, run.dataset), file=out)
    return EXIT_OK


def _stopped(stopper: Any) -> str:
    best = stopper.best_epoch + 1 if stopper.best_epoch is not None else None
    text = (f"early after epoch {stopper.stopped_epoch + 1}: {stopper.monitor} had not "
            f"improved for {stopper.patience} epochs")
    if best is not None:
        kept = ", weights of that epoch kept" if stopper.restore_best_weights else ""
        text += f" (best {stopper.monitor} {_fmt(stopper.best)} in epoch {best}{kept})"
    return text


def _report_metrics(net: Any) -> dict[str, Any]:
    """What a summary reports besides the loss when the spec names no metrics: accuracy
    for a classifier, R² otherwise."""
    if net.metrics:
        return {}
    from npframe.registry import default_registry

    name = "accuracy" if net.loss.classification else "r2"
    try:
        return {name: default_registry().create("metric", name)}
    except NpframeError:  # not registered (a registry without the built-ins)
        return {}


def _save_interrupted(net: Any, model_path: Path) -> int:
    """Ctrl-C during training: save the state the loop stopped at (consistent, exactly
    resumable), say where, exit 130."""
    position = net.loop.position
    if position.step == 0:
        print(f"{PROG}: interrupted before the first training step; nothing saved",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    net.save(model_path)
    batches = f"{position.batch} batch{'' if position.batch == 1 else 'es'}"
    where = (f"in epoch {position.epoch + 1}, after {batches} of it"
             if position.batch else f"after epoch {position.epoch}")
    print(f"{PROG}: interrupted {where} (step {position.step}); saved that state to "
          f"{model_path}: npframe.load() it and fit on the same data resumes exactly",
          file=sys.stderr)
    return EXIT_INTERRUPTED


def _describe_data(source: str, run: Any) -> str:
    """``"data.csv: 120 samples (30 held out for validation); inputs a, b -> price"``."""
    dataset = run.dataset
    n = dataset.X.shape[0]
    text = f"{source}: {n} samples"
    if run.n_validation:
        how = ""
        if run.validation_shuffle:
            stratified = run.net.loss.classification and run.net.classes is not None
            how = ", a stratified random draw" if stratified else ", a random draw"
        text += f" ({run.n_validation} held out for validation{how})"
    if run.test_source == "test split":
        text += f", {len(run.test.X)} test samples"
    if dataset.sample_weight is not None:
        text += ", weighted"
    if dataset.feature_names or dataset.target_names:
        from npframe.data import describe_columns

        inputs = describe_columns(dataset.feature_names) or "?"
        targets = describe_columns(dataset.target_names) or "?"
        classes = run.net.classes
        if classes is not None:
            shown = ", ".join(map(str, classes[:5].tolist())) + (", ..." if len(classes) > 5
                                                                 else "")
            text += f"; inputs {inputs} -> labels {targets} ({len(classes)} classes: {shown})"
        else:
            text += f"; inputs {inputs} -> targets {targets}"
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


# -- reading a data file for a model -------------------------------------------------------
def _model_data(net: Any, path: str, targets: str | None, *, evaluate: bool) -> Any:
    """``path`` read for ``net``: its inputs in the model's column order (matched by name
    when both have names) and, when present, its target columns.

    Without ``--targets``, a model that knows its column names takes the targets by
    name (``predict`` skips them when the file has them; ``evaluate`` needs them);
    otherwise the first inputs columns are inputs and the rest targets.
    """
    import attrs

    from npframe.data import load_data, read_header
    from npframe.tables import match_columns

    header = read_header(path) if Path(path).suffix.lower() == ".csv" else None
    classifier = net.loss.classification
    by_name = header is not None and net.feature_names is not None
    if targets is None and by_name:
        known = list(net.target_names or [])
        present = [t for t in known if t in header]
        if evaluate and known and len(present) < len(known):
            from npframe._names import closest

            missing = next(t for t in known if t not in header)
            guess = closest(missing, [h for h in header if h not in net.feature_names])
            hint = f"; did you mean {guess!r}?" if guess else ""
            msg = (f"{path}: missing target column {missing!r}{hint} (the model's targets: "
                   f"{', '.join(known)}); name the target columns with --targets")
            raise DataError(msg)
        if evaluate and not known:
            msg = (f"{path}: the model does not know its target columns' names; name them "
                   "with --targets")
            raise DataError(msg)
        dataset = load_data(path, present or None, labels=classifier)
    else:
        dataset = load_data(path, targets, n_features=None if (by_name and targets) else
                            net.n_inputs, labels=classifier)
        n_targets = 0 if dataset.y.ndim == 2 and dataset.y.shape[1] == 0 else (
            1 if dataset.y.ndim == 1 else dataset.y.shape[1])
        if targets is None and not by_name and n_targets not in (0, net.n_outputs) and not (
                classifier and n_targets == 1):
            msg = (
                f"{path}: {dataset.X.shape[1] + n_targets} columns, but the model takes "
                f"{net.n_inputs} inputs and has {net.n_outputs} outputs; give the "
                f"{net.n_inputs} input columns first (then, optionally, the {net.n_outputs} "
                "targets), or name the target columns with --targets"
            )
            raise CLIError(msg)
    if by_name and dataset.feature_names:
        try:
            X = match_columns(dataset.X, dataset.feature_names, net.feature_names, path)
        except ValueError as exc:
            raise DataError(str(exc)) from None
        dataset = attrs.evolve(dataset, X=X, feature_names=net.feature_names)
    elif dataset.X.shape[1] != net.n_inputs:
        listed = dataset.feature_names
        names = f" ({', '.join(listed) if len(listed) <= 8 else str(len(listed)) + ' columns'})"
        msg = (f"{path}: {dataset.X.shape[1]} input columns{names if listed else ''}, but the "
               f"model takes {net.n_inputs}")
        raise DataError(msg)
    return dataset


def _has_targets(dataset: Any) -> bool:
    y = dataset.y
    return y.ndim == 1 or (y.ndim == 2 and y.shape[1] > 0)


# -- predict -------------------------------------------------------------------------------
def _cmd_predict(args: argparse.Namespace, out: IO[str]) -> int:
    net = _load_model(args.model)
    dataset = _model_data(net, args.data, args.targets, evaluate=False)
    X = dataset.X
    if net.loss.classification:
        header, rows = _classifier_rows(net, X)
    else:
        pred = net.predict(X)
        header = list(net.target_names or dataset.target_names or ())
        if len(header) != pred.shape[1]:
            header = [f"y{i}" for i in range(pred.shape[1])]
        rows = [[repr(v) for v in row] for row in pred.tolist()]
    if args.out is None:
        _write_rows(out, header, rows)
        return EXIT_OK
    with open(args.out, "w", newline="", encoding="utf-8") as fh:
        _write_rows(fh, header, rows)
    what = header[0] if net.loss.classification else ", ".join(header)
    print(f"wrote {_plural(len(rows), 'prediction')} ({what}) to {args.out}", file=out)
    return EXIT_OK


def _classifier_rows(net: Any, X: np.ndarray) -> tuple[list[str], list[list[str]]]:
    """The label under the target's name, then one probability column per class."""
    from npframe.labels import decode

    probabilities = net.predict(X)
    if probabilities.shape[1] == 1:  # one sigmoid output: the second class's probability
        probabilities = np.column_stack([1.0 - probabilities[:, 0], probabilities[:, 0]])
    classes = net.classes
    targets = list(net.target_names or ())
    if classes is not None:
        names = [str(c) for c in classes.tolist()]
    elif len(targets) == probabilities.shape[1]:  # trained on one-hot columns: their names
        names = targets
    else:
        names = [str(i) for i in range(probabilities.shape[1])]
    label_name = targets[0] if len(targets) == 1 else "label"
    index = decode(probabilities, None)
    header = [label_name, *(f"p({name})" for name in names)]
    rows = [[names[i], *(repr(v) for v in row)]
            for i, row in zip(index.tolist(), probabilities.tolist(), strict=True)]
    return header, rows


def _write_rows(fh: IO[str], header: list[str], rows: list[list[str]]) -> None:
    """Numbers as their ``repr``: the shortest text that reads back to the same float."""
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)


# -- evaluate ------------------------------------------------------------------------------
def _metric_names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise CLIError(f"--metrics: empty metric name in {text!r}; give names separated by "
                       "single commas, e.g. mae,r2")
    return names


def _cmd_evaluate(args: argparse.Namespace, out: IO[str]) -> int:
    from npframe.registry import default_registry
    from npframe.trainer import check_dataset, check_labels

    names = _metric_names(args.metrics) if args.metrics is not None else []
    net = _load_model(args.model)
    extra: dict[str, Any] = {}
    registry = default_registry()
    for name in names:
        if name not in net.metrics and name not in extra:
            extra[name] = registry.create("metric", name, path="--metrics")
    if not names:
        extra = _report_metrics(net)
    dataset = _model_data(net, args.data, args.targets, evaluate=True)
    check_dataset(net, dataset, args.data)
    column = dataset.target_names[0] if len(dataset.target_names) == 1 else None
    check_labels(net.classes, np.asarray(dataset.y), args.data, column)
    results = net.evaluate_metrics(dataset.X, dataset.y, metrics=extra)
    scale = ", standardized scale" if net.spec.scales_targets else ""
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
            parts.append(f"validation split {t.validation_split}"
                         + (" (random draw)" if t.validation_shuffle else ""))
        if t.early_stopping is not None:
            es = t.early_stopping
            parts.append(f"early stopping on {es.monitor} (patience {es.patience})")
        if t.class_weight is not None:
            parts.append(f"class weights {json.dumps(t.class_weight)}")
        if t.test is not None:
            parts.append(f"test file {t.test}")
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


# -- main ----------------------------------------------------------------------------------
def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def _is_bad_input(exc: BaseException) -> bool:
    """Errors about what the user gave us; everything else is a bug worth a traceback."""
    if isinstance(exc, NpframeError | CLIError):
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


@contextlib.contextmanager
def _collected_warnings(stream: IO[str]) -> Iterator[list[warnings.WarningMessage]]:
    """Warnings raised inside, printed as ``npframe: warning: ...`` lines as they leave,
    and handed to the caller (the summary says when training did not converge)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            yield caught
        finally:
            for warning in caught:
                print(f"{PROG}: warning: {' '.join(str(warning.message).split())}",
                      file=stream)


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
        return EXIT_INTERRUPTED
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
