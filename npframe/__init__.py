"""npframe: a plugin-oriented neural-network framework on NumPy.

Networks assemble themselves from specs; components (activations, losses,
initializers, optimizers, metrics, schedules, datasets) come from a string-keyed
registry that installed plugins fill through the ``npframe_register`` hook.
"""

from npframe import registry
from npframe._version import __version__
from npframe.callbacks import Callback, History
from npframe.dataset import Dataset
from npframe.errors import (
    DivergenceError,
    ModelFileError,
    NpframeError,
    PluginWarning,
    RegistryError,
    SpecError,
    UnknownComponentError,
)
from npframe.hookspecs import hookimpl
from npframe.interfaces import Activation, Initializer, Loss, Metric, Optimizer, Schedule
from npframe.network import Network
from npframe.spec import NetworkSpec


def load(path):
    """Read a model written by ``Network.save``; never unpickles anything."""
    from npframe.io import load as _load

    return _load(path)


__all__ = [
    "Activation",
    "Callback",
    "Dataset",
    "DivergenceError",
    "History",
    "Initializer",
    "Loss",
    "Metric",
    "ModelFileError",
    "Network",
    "NetworkSpec",
    "NpframeError",
    "Optimizer",
    "PluginWarning",
    "RegistryError",
    "Schedule",
    "SpecError",
    "UnknownComponentError",
    "__version__",
    "hookimpl",
    "load",
    "registry",
]
