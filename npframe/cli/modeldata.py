"""A data file read for a saved model: its inputs in the model's column order and, when
present, its targets (what ``predict`` and ``evaluate`` share)."""

from __future__ import annotations

from pathlib import Path

import attrs

from npframe._names import closest
from npframe.data import load_data, read_header
from npframe.dataset import Dataset
from npframe.errors import CLIError, DataError
from npframe.network import Network
from npframe.tables import match_columns


def model_data(net: Network, path: str, targets: str | None, *, evaluate: bool) -> Dataset:
    """``path`` read for ``net``: its inputs in the model's column order (matched by name
    when both have names) and, when present, its target columns.

    Without ``--targets``, a model that knows its column names takes the targets by
    name (``predict`` skips them when the file has them; ``evaluate`` needs them);
    otherwise the first inputs columns are inputs and the rest targets.
    """
    header = read_header(path) if Path(path).suffix.lower() == ".csv" else None
    classifier = net.loss.classification
    feature_names = net.feature_names if header is not None else None
    if targets is None and header is not None and feature_names is not None:
        dataset = _by_name(net, path, header, feature_names, evaluate=evaluate)
    else:
        dataset = load_data(path, targets, labels=classifier, n_features=(
            None if feature_names is not None and targets else net.n_inputs))
        if targets is None and feature_names is None:
            _check_unnamed_columns(net, path, dataset)
    if feature_names is not None and dataset.feature_names:
        try:
            X = match_columns(dataset.X, dataset.feature_names, feature_names, path)
        except ValueError as exc:
            raise DataError(str(exc)) from None
        return attrs.evolve(dataset, X=X, feature_names=feature_names)
    if dataset.X.shape[1] != net.n_inputs:
        listed = dataset.feature_names
        names = f" ({', '.join(listed) if len(listed) <= 8 else str(len(listed)) + ' columns'})"
        msg = (f"{path}: {dataset.X.shape[1]} input columns{names if listed else ''}, but the "
               f"model takes {net.n_inputs}")
        raise DataError(msg)
    return dataset


def has_targets(dataset: Dataset) -> bool:
    y = dataset.y
    return y.ndim == 1 or (y.ndim == 2 and y.shape[1] > 0)


def _by_name(net: Network, path: str, header: list[str], feature_names: list[str], *,
             evaluate: bool) -> Dataset:
    """The model's target columns taken by name: skipped if absent (predict), required
    (evaluate)."""
    known = list(net.target_names or [])
    present = [t for t in known if t in header]
    if evaluate and known and len(present) < len(known):
        missing = next(t for t in known if t not in header)
        guess = closest(missing, [h for h in header if h not in feature_names])
        hint = f"; did you mean {guess!r}?" if guess else ""
        msg = (f"{path}: missing target column {missing!r}{hint} (the model's targets: "
               f"{', '.join(known)}); name the target columns with --targets")
        raise DataError(msg)
    if evaluate and not known:
        msg = (f"{path}: the model does not know its target columns' names; name them "
               "with --targets")
        raise DataError(msg)
    return load_data(path, present or None, labels=net.loss.classification)


def _check_unnamed_columns(net: Network, path: str, dataset: Dataset) -> None:
    """Columns by position: the inputs, then none or all of the targets."""
    y = dataset.y
    n_targets = 0 if y.ndim == 2 and y.shape[1] == 0 else (1 if y.ndim == 1 else y.shape[1])
    if n_targets in (0, net.n_outputs) or (net.loss.classification and n_targets == 1):
        return
    msg = (
        f"{path}: {dataset.X.shape[1] + n_targets} columns, but the model takes "
        f"{net.n_inputs} inputs and has {net.n_outputs} outputs; give the "
        f"{net.n_inputs} input columns first (then, optionally, the {net.n_outputs} "
        "targets), or name the target columns with --targets"
    )
    raise CLIError(msg)
