"""Helpers that turn a wrong name into a useful message."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: Abbreviations people write for names that are spelled out here (``lr`` in PyTorch
#: and Keras code): suggested when the full name is one of the known names.
ABBREVIATIONS = {
    "lr": "learning_rate",
    "wd": "weight_decay",
    "eps": "epsilon",
    "epsilon": "eps",
    "n_epochs": "epochs",
    "num_epochs": "epochs",
    "max_iter": "epochs",
    "bs": "batch_size",
}


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``name``, if any is close enough to be a typo.

    Case is ignored first (``'ReLU'`` means ``'relu'``), and common abbreviations
    (``lr``) point to the name they abbreviate.
    """
    if not isinstance(name, str):
        return None
    known = list(known)
    if name in ABBREVIATIONS and ABBREVIATIONS[name] in known:
        return ABBREVIATIONS[name]
    by_lower: dict[str, str] = {}
    for item in known:
        if isinstance(item, str):
            by_lower.setdefault(item.lower(), item)
    if name.lower() in by_lower and by_lower[name.lower()] != name:
        return by_lower[name.lower()]
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def listing(known: Iterable[str]) -> str:
    """``"a, b, c"``, or ``"(none)"`` for an empty collection."""
    items = sorted(known)
    return ", ".join(items) if items else "(none)"


def unknown(what: str, name: object, known: Iterable[str], known_label: str = "known") -> str:
    """``"unknown activation 'rleu'; did you mean 'relu'? known: linear, relu"``."""
    known = list(known)
    guess = closest(name, known) if isinstance(name, str) else None
    hint = f"; did you mean {guess!r}?" if guess else ";"
    return f"unknown {what} {name!r}{hint} {known_label}: {listing(known)}"
