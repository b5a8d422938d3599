"""``check_dataset``: what a dataset factory returns is trainable as it stands."""

from __future__ import annotations

import numpy as np

from npframe.dataset import Dataset
from npframe.testing._arrays import check_finite
from npframe.testing._parameters import check_instance

__all__ = ["check_dataset"]

__tracebackhide__ = True  # the kit's frames stay out of pytest's failure reports


def _width(y: np.ndarray) -> int:
    return 1 if y.ndim == 1 else y.shape[1]


def check_dataset(dataset: Dataset) -> None:
    """Check what a dataset factory returned; ``None`` if it conforms, else ``AssertionError``.

    Checks: ``X`` is ``(n, features)`` and ``y`` is ``(n, outputs)`` (or ``(n,)``), both
    finite numbers with the same ``n >= 1``; a test split has both arrays and matching
    widths; names, when given, match the widths.
    """
    check_instance(dataset, Dataset, "a dataset")
    pairs = [("X", "y", dataset.X, dataset.y)]
    if (dataset.X_test is None) != (dataset.y_test is None):
        raise AssertionError("dataset: X_test and y_test must be given together (or neither)")
    if dataset.X_test is not None and dataset.y_test is not None:
        pairs.append(("X_test", "y_test", dataset.X_test, dataset.y_test))
    for xn, yn, X, y in pairs:
        if X.ndim != 2 or X.shape[0] < 1:
            raise AssertionError(f"dataset: {xn} must be (n_samples, n_features), got {X.shape}")
        if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
            msg = (f"dataset: {yn} must be ({X.shape[0]},) or ({X.shape[0]}, n_outputs), "
                   f"got {y.shape}")
            raise AssertionError(msg)
        for name, arr in ((xn, X), (yn, y)):
            if arr.dtype.kind not in "biuf":
                raise AssertionError(f"dataset: {name} must hold numbers, got dtype {arr.dtype}")
            check_finite(f"dataset: {name}", arr)
    if dataset.X_test is not None and dataset.y_test is not None:
        if dataset.X_test.shape[1] != dataset.X.shape[1]:
            msg = (f"dataset: X_test has {dataset.X_test.shape[1]} features, X has "
                   f"{dataset.X.shape[1]}")
            raise AssertionError(msg)
        if _width(dataset.y_test) != _width(dataset.y):
            raise AssertionError("dataset: y_test and y have different numbers of outputs")
    if dataset.feature_names and len(dataset.feature_names) != dataset.X.shape[1]:
        msg = (f"dataset: {len(dataset.feature_names)} feature_names for "
               f"{dataset.X.shape[1]} features")
        raise AssertionError(msg)
    if dataset.target_names and len(dataset.target_names) != _width(dataset.y):
        msg = f"dataset: {len(dataset.target_names)} target_names for {_width(dataset.y)} outputs"
        raise AssertionError(msg)
