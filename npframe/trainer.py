"""``npframe.train``: what ``npframe train`` does, as one Python call.

A spec's ``[train]`` table gives the defaults (dataset, epochs, batch size, shuffling,
validation split); keyword arguments override them. Data comes from a file (CSV,
``.npy``, ``.npz``, read by ``npframe.data.load_data``), an ``npframe.Dataset``, an
``(X, y)`` pair, or, when none is given, the dataset the spec names.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Literal

import attrs
import numpy as np

from npframe.callbacks import History
from npframe.data import Targets, load_data
from npframe.dataset import Dataset
from npframe.errors import DataError, SpecError
from npframe.network import Network
from npframe.registry import Registry, default_registry
from npframe.spec import NetworkSpec, SpecLike, TrainSpec

__all__ = ["Data", "check_dataset", "data_source", "resolve_data", "spec_dataset", "train"]

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
                 registry: Registry | None = None) -> Dataset:
    """Turn any accepted form of ``data`` into a ``Dataset`` (columns checked by
    ``check_dataset`` once the network exists)."""
    if targets is not None and not isinstance(data, str | os.PathLike):
        raise DataError("targets choose columns of a data file; pass data as a file path")
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
        return load_data(data, targets, n_features=spec.input)
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
    (a classifier also takes one column of labels); messages start with ``source``."""
    labels_ok = net.loss.classification
    for X, y, split in ((dataset.X, dataset.y, ""), (dataset.X_test, dataset.y_test, " test")):
        if X is None or y is None:
            continue
        if X.ndim != 2 or X.shape[1] != net.n_inputs:
            msg = (
                f"{source}:{split} X has shape {X.shape}, but the network takes "
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
            names = f" ({', '.join(dataset.target_names)})" if dataset.target_names else ""
            msg = (
                f"{source}:{split} y has shape {y.shape}{names}, but the network has "
                f"{net.n_outputs} outputs (the last layer's units) and X has {X.shape[0]} rows"
            )
            raise DataError(msg)


def _override(value: Any, default: Any) -> Any:
    return default if value is None else value


def train(
    spec: SpecLike | NetworkSpec,
    data: Data = None,
    *,
    targets: Targets = None,
    epochs: int | None = None,
    batch_size: int | Literal["full"] | None = None,
    shuffle: bool | None = None,
    validation_split: float | None = None,
    seed: int | None = None,
    callbacks: Iterable[Any] = (),
    verbose: bool = False,
    registry: Registry | None = None,
) -> tuple[Network, History]:
    """Build the network ``spec`` describes, train it on ``data``, return it and its history.

    Arguments left as ``None`` come from the spec's ``[train]`` table (or its
    defaults: 100 epochs, full batch, shuffled, no validation split);
    ``batch_size="full"`` forces full-batch training over a spec's batch size.
    ``seed`` replaces the spec's seed. Data problems raise ``DataError``, spec
    problems ``SpecError``, both before anything is trained.
    """
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
    dataset = resolve_data(net_spec, data, targets=targets, registry=registry)
    check_dataset(net, dataset, data_source(net_spec, data))
    n = len(dataset.X)
    n_val = round(n * split)
    if split and not 1 <= n_val < n:
        msg = (
            f"validation_split={split} of {n} samples leaves an empty "
            "training or validation set"
        )
        raise DataError(msg)
    history = net.fit(
        dataset.X, dataset.y,
        epochs=_override(epochs, defaults.epochs),
        batch_size=batch_size_,
        shuffle=_override(shuffle, defaults.shuffle),
        callbacks=callbacks,
        validation_split=split,
        verbose=verbose,
    )
    return net, history
