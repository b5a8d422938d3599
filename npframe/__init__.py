"""npframe: a plugin-oriented neural-network framework on NumPy.

Networks assemble themselves from specs; components (activations, losses,
initializers, optimizers, metrics, schedules, datasets) come from a string-keyed
registry that installed plugins fill through the ``npframe_register`` hook.
"""

from npframe import registry
from npframe._version import __version__
from npframe.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
)
from npframe.dataset import Dataset
from npframe.errors import (
    DataError,
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
from npframe.sweeps import sweep
from npframe.trainer import train


def load(path, *, registry=None):
    """Read a model written by ``Network.save``; never unpickles anything.

    ``registry`` (default: the process-wide one) supplies the components the model's
    spec names; see ``npframe.io.load`` for the errors.
    """
    from npframe.io import load as _load

    return _load(path, registry=registry)


__all__ = [
    "Activation",
    "CSVLogger",
    "Callback",
    "DataError",
    "Dataset",
    "DivergenceError",
    "EarlyStopping",
    "History",
    "Initializer",
    "LearningRateScheduler",
    "Loss",
    "Metric",
    "ModelCheckpoint",
    "ModelFileError",
    "Network",
    "NetworkSpec",
    "NpframeError",
    "Optimizer",
    "PluginWarning",
    "ReduceLROnPlateau",
    "RegistryError",
    "Schedule",
    "SpecError",
    "UnknownComponentError",
    "__version__",
    "hookimpl",
    "load",
    "registry",
    "sweep",
    "train",
]
