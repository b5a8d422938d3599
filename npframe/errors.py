"""Every exception and warning npframe raises on purpose.

The hierarchy, httpx-style::

    NpframeError
    ├── SpecError (ValueError)          a spec entry is wrong; message starts with its path
    │   └── UnknownComponentError       (also a RegistryError) a name nobody registered
    ├── RegistryError (ValueError)      a kind is unknown or a name is taken
    │   └── PluginLoadError             a plugin failed and NPFRAME_STRICT_PLUGINS is set
    ├── ModelFileError (ValueError)     a model file cannot be read as a model
    ├── DataError (ValueError)          bad data; the message starts with file:line:col
    ├── DivergenceError (FloatingPointError)  the loss or the weights blew up during fit
    ├── ResultsFileError (ValueError)   a sweep's results file belongs to another sweep
    ├── SweepIncompleteError (RuntimeError)  trials of a sweep were lost with their workers
    └── CLIError                        bad command-line input a command noticed itself

    PluginWarning (UserWarning)         a plugin failed to load; the others still work
    ConvergenceWarning (UserWarning)    training ended no better than it started

``SpecError`` and ``RegistryError`` are ``ValueError`` subclasses so code that already
catches ``ValueError`` for bad input keeps working.
"""

from __future__ import annotations

__all__ = [
    "CLIError",
    "ConvergenceWarning",
    "DataError",
    "DivergenceError",
    "ModelFileError",
    "NpframeError",
    "PluginLoadError",
    "PluginWarning",
    "RegistryError",
    "ResultsFileError",
    "SpecError",
    "SweepIncompleteError",
    "UnknownComponentError",
]


class NpframeError(Exception):
    """Base of every error npframe raises deliberately."""


class SpecError(NpframeError, ValueError):
    """A spec entry is invalid.

    ``path`` is where (``layers[1].activation``), and the message starts with it.
    """

    def __init__(self, message: str, path: str = "") -> None:
        self.path = path
        self.reason = message
        super().__init__(f"{path}: {message}" if path else message)


class RegistryError(NpframeError, ValueError):
    """A registry lookup or registration failed (unknown kind, name already taken)."""


class PluginLoadError(RegistryError):
    """A plugin failed to load while ``NPFRAME_STRICT_PLUGINS`` asks for failures to be fatal."""


class UnknownComponentError(SpecError, RegistryError):
    """No component of that kind is registered under that name.

    It is both a ``SpecError`` (the spec names it) and a ``RegistryError`` (the
    registry lacks it), so either ``except`` clause catches it.
    """


class ModelFileError(NpframeError, ValueError):
    """A model file is missing members, malformed, unsafe or from a newer format."""


class DataError(NpframeError, ValueError):
    """A data file (CSV, ``.npy``, ``.npz``) or array does not fit what was asked of it.

    The message starts with where: ``data.csv:3:2: could not convert 'abc' to a number``.
    """


class DivergenceError(NpframeError, FloatingPointError):
    """Training blew up: the loss or the weights became non-finite or exploded.

    ``fit`` raises it naming the epoch, before anything overflows where it can, and
    leaves the network (weights, layer and optimizer state, random streams) at the last
    state whose loss was checked finite, so a smaller learning rate can continue from it.
    """


class ResultsFileError(NpframeError, ValueError):
    """A sweep's results file cannot be resumed: it is malformed or from another sweep."""


class SweepIncompleteError(NpframeError, RuntimeError):
    """Some trials of a sweep never finished because their workers were lost.

    Every finished trial is saved; running the sweep again runs only the missing ones.
    ``result`` is the ``SweepResult`` of what did finish.
    """

    def __init__(self, message: str, result: object = None) -> None:
        self.result = result
        super().__init__(message)


class CLIError(NpframeError):
    """Bad command-line input that a command notices itself; printed as one line, exit 2."""


class PluginWarning(UserWarning):
    """A plugin distribution failed to import or to register its components."""


class ConvergenceWarning(UserWarning):
    """Training ended no better than it started; the message says what to try."""
