"""Class labels: learning the classes, encoding label columns, decoding predictions.

A network whose loss declares ``classification`` accepts a column of labels (integers,
strings, booleans) as targets. Its ``classes`` are the sorted distinct labels, as
scikit-learn's ``classes_``; labels become one-hot rows (one output per class) or, for
a single-output network and two classes, the indicator of the second class.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from npframe._names import listing

__all__ = ["as_labels", "decode", "encode", "is_label_column", "learn_classes"]


def as_labels(y: Any, where: str) -> np.ndarray:
    """``y`` as a 1-D array of labels: numbers, bools or strings (never objects)."""
    array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        msg = f"{where}: class labels must be one column (got shape {array.shape})"
        raise ValueError(msg)
    if array.dtype == object:
        kinds = {type(v) for v in array.tolist()}
        if kinds <= {str}:
            array = array.astype(str)
        elif kinds <= {int, bool} or kinds <= {int, float}:
            array = array.astype(np.float64 if float in kinds else np.int64)
        else:
            names = ", ".join(sorted(k.__name__ for k in kinds))
            msg = f"{where}: class labels must be all strings or all numbers (got {names})"
            raise ValueError(msg)
    if array.dtype.kind not in "biufU":
        raise ValueError(f"{where}: class labels must be numbers or strings (got {array.dtype})")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = int(np.argwhere(~np.isfinite(array))[0][0])
        raise ValueError(f"{where}: label {array[bad]} at row {bad} is not a class")
    return array


def is_label_column(y: Any, n_outputs: int) -> bool:
    """Whether targets for a classifier are labels (vs one-hot / probability columns)."""
    array = np.asarray(y)
    if array.ndim == 1:
        return True
    if array.ndim == 2 and array.shape[1] == 1:
        return array.dtype.kind not in "f" or n_outputs > 1
    return False


def learn_classes(labels: np.ndarray, n_outputs: int, where: str) -> np.ndarray:
    """The sorted distinct labels, checked against the number of outputs."""
    classes = np.unique(labels)
    fits = len(classes) == n_outputs or (n_outputs == 1 and len(classes) <= 2)
    if not fits:
        shown = listing(map(str, classes[:12])) + (", ..." if len(classes) > 12 else "")
        need = ("1 output (binary) or as many outputs as classes" if len(classes) <= 2
                else f"{len(classes)} outputs, one per class")
        msg = (
            f"{where}: the labels hold {len(classes)} classes ({shown}), but the network has "
            f"{n_outputs} outputs; it needs {need} (the last layer's units)"
        )
        raise ValueError(msg)
    return classes


def encode(labels: np.ndarray, classes: np.ndarray, n_outputs: int, dtype: Any,
           where: str) -> np.ndarray:
    """One-hot rows (or the binary indicator) of ``labels``; unknown labels are an error."""
    index = np.searchsorted(classes, labels)
    index = np.minimum(index, len(classes) - 1)
    known = classes[index] == labels
    if not known.all():
        row = int(np.argmin(known))
        msg = (
            f"{where}: label {labels[row].item()!r} (row {row}) was never seen in training; "
            f"the network knows {listing(map(str, classes))}"
        )
        raise ValueError(msg)
    if n_outputs == 1:
        return (index == len(classes) - 1).astype(dtype).reshape(-1, 1)
    out = np.zeros((len(labels), n_outputs), dtype)
    out[np.arange(len(labels)), index] = 1
    return out


def decode(probabilities: np.ndarray, classes: np.ndarray | None) -> np.ndarray:
    """The most probable class of each row (a single column: above 0.5 is the second)."""
    if probabilities.shape[1] == 1:
        index = (probabilities[:, 0] > 0.5).astype(np.intp)
    else:
        index = np.argmax(probabilities, axis=1)
    return index if classes is None else classes[np.minimum(index, len(classes) - 1)]
