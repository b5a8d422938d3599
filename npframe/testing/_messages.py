"""How the kit writes numbers, indices and places into its failure messages.

Values are printed exactly (the shortest text that reads back as the same value of
its dtype), never rounded: a message saying an input changed "from 0.418371 to
0.418371" helps nobody.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["index", "number", "origin"]

__tracebackhide__ = True  # the kit's frames stay out of pytest's failure reports

_KIT = Path(__file__).resolve().parent
_NUMPY = Path(np.__file__).resolve().parent


def number(value: Any) -> str:
    """``value`` at full precision: ``repr`` of a Python float, NumPy's shortest
    round-trip text for a float32 (whose ``repr`` as a float64 would show noise)."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, np.floating) and value.dtype != np.float64:
        return str(value)
    return repr(float(value))


def index(idx: tuple[Any, ...]) -> str:
    """``(1, 0)``: an array index as the message shows it."""
    return "(" + ", ".join(str(int(i)) for i in idx) + ")"


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def origin(exc: BaseException) -> str:
    """`` (at plugin/losses.py:23: np.clip(y_pred, ...))``: the component's line that
    raised ``exc`` (the last frame outside NumPy and the kit), or ``""``."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.startswith("<"):
            continue
        path = Path(frame.filename).resolve()
        if _inside(path, _KIT) or _inside(path, _NUMPY):
            continue
        try:
            shown = os.path.relpath(path)
        except ValueError:  # another drive (Windows)
            shown = str(path)
        if shown.startswith(".."):
            shown = str(path)
        code = (frame.line or "").strip()
        return f" (at {shown}:{frame.lineno}{': ' + code if code else ''})"
    return ""
