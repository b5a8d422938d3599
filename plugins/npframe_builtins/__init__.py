"""npframe's built-in components, registered through the same hook as any plugin.

This package is declared in npframe's own packaging metadata under the ``npframe``
entry-point group (``builtins = "npframe_builtins"``), exactly as a third party
declares theirs, so the built-ins prove the plugin path on every import.
"""

from __future__ import annotations

import npframe
from npframe_builtins import (
    activations,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    optimizers,
    schedules,
    tutorial_metric,
)

__all__ = ["npframe_register"]

#: Every built-in: (kind, name, factory).
COMPONENTS = [
    *layers.REGISTRY,
    *activations.REGISTRY,
    *losses.REGISTRY,
    *initializers.REGISTRY,
    *optimizers.REGISTRY,
    *metrics.REGISTRY,
    *schedules.REGISTRY,
    *datasets.REGISTRY,
    *tutorial_metric.REGISTRY,
]


@npframe.hookimpl
def npframe_register(registry):
    """Register every built-in component."""
    for kind, name, factory in COMPONENTS:
        registry.register(kind, name, factory)
