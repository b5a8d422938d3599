"""Tables with column names: DataFrame-like inputs, and matching columns by name.

Anything with a ``columns`` attribute (pandas, polars, ...) is read as a named table,
without either library being a dependency. A network that learned its column names
matches new data by name: columns are reordered, a missing one is an error naming it,
an extra one too (except the target columns, which ``predict`` ignores).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from npframe._names import closest

__all__ = ["as_array", "columns_of", "match_columns", "names_of"]


def columns_of(table: Any) -> list[str] | None:
    """The column names of a DataFrame-like object (``None`` for plain arrays)."""
    columns = getattr(table, "columns", None)
    if columns is None or isinstance(table, np.ndarray):
        return None
    try:
        return [str(c) for c in list(columns)]
    except TypeError:
        return None


def names_of(target: Any) -> list[str] | None:
    """Target names: a DataFrame's columns, or a named Series' name."""
    names = columns_of(target)
    if names is not None:
        return names
    name = getattr(target, "name", None)
    if isinstance(name, str) and not isinstance(target, np.ndarray):
        return [name]
    return None


def as_array(table: Any) -> Any:
    """A DataFrame-like object's values as a NumPy array; anything else as given."""
    if columns_of(table) is not None or names_of(table) is not None:
        to_numpy = getattr(table, "to_numpy", None)
        if callable(to_numpy):
            return to_numpy()
    return table


def match_columns(array: np.ndarray, names: Sequence[str] | None,
                  expected: Sequence[str] | None, where: str,
                  ignore: Sequence[str] = ()) -> np.ndarray:
    """``array``'s columns in the ``expected`` order, matched by name.

    Without names on either side the array is taken as it is (positions).
    """
    if names is None or expected is None:
        return array
    names, expected = list(names), list(expected)
    if names == expected:
        return array
    position = {name: i for i, name in enumerate(names)}
    for name in expected:
        if name not in position:
            guess = closest(name, [n for n in names if n not in expected])
            hint = f"; did you mean {guess!r}?" if guess else ""
            msg = (
                f"{where}: missing column {name!r}{hint} (the model was trained on "
                f"{_shown(expected)}; the data has {_shown(names)})"
            )
            raise ValueError(msg)
    extra = [n for n in names if n not in expected and n not in ignore]
    if extra:
        msg = (
            f"{where}: unexpected column {extra[0]!r}"
            + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else "")
            + f"; the model was trained on {_shown(expected)}"
            + ": drop it, or check that this is the right file"
        )
        raise ValueError(msg)
    return np.asarray(array)[:, [position[name] for name in expected]]


def _shown(names: Sequence[str], limit: int = 12) -> str:
    """Column names in their order, or how many there are when that is a long list."""
    return ", ".join(names) if len(names) <= limit else f"{len(names)} columns"
