"""``npframe predict``: a saved model's predictions for a data file, as CSV."""

from __future__ import annotations

import argparse
import csv
from typing import IO, Any

import numpy as np

from npframe.cli.common import DATA_HELP, EXIT_OK, plural
from npframe.cli.modeldata import model_data
from npframe.labels import decode
from npframe.network import Network, load


def add_parser(sub: Any) -> None:
    predict = sub.add_parser(
        "predict", help="write a model's predictions for a data file as CSV",
        description=(
            "Write MODEL's predictions for the inputs in --data as CSV (to --out, or "
            "standard output), headed by the model's target names (else y0, y1, ...); "
            "a classifier writes the label, then one probability column per class. "
            "Numbers are written so they read back exactly."
        ),
    )
    predict.add_argument("model", metavar="MODEL", help="a model file saved by npframe train")
    predict.add_argument("--data", metavar="FILE", required=True, help=DATA_HELP)
    predict.add_argument("--targets", metavar="COLS",
                         help="target columns in the file to skip (by name, index or range); "
                              "default: the model's target columns, when the file has them")
    predict.add_argument("--out", metavar="FILE", help="output CSV (default: standard output)")
    predict.set_defaults(handler=run)


def run(args: argparse.Namespace, out: IO[str]) -> int:
    net = load(args.model)
    dataset = model_data(net, args.data, args.targets, evaluate=False)
    if net.loss.classification:
        header, rows = _classifier_rows(net, dataset.X)
    else:
        pred = net.predict(dataset.X)
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
    print(f"wrote {plural(len(rows), 'prediction')} ({what}) to {args.out}", file=out)
    return EXIT_OK


def _classifier_rows(net: Network, X: np.ndarray) -> tuple[list[str], list[list[str]]]:
    """The label under the target's name, then one probability column per class."""
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
