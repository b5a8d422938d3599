"""What the pytest plugin's fixtures return (the plugin imports this only when one is used)."""

from __future__ import annotations

from typing import Any

import numpy as np

from npframe.registry import Registry
from npframe.testing._inputs import SEED
from npframe.testing._registered import isolated_registry

__all__ = ["MARKER", "OPTION", "registry_for", "rng"]

#: The ini option and the marker that choose the distributions a test session (or one
#: test) loads besides the built-ins. Their names are repeated in the pytest plugin,
#: which must not import npframe to learn them.
OPTION = MARKER = "npframe_distribution"


def registry_for(request: Any) -> Registry:
    """``npframe_registry``: the marker's distributions, else the ini option's (each with
    the built-ins and nothing else), else every installed plugin."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        names = marker.args
        if not names or not all(isinstance(n, str) for n in names):
            msg = (f"@pytest.mark.{MARKER} takes distribution names, e.g. "
                   f"@pytest.mark.{MARKER}('npframe-example') (got {names!r})")
            raise TypeError(msg)
        return isolated_registry(*names)
    configured = request.config.getini(OPTION)
    if configured:
        return isolated_registry(*configured)
    return Registry()


def rng() -> np.random.Generator:
    """``npframe_rng``: seeded, so a failing test fails the same way every run."""
    return np.random.default_rng(SEED)
