"""Built-in weight initializers. ``shape`` is ``(fan_in, fan_out)``."""

from __future__ import annotations

import math

from attrs import frozen

from npframe import Initializer

__all__ = ["HeNormal"]


@frozen
class HeNormal(Initializer):
    """Normal with std ``sqrt(2 / fan_in)`` (He et al. 2015): keeps ReLU activations' scale."""

    def __call__(self, shape, rng):
        fan_in = shape[0]
        return rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)


REGISTRY = [("initializer", "he", HeNormal)]
