"""Helpers that turn a wrong name into a useful message."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``name``, if any is close enough to be a typo."""
    if not isinstance(name, str):
        return None
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return close[0] if close else None


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
