"""``npframe.train``: what ``npframe train`` does, as one Python call.

A spec's ``[train]`` table gives the defaults (dataset, epochs, batch size, shuffling,
validation split, early stopping, a test file, class weights); keyword arguments
override them. Data comes from a file (CSV, ``.npy``, ``.npz``, read by
``npframe.data.load_data``), an ``npframe.Dataset``, an ``(X, y)`` pair, or, when none
is given, the dataset the spec names. A classifier's single target column is read as
class labels (``benign``/``malignant``, or integers).

``prepare`` does everything but the training and returns a ``TrainingRun``, whose
``fit`` trains: a caller that must keep the network when training is interrupted
(the command line saves it on Ctrl-C) holds the run. ``train`` is both in one call.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np

from npframe.callbacks import EarlyStopping, History
from npframe.data import Targets, describe_columns, load_data, read_header
from npframe.dataset import Dataset
from npframe.errors import DataError, SpecError
from npframe.labels import is_label_column
from npframe.network import Network
from npframe.registry import Registry, default_registry
from npframe.spec import EarlyStoppingSpec, NetworkSpec, SpecLike, TrainSpec
from npframe.tables import match_columns

__all__ = ["Data", "TrainingRun", "check_dataset", "check_labels", "data_source", "prepare",
           "resolve_data", "spec_dataset", "train"]

#: What ``train`` accepts as data.
Data = str | os.PathLike | Dataset | tuple[Any, Any] | None


def spec_dataset(spec: NetworkSpec, registry: Registry | None = None) -> Dataset | None:
    """The dataset named by the spec's ``[train] dataset``, built; ``None`` if it names none."""
    if spec.train is None or spec.train.dataset is None:
        return None
    registry = registry or default_registry()
    ref = spec.train.dataset
    dataset = registry.create("dataset", ref.to_data(), path="train.dataset")
    if not isinstance(dataset, Dataset):
        msg = f"dataset {ref.name!r} returned a {type(dataset).__name__}, not an npframe.Dataset"
        raise SpecError(msg, "train.dataset")
    return dataset


def resolve_data(spec: NetworkSpec, data: Data = None, *, targets: Targets = None,
                 registry: Registry | None = None, labels: bool = False,
                 weights: str | int | None = None) -> Dataset:
    """Turn any accepted form of ``data`` into a ``Dataset`` (columns checked by
    ``check_dataset`` once the network exists). ``labels`` reads a file's single target
    column as class labels; ``weights`` names its sample-weight column."""
    is_file = isinstance(data, str | os.PathLike)
    if targets is not None and not is_file:
        raise DataError("targets choose columns of a data file; pass data as a file path")
    if weights is not None and not is_file:
        msg = ("weights name a column of a data file; pass data as a file path (or a "
               "Dataset with sample_weight)")
        raise DataError(msg)
    if data is None:
        dataset = spec_dataset(spec, registry)
        if dataset is None:
            registry = registry or default_registry()
            msg = (
                "no training data: give a data file (or a Dataset, or (X, y)), or name a "
                "dataset in the spec's [train] table, e.g. dataset = \"tutorial\" "
                f"(registered datasets: {', '.join(registry.names('dataset')) or '(none)'})"
            )
            raise DataError(msg)
        return dataset
    if isinstance(data, str | os.PathLike):
        return load_data(data, targets, n_features=spec.input, labels=labels, weights=weights)
    if isinstance(data, Dataset):
        return data
    if isinstance(data, tuple | list) and len(data) == 2:
        return Dataset(X=data[0], y=data[1], description="(X, y)")
    msg = (
        "data must be a file path, an npframe.Dataset or an (X, y) pair "
        f"(got {type(data).__name__})"
    )
    raise DataError(msg)


def data_source(spec: NetworkSpec, data: Data) -> str:
    """How messages name the data: the file, the spec's dataset, or ``data``."""
    if isinstance(data, str | os.PathLike):
        return os.fspath(data)
    if isinstance(data, Dataset) and data.description and data.description != "(X, y)":
        return data.description
    if data is None and spec.train is not None and spec.train.dataset is not None:
        return f"dataset {spec.train.dataset.name!r}"
    return "data"


def check_dataset(net: Network, dataset: Dataset, source: str = "data") -> None:
    """``DataError`` unless the dataset's columns fit the network's inputs and outputs
    (a classifier also takes one column of labels); messages start with ``source``.

    Inputs whose names the network knows are matched by name elsewhere; here only
    their count is checked when neither side has names.
    """
    labels_ok = net.loss.classification
    by_name = bool(dataset.feature_names) and net.feature_names is not None
    for X, y, split in ((dataset.X, dataset.y, ""), (dataset.X_test, dataset.y_test, " test")):
        if X is None or y is None:
            continue
        if X.ndim != 2 or (X.shape[1] != net.n_inputs and not by_name):
            names = f" ({describe_columns(dataset.feature_names)})" if (
                dataset.feature_names and not split) else ""
            msg = (
                f"{source}:{split} X has shape {X.shape}{names}, but the network takes "
                f"{net.n_inputs} inputs (spec 'input')"
            )
            raise DataError(msg)
        n_targets = 1 if y.ndim == 1 else (y.shape[1] if y.ndim == 2 else -1)
        if n_targets == 0:
            msg = (
                f"{source}: no target columns; the network has {net.n_outputs} outputs (the "
                f"last layer's units), so the data needs {net.n_outputs} target columns"
            )
            raise DataError(msg)
        fits = n_targets == net.n_outputs or (labels_ok and n_targets == 1)
        if not fits or y.shape[0] != X.shape[0]:
            names = f" ({describe_columns(dataset.target_names)})" if dataset.target_names else ""
            msg = (
                f"{source}:{split} y has shape {y.shape}{names}, but the network has "
                f"{net.n_outputs} outputs (the last layer's units) and X has {X.shape[0]} rows"
            )
            raise DataError(msg)
        if y.dtype.kind in "USO" and not labels_ok:
            msg = (
                f"{source}:{split} the targets are text, but loss {net.spec.loss.name!r} takes "
                "numbers; for class labels use a classification loss (binary_crossentropy, "
                "categorical_crossentropy)"
            )
            raise DataError(msg)


def check_labels(known: np.ndarray | None, y: np.ndarray, source: str,
                 column: str | None = None) -> None:
    """``DataError`` naming the first label of ``y`` (a label column) not in ``known``."""
    if known is None or (y.ndim != 1 and (y.ndim != 2 or y.shape[1] != 1)):
        return
    labels = y.reshape(-1)
    try:
        unseen = ~np.isin(labels, known)
    except TypeError:  # labels and classes of types that never compare equal
        unseen = np.ones(labels.shape, bool)
    if not unseen.any():
        return
    row = int(np.argmax(unseen))
    where = f"target column {column!r}, " if column else ""
    shown = ", ".join(map(str, known[:12].tolist())) + (", ..." if len(known) > 12 else "")
    msg = (
        f"{source}: {where}data row {row + 1}: label {labels[row].item()!r} was never seen "
        f"in training; the model knows {shown}"
    )
    raise DataError(msg)


def _override(value: Any, default: Any) -> Any:
    return default if value is None else value


@attrs.define(eq=False)
class TrainingRun:
    """A network, its data and ``fit``'s arguments, checked and ready to train."""

    net: Network
    dataset: Dataset
    #: How messages name the training data (a file name, ``dataset 'tutorial'``).
    source: str
    epochs: int
    batch_size: int | None
    shuffle: bool
    validation_split: float
    validation_shuffle: bool
    class_weight: Mapping[str, float] | str | None
    callbacks: list[Any]
    verbose: bool
    #: Data to report test metrics on after training (a test file, or the dataset's
    #: own test split), with the name messages give it.
    test: Dataset | None = None
    test_source: str | None = None
    #: The early-stopping callback the ``[train]`` table asked for, if any.
    early_stopping: EarlyStopping | None = None

    @property
    def n_validation(self) -> int:
        return round(len(self.dataset.X) * self.validation_split)

    def fit(self) -> History:
        """Train the network; returns ``fit``'s ``History`` (``net.history`` holds the
        epochs completed if it is interrupted)."""
        data = self.dataset
        return self.net.fit(
            data.X, data.y,
            epochs=self.epochs,
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            callbacks=self.callbacks,
            validation_split=self.validation_split,
            validation_shuffle=self.validation_shuffle,
            sample_weight=data.sample_weight,
            class_weight=self.class_weight,
            feature_names=list(data.feature_names) or None,
            target_names=list(data.target_names) or None,
            verbose=self.verbose,
        )

    def test_results(self) -> dict[str, float] | None:
        """The loss and metrics on the test data (``None`` without test data)."""
        if self.test is None:
            return None
        return self.net.evaluate_metrics(self.test.X, self.test.y)


def prepare(
    spec: SpecLike | NetworkSpec,
    data: Data = None,
    *,
    targets: Targets = None,
    epochs: int | None = None,
    batch_size: int | Literal["full"] | None = None,
    shuffle: bool | None = None,
    validation_split: float | None = None,
    validation_shuffle: bool | None = None,
    seed: int | None = None,
    test: str | os.PathLike | Dataset | tuple[Any, Any] | None = None,
    weights: str | int | None = None,
    class_weight: Mapping[Any, float] | str | None = None,
    early_stopping: EarlyStoppingSpec | bool | None = None,
    callbacks: Iterable[Any] = (),
    verbose: bool = False,
    registry: Registry | None = None,
) -> TrainingRun:
    """Build the network, read and check the data, the test data and every option:
    all the failures ``train`` can have before it trains. See ``train``."""
    registry = registry or default_registry()
    net_spec = NetworkSpec.load(spec, registry)
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise SpecError(f"must be an int >= 0 (got {seed!r})", "seed")
        net_spec = attrs.evolve(net_spec, seed=int(seed))
    defaults = net_spec.train or TrainSpec()
    batch_size_ = None if batch_size == "full" else _override(batch_size, defaults.batch_size)
    split = float(_override(validation_split, defaults.validation_split))
    net = Network(net_spec, registry=registry)
    classifier = net.loss.classification
    dataset = resolve_data(net_spec, data, targets=targets, registry=registry,
                           labels=classifier, weights=weights)
    source = data_source(net_spec, data)
    check_dataset(net, dataset, source)
    n = len(dataset.X)
    n_val = round(n * split)
    if split and not 1 <= n_val < n:
        msg = (
            f"validation_split={split} of {n} samples leaves an empty "
            "training or validation set"
        )
        raise DataError(msg)
    y = np.asarray(dataset.y)
    labels = (np.unique(y.reshape(-1)) if classifier and is_label_column(y, net.n_outputs)
              else None)
    where = "class_weight" if class_weight is not None else "train.class_weight"
    class_weight = _override(class_weight, defaults.class_weight)
    _check_class_weight(class_weight, labels, where)

    test_pair = _test_data(net_spec, spec, test, defaults, dataset, targets, weights,
                           classifier)
    test_data: Dataset | None = None
    test_source: str | None = None
    if test_pair is not None:
        test_source = test_pair[1]
        test_data = _matched(test_pair[0], dataset, test_source)
        check_dataset(net, attrs.evolve(test_data, X_test=None, y_test=None), test_source)
        target = dataset.target_names[0] if len(dataset.target_names) == 1 else None
        check_labels(labels, np.asarray(test_data.y), test_source, target)

    stopper = _early_stopping(_override(early_stopping, defaults.early_stopping), split)
    all_callbacks = [*callbacks, *([stopper] if stopper is not None else [])]
    return TrainingRun(
        net=net, dataset=dataset, source=source,
        epochs=_override(epochs, defaults.epochs),
        batch_size=batch_size_,
        shuffle=_override(shuffle, defaults.shuffle),
        validation_split=split,
        validation_shuffle=bool(_override(validation_shuffle, defaults.validation_shuffle)),
        class_weight=class_weight,
        callbacks=all_callbacks,
        verbose=verbose,
        test=test_data, test_source=test_source,
        early_stopping=stopper,
    )


def train(
    spec: SpecLike | NetworkSpec,
    data: Data = None,
    *,
    targets: Targets = None,
    epochs: int | None = None,
    batch_size: int | Literal["full"] | None = None,
    shuffle: bool | None = None,
    validation_split: float | None = None,
    validation_shuffle: bool | None = None,
    seed: int | None = None,
    test: str | os.PathLike | Dataset | tuple[Any, Any] | None = None,
    weights: str | int | None = None,
    class_weight: Mapping[Any, float] | str | None = None,
    early_stopping: EarlyStoppingSpec | bool | None = None,
    callbacks: Iterable[Any] = (),
    verbose: bool = False,
    registry: Registry | None = None,
) -> tuple[Network, History]:
    """Build the network ``spec`` describes, train it on ``data``, return it and its history.

    Arguments left as ``None`` come from the spec's ``[train]`` table (or its
    defaults: 100 epochs, batch size 32, shuffled, no validation split);
    ``batch_size="full"`` forces full-batch training. ``seed`` replaces the spec's
    seed. A classifier's single target column is read as class labels. ``weights``
    names a sample-weight column of the data file; ``class_weight`` maps labels to
    weights (or ``"balanced"``); ``early_stopping`` is ``True`` or an
    ``EarlyStoppingSpec`` (``val_loss``, or ``loss`` without a validation split; the
    best weights are kept); ``test`` is checked now and its metrics are what
    ``prepare(...).test_results()`` reports. Data problems raise ``DataError``, spec
    problems ``SpecError``, both before anything is trained.
    """
    run = prepare(spec, data, targets=targets, epochs=epochs, batch_size=batch_size,
                  shuffle=shuffle, validation_split=validation_split,
                  validation_shuffle=validation_shuffle, seed=seed, test=test,
                  weights=weights, class_weight=class_weight, early_stopping=early_stopping,
                  callbacks=callbacks, verbose=verbose, registry=registry)
    history = run.fit()
    return run.net, history


# -- helpers ----------------------------------------------------------------------------
def _check_class_weight(class_weight: Any, labels: np.ndarray | None, where: str) -> None:
    """Class weights need labels, and name only classes the labels hold."""
    if class_weight is None:
        return
    if labels is None:
        msg = ("needs a classification loss and a single column of class labels as the "
               "target (one label per sample)")
        raise SpecError(msg, where)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise SpecError(f'must be "balanced" or a table label -> weight (got '
                            f"{class_weight!r})", where)
        return
    if not isinstance(class_weight, Mapping):
        raise SpecError(f"must be a mapping label -> weight or \"balanced\" (got "
                        f"{type(class_weight).__name__})", where)
    known = {str(v) for v in labels.tolist()}
    for label, weight in class_weight.items():
        if str(label) not in known:
            shown = ", ".join(sorted(known)[:12])
            raise SpecError(f"{label!r} is not a class of the data (classes: {shown})",
                            f"{where}.{label}")
        if (isinstance(weight, bool) or not isinstance(weight, int | float | np.integer
                                                        | np.floating)
                or not math.isfinite(weight) or weight < 0):
            raise SpecError(f"must be a number >= 0 (got {weight!r})", f"{where}.{label}")


def _early_stopping(setting: EarlyStoppingSpec | bool | None, split: float,
                    ) -> EarlyStopping | None:
    if setting is None or setting is False:
        return None
    if setting is True:
        setting = EarlyStoppingSpec()
    if not isinstance(setting, EarlyStoppingSpec):
        msg = (f"must be true, false or an EarlyStoppingSpec (got "
               f"{type(setting).__name__})")
        raise SpecError(msg, "train.early_stopping")
    monitor = setting.monitor
    if monitor.startswith("val_") and not split:
        if monitor != "val_loss":
            msg = (f"{monitor!r} needs validation data: set validation_split (e.g. 0.2), "
                   f"or monitor {monitor.removeprefix('val_')!r}")
            raise SpecError(msg, "train.early_stopping.monitor")
        monitor = "loss"  # no validation data: the training loss
    return EarlyStopping(monitor=monitor, patience=setting.patience,
                         min_delta=setting.min_delta,
                         restore_best_weights=setting.restore_best_weights)


def _spec_folder(spec: Any) -> Path:
    """Where a spec's relative paths start: its file's folder, else the working folder."""
    if isinstance(spec, str | os.PathLike):
        return Path(spec).parent
    return Path()


def _test_data(net_spec: NetworkSpec, spec: Any, test: Any, defaults: TrainSpec,
               dataset: Dataset, targets: Targets, weights: str | int | None,
               classifier: bool) -> tuple[Dataset, str] | None:
    """The test data: ``test`` (a file, a Dataset, or (X, y)), the ``[train] test`` file
    (relative to the spec file), or the training dataset's own test split."""
    if test is None and defaults.test is not None:
        test = _spec_folder(spec) / defaults.test
    if test is None:
        if dataset.X_test is not None and dataset.y_test is not None:
            return (Dataset(X=dataset.X_test, y=dataset.y_test,
                            feature_names=dataset.feature_names,
                            target_names=dataset.target_names), "test split")
        return None
    if isinstance(test, Dataset):
        return test, test.description or "test data"
    if isinstance(test, tuple | list) and len(test) == 2:
        return Dataset(X=test[0], y=test[1]), "test data"
    if not isinstance(test, str | os.PathLike):
        msg = f"test must be a file path, a Dataset or an (X, y) pair (got {type(test).__name__})"
        raise DataError(msg)
    path = Path(test)
    header = read_header(path) if path.suffix.lower() == ".csv" else None
    test_targets: Targets = targets
    if dataset.target_names and header is not None:
        test_targets = list(dataset.target_names)
    test_weights = weights
    if isinstance(weights, str) and (header is None or weights not in header):
        test_weights = None
    data = load_data(path, test_targets, n_features=None if dataset.feature_names else
                     net_spec.input, labels=classifier, weights=test_weights)
    return data, os.fspath(path)


def _matched(test: Dataset, train: Dataset, source: str) -> Dataset:
    """The test inputs in the training data's column order (matched by name)."""
    if not test.feature_names or not train.feature_names:
        return test
    try:
        X = match_columns(np.asarray(test.X), test.feature_names, train.feature_names, source)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    return attrs.evolve(test, X=X, feature_names=train.feature_names)
