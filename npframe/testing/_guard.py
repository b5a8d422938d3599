"""Calling a component under the kit's rules.

Every call into a component goes through ``call``: warnings and floating-point
overflow are errors, the global random state must stay untouched, and a write into a
read-only input (the kit passes inputs read-only) becomes a message naming the line
that tried it.
"""

from __future__ import annotations

import contextlib
import random
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from npframe.testing._messages import origin

__all__ = ["call", "no_global_randomness"]

__tracebackhide__ = True  # the kit's frames stay out of pytest's failure reports


def _numpy_state() -> Any:
    """NumPy's global (legacy) random state, as a dict."""
    return np.random.get_state(legacy=False)  # noqa: NPY002 - checking it is the point


def _same_state(a: Any, b: Any) -> bool:
    return (a["bit_generator"] == b["bit_generator"]
            and np.array_equal(a["state"]["key"], b["state"]["key"])
            and a["state"]["pos"] == b["state"]["pos"]
            and (a["has_gauss"], a["gauss"]) == (b["has_gauss"], b["gauss"]))


@contextlib.contextmanager
def no_global_randomness(what: str) -> Iterator[None]:
    """Fail if NumPy's (or Python's) global random state changes inside the block."""
    np_before = _numpy_state()
    py_before = random.getstate()
    yield
    if not _same_state(np_before, _numpy_state()):
        msg = (
            f"{what} changed NumPy's global random state (np.random.rand, np.random.seed, "
            "...); draw only from the np.random.Generator npframe passes in, so runs are "
            "reproducible from the spec's seed"
        )
        raise AssertionError(msg)
    if random.getstate() != py_before:
        msg = (
            f"{what} changed the state of Python's global random module; draw only from "
            "the np.random.Generator npframe passes in"
        )
        raise AssertionError(msg)


def _read_only_write(exc: BaseException) -> bool:
    return isinstance(exc, ValueError) and "read-only" in str(exc)


def call(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``; a warning, floating-point overflow, exception, write into
    a read-only input or use of the global random state becomes an AssertionError that
    names the call."""
    with no_global_randomness(what), warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
            try:
                return fn(*args, **kwargs)
            except AssertionError:
                raise
            except Warning as w:
                msg = f"{what} warned: {type(w).__name__}: {w}{origin(w)}"
                raise AssertionError(msg) from None
            except Exception as exc:
                if _read_only_write(exc):
                    msg = (
                        f"{what} wrote into one of its inputs{origin(exc)}: NumPy refused "
                        f"({exc}) because the kit passes inputs read-only; components must "
                        "never write into their inputs (npframe reuses those buffers): "
                        "compute into new arrays"
                    )
                    raise AssertionError(msg) from None
                # Chained: the component's own traceback is the one thing worth reading.
                msg = f"{what} raised {type(exc).__name__}: {exc}"
                raise AssertionError(msg) from exc
