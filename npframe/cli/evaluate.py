"""``npframe evaluate``: a saved model's loss and metrics on a data file."""

from __future__ import annotations

import argparse
from typing import IO, Any

import numpy as np

from npframe.cli.common import DATA_HELP, EXIT_OK, TARGETS_HELP, fmt, plural, report_metrics
from npframe.cli.modeldata import model_data
from npframe.errors import CLIError
from npframe.interfaces import Metric
from npframe.network import load
from npframe.registry import default_registry
from npframe.summary import table
from npframe.trainer import check_dataset, check_labels


def add_parser(sub: Any) -> None:
    evaluate = sub.add_parser(
        "evaluate", help="print a model's loss and metrics on a data file",
        description=(
            "Print MODEL's loss on --data (on the scale training measures it) and its "
            "metrics (those in the spec, plus --metrics; accuracy or R² when neither names "
            "one), which are on the raw target scale."
        ),
    )
    evaluate.add_argument("model", metavar="MODEL", help="a model file saved by npframe train")
    evaluate.add_argument("--data", metavar="FILE", required=True, help=DATA_HELP)
    evaluate.add_argument("--targets", metavar="COLS", help=TARGETS_HELP)
    evaluate.add_argument("--metrics", metavar="NAMES",
                          help="more registered metrics to report, comma-separated (e.g. mae,r2)")
    evaluate.set_defaults(handler=run)


def run(args: argparse.Namespace, out: IO[str]) -> int:
    names = _metric_names(args.metrics) if args.metrics is not None else []
    net = load(args.model)
    extra: dict[str, Metric] = {}
    registry = default_registry()
    for name in names:
        if name not in net.metrics and name not in extra:
            extra[name] = registry.create("metric", name, path="--metrics")
    if not names:
        extra = report_metrics(net)
    dataset = model_data(net, args.data, args.targets, evaluate=True)
    check_dataset(net, dataset, args.data)
    column = dataset.target_names[0] if len(dataset.target_names) == 1 else None
    check_labels(net.classes, np.asarray(dataset.y), args.data, column)
    results = net.evaluate_metrics(dataset.X, dataset.y, metrics=extra)
    scale = ", standardized scale" if net.spec.scales_targets else ""
    rows = [("loss", fmt(results.pop("loss")), f"({net.spec.loss.name}{scale})")]
    rows += [(name, fmt(value), "") for name, value in results.items()]
    print(f"{args.model} on {args.data}: {plural(dataset.X.shape[0], 'sample')}", file=out)
    print(table(rows), file=out)
    return EXIT_OK


def _metric_names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise CLIError(f"--metrics: empty metric name in {text!r}; give names separated by "
                       "single commas, e.g. mae,r2")
    return names
