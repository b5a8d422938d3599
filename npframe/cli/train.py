"""``npframe train``: a spec and its data in, a saved model and a summary out."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import IO, Any

import attrs
import numpy as np

from npframe import io
from npframe.callbacks import EarlyStopping, ModelCheckpoint
from npframe.cli.common import (
    DATA_HELP,
    EXIT_INTERRUPTED,
    EXIT_OK,
    PROG,
    TARGETS_HELP,
    architecture,
    batch_size,
    check_output,
    collected_warnings,
    fmt,
    fraction,
    in_spec,
    int_at_least,
    load_spec,
    logs_line,
    plural,
    report_metrics,
)
from npframe.data import describe_columns
from npframe.dataset import Dataset
from npframe.errors import CLIError, ConvergenceWarning
from npframe.network import Network
from npframe.plot import plot_history, require_matplotlib
from npframe.registry import default_registry
from npframe.spec import TrainSpec
from npframe.summary import describe_component, table
from npframe.trainer import TrainingRun, prepare


def add_parser(sub: Any) -> None:
    train = sub.add_parser(
        "train", help="train a network from a spec, save it, print a summary",
        description=(
            "Train the network SPEC describes on --data (or on the dataset the spec's "
            "[train] table names), save it, and print a summary. The spec's [train] table "
            "gives defaults that the options override."
        ),
    )
    train.add_argument("spec", metavar="SPEC", help="the network spec (.toml or .json)")
    train.add_argument("--data", metavar="FILE", help=DATA_HELP)
    train.add_argument("--targets", metavar="COLS", help=TARGETS_HELP)
    train.add_argument("--weights", metavar="COLUMN",
                       help="a column of --data holding one sample weight per row (not an "
                            "input)")
    train.add_argument("--test", metavar="FILE",
                       help="a test file (same columns as --data) to report the loss and "
                            "metrics on after training (default: [train] test)")
    train.add_argument("--epochs", metavar="N", type=int_at_least(0, "epochs"),
                       help="epochs to train (default: [train] epochs, else 100)")
    train.add_argument("--batch-size", metavar="B", type=batch_size,
                       help="minibatch size, or 'full' for full-batch gradient descent "
                            "(default: [train] batch_size, else 32)")
    train.add_argument("--validation-split", metavar="F", type=fraction,
                       help="hold out this fraction of the data (its last rows, or a "
                            "random draw with --validation-shuffle) to report val_loss "
                            "(default: [train] validation_split, else 0)")
    train.add_argument("--validation-shuffle", action="store_true", default=None,
                       help="hold out a seeded random fraction (stratified by class for "
                            "labels) instead of the last rows")
    train.add_argument("--seed", metavar="S", type=int_at_least(0, "seed"),
                       help="replace the spec's seed")
    train.add_argument("--out", metavar="MODEL.npz",
                       help="where to save the model (default: SPEC's name with .npz, "
                            "in the current folder)")
    train.add_argument("--checkpoint-every", metavar="N", type=int_at_least(1, "checkpoint"),
                       help="also save the model to --out after every N-th epoch")
    train.add_argument("--plot", metavar="LOSS.png",
                       help='draw the loss curves to this PNG (needs pip install "npframe[plot]")')
    train.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    train.set_defaults(handler=run)


def run(args: argparse.Namespace, out: IO[str]) -> int:
    spec = load_spec(args.spec)
    if args.seed is not None:
        spec = attrs.evolve(spec, seed=args.seed)
    model_path = check_output(args.out or Path(args.spec).stem + ".npz", ".npz", "--out")
    io.check_writable(model_path)  # a folder that refuses files fails now, not after training
    plot_path = check_output(args.plot, ".png", "--plot") if args.plot else None
    if plot_path is not None:
        try:
            require_matplotlib()
        except ImportError as exc:
            raise CLIError(f"--plot: {exc}") from None
    source = args.data
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
        source = f"dataset {spec.train.dataset.name!r}"
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
    with in_spec(args.spec):
        training = prepare(
            spec, args.data, targets=args.targets, epochs=args.epochs,
            batch_size=args.batch_size, validation_split=args.validation_split,
            validation_shuffle=args.validation_shuffle, test=test, weights=args.weights,
            callbacks=callbacks, verbose=not args.quiet,
        )
    extra_metrics = report_metrics(training.net)  # for the test line, without spec metrics

    start = time.perf_counter()
    with collected_warnings(sys.stderr) as caught:
        try:
            history = training.fit()
        except KeyboardInterrupt:
            return _save_interrupted(training.net, model_path)
    elapsed = time.perf_counter() - start
    net = training.net
    net.save(model_path)
    if plot_path is not None and history.loss:
        plot_history(history, plot_path, title=f"{Path(args.spec).name}: {architecture(spec)}")

    batches = ("full batch" if training.batch_size is None
               else f"batch size {training.batch_size}")
    scale = {True: ", standardized", "inputs": ", inputs standardized",
             "targets": ", targets standardized"}.get(spec.standardize, "")
    rows = [
        ("network", f"{architecture(spec)}  ({plural(net.n_parameters, 'parameter')}, "
                    f"{spec.dtype}{scale}, seed {spec.seed})"),
        ("data", _describe_data(source, training)),
        ("training", f"{plural(len(history.loss), 'epoch')} in {elapsed:.1f} s, {batches}, "
                     f"{spec.loss.name} loss, {describe_component(spec.optimizer)}"),
    ]
    stopper = training.early_stopping
    if stopper is not None and stopper.stopped_epoch is not None:
        rows.append(("stopped", _stopped(stopper)))
    if history.loss:
        final = {key: values[-1] for key, values in history.history.items() if values}
        rows.append(("final", logs_line(final)))
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        rows.append(("converged", "no: training did not converge (see the warning above)"))
    if training.test is not None:
        results = net.evaluate_metrics(training.test.X, training.test.y, metrics=extra_metrics)
        where = "" if training.test_source == "test split" else (
            f"  ({plural(len(training.test.X), 'sample')} of {training.test_source})")
        rows.append(("test", logs_line(results) + where))
    rows.append(("model", str(model_path)))
    if plot_path is not None:
        rows.append(("plot", str(plot_path) if history.loss else "none: no epochs trained"))
    print(f"trained {args.spec}", file=out)
    print(table(rows), file=out)
    if spec.scales_targets and history.loss:
        raw = net.metrics or (extra_metrics and training.test is not None)
        metrics = ", metrics on the raw scale" if raw else ""
        print(f"  (losses on the standardized scale{metrics})", file=out)
    examples = training.dataset.examples
    if examples is not None and examples.ndim == 2 and examples.shape[1:] == (net.n_inputs,):
        print(file=out)
        print(_examples_table(net, training.dataset), file=out)
    return EXIT_OK


def _stopped(stopper: EarlyStopping) -> str:
    text = (f"early after epoch {(stopper.stopped_epoch or 0) + 1}: {stopper.monitor} had "
            f"not improved for {stopper.patience} epochs")
    if stopper.best_epoch is not None and stopper.best is not None:
        kept = ", weights of that epoch kept" if stopper.restore_best_weights else ""
        text += (f" (best {stopper.monitor} {fmt(stopper.best)} in epoch "
                 f"{stopper.best_epoch + 1}{kept})")
    return text


def _save_interrupted(net: Network, model_path: Path) -> int:
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


def _describe_data(source: str, training: TrainingRun) -> str:
    """``"data.csv: 120 samples (30 held out for validation); inputs a, b -> price"``."""
    dataset = training.dataset
    text = f"{source}: {dataset.X.shape[0]} samples"
    if training.n_validation:
        how = ""
        if training.validation_shuffle:
            stratified = training.net.loss.classification and training.net.classes is not None
            how = ", a stratified random draw" if stratified else ", a random draw"
        text += f" ({training.n_validation} held out for validation{how})"
    if training.test_source == "test split" and training.test is not None:
        text += f", {len(training.test.X)} test samples"
    if dataset.sample_weight is not None:
        text += ", weighted"
    if dataset.feature_names or dataset.target_names:
        inputs = describe_columns(dataset.feature_names) or "?"
        targets = describe_columns(dataset.target_names) or "?"
        classes = training.net.classes
        if classes is not None:
            shown = ", ".join(map(str, classes[:5].tolist())) + (", ..." if len(classes) > 5
                                                                 else "")
            text += f"; inputs {inputs} -> labels {targets} ({len(classes)} classes: {shown})"
        else:
            text += f"; inputs {inputs} -> targets {targets}"
    return text


def _examples_table(net: Network, dataset: Dataset) -> str:
    X = np.asarray(dataset.examples, dtype=np.float64)
    pred = net.predict(X)
    inputs = list(dataset.feature_names) or [f"x{i}" for i in range(net.n_inputs)]
    outputs = list(dataset.target_names) or [f"y{i}" for i in range(net.n_outputs)]
    rows = [[*inputs, "->", *outputs]]
    for x, p in zip(X, pred, strict=True):
        rows.append([*(fmt(v) for v in x), "->", *(f"{v:.2f}" if abs(v) < 1e6 else fmt(v)
                                                   for v in p)])
    right = [i for i in range(len(rows[0])) if i != net.n_inputs]
    return "predictions for the dataset's examples (raw scale):\n" + table(rows, right=right)
