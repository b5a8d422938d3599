"""npframe: a plugin-oriented neural-network framework on NumPy.

Networks assemble themselves from specs; components (layers, activations, losses,
initializers, optimizers, metrics, schedules, datasets) come from a string-keyed
registry that installed plugins fill through the ``npframe_register`` hook.
"""

from typing import Any

from npframe import registry
from npframe._version import __version__
from npframe.assembly import check_spec
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
    ConvergenceWarning,
    DataError,
    DivergenceError,
    ModelFileError,
    NpframeError,
    PluginLoadError,
    PluginWarning,
    RegistryError,
    SpecError,
    UnknownComponentError,
)
from npframe.hookspecs import hookimpl
from npframe.interfaces import (
    Activation,
    Initializer,
    Layer,
    LayerContext,
    Loss,
    Metric,
    Optimizer,
    Schedule,
    TrainingPlan,
)
from npframe.network import Network, from_bytes, load
from npframe.spec import NetworkSpec
from npframe.trainer import train

__all__ = [
    "Activation",
    "CSVLogger",
    "Callback",
    "ConvergenceWarning",
    "DataError",
    "Dataset",
    "DivergenceError",
    "EarlyStopping",
    "History",
    "Initializer",
    "Layer",
    "LayerContext",
    "LearningRateScheduler",
    "Loss",
    "Metric",
    "ModelCheckpoint",
    "ModelFileError",
    "Network",
    "NetworkSpec",
    "NpframeError",
    "Optimizer",
    "PluginLoadError",
    "PluginWarning",
    "ReduceLROnPlateau",
    "RegistryError",
    "Schedule",
    "SpecError",
    "TrainingPlan",
    "UnknownComponentError",
    "__version__",
    "check_spec",
    "from_bytes",
    "hookimpl",
    "load",
    "registry",
    "sweep",
    "train",
]


def __getattr__(name: str) -> Any:
    """``npframe.sweep`` imports the sweeps package when first used: most programs never
    sweep, and it would add a sixth to ``import npframe``'s time."""
    if name == "sweep":
        from npframe.sweeps import sweep

        return sweep
    raise AttributeError(f"module 'npframe' has no attribute {name!r}")
