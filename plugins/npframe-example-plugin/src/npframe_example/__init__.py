"""npframe-example: components of every kind, registered through npframe's hook.

npframe finds this module through the ``npframe`` entry point in ``pyproject.toml``
and calls ``npframe_register`` once, with a staging registry: everything below is
registered together, or (if anything fails, say a name is already taken) nothing.

To start your own plugin, copy this package: see npframe's
``docs/plugins/writing-plugins.md``.
"""

from __future__ import annotations

import npframe
from npframe_example.activations import Snake
from npframe_example.datasets import sine_wave
from npframe_example.initializers import Orthogonal
from npframe_example.layers import GaussianNoise, Scale
from npframe_example.losses import LogCosh
from npframe_example.metrics import MaxError
from npframe_example.optimizers import Lion
from npframe_example.schedules import LinearWarmup

__all__ = [
    "COMPONENTS",
    "GaussianNoise",
    "LinearWarmup",
    "Lion",
    "LogCosh",
    "MaxError",
    "Orthogonal",
    "Scale",
    "Snake",
    "npframe_register",
    "sine_wave",
]

#: Everything this plugin provides, as ``(kind, name, factory)``. The name is what a
#: spec writes: ``activation = { name = "snake", alpha = 2.0 }``.
COMPONENTS = [
    ("activation", "snake", Snake),
    ("loss", "log_cosh", LogCosh),
    ("initializer", "orthogonal", Orthogonal),
    ("optimizer", "lion", Lion),
    ("metric", "max_error", MaxError),
    ("schedule", "linear_warmup", LinearWarmup),
    ("dataset", "sine_wave", sine_wave),
    ("layer", "scale", Scale),
    ("layer", "gaussian_noise", GaussianNoise),
]


@npframe.hookimpl
def npframe_register(registry):
    """Register every component above (npframe calls this once, when it loads plugins)."""
    for kind, name, factory in COMPONENTS:
        registry.register(kind, name, factory)
