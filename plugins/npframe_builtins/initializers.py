"""Built-in weight initializers. ``shape`` is ``(fan_in, fan_out)``.

Each draws only from the ``np.random.Generator`` it is given (same generator state,
same weights; NumPy's global state is never touched) and returns a float64 array:
``Network`` casts it once to the spec's dtype, so a float32 net starts from the
float32 rounding of the very same draw. Normal initializers are plain (not
truncated) normals, as in PyTorch's ``torch.nn.init``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from attrs import field, frozen, validators

from npframe import Initializer

__all__ = [
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "LecunNormal",
    "RandomNormal",
    "Zeros",
]


def _fans(shape: Any) -> tuple[int, int]:
    """``(fan_in, fan_out)`` from a 2-D shape, or ``ValueError`` saying what is expected."""
    try:
        fan_in, fan_out = (int(s) for s in shape)
    except (TypeError, ValueError):
        msg = f"initializer shape must be (fan_in, fan_out) (got {shape!r})"
        raise ValueError(msg) from None
    if fan_in < 1 or fan_out < 1:
        msg = f"initializer shape must be positive (got {shape!r})"
        raise ValueError(msg)
    return fan_in, fan_out


def _finite(instance: Any, attribute: Any, value: float) -> None:
    """attrs validator: ``value`` is a finite float."""
    if not math.isfinite(value):
        msg = f"'{attribute.name}' must be finite (got {value!r})"
        raise ValueError(msg)


@frozen
class HeNormal(Initializer):
    """Normal with std ``sqrt(2 / fan_in)`` (He et al. 2015): keeps ReLU activations' scale."""

    def __call__(self, shape, rng):
        fan_in, fan_out = _fans(shape)
        return rng.standard_normal((fan_in, fan_out)) * math.sqrt(2.0 / fan_in)


@frozen
class HeUniform(Initializer):
    """Uniform on ``[-l, l]``, ``l = sqrt(6 / fan_in)``: He's variance ``2 / fan_in``."""

    def __call__(self, shape, rng):
        fan_in, fan_out = _fans(shape)
        limit = math.sqrt(6.0 / fan_in)
        return rng.uniform(-limit, limit, (fan_in, fan_out))


@frozen
class GlorotUniform(Initializer):
    """Uniform on ``[-l, l]``, ``l = sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio 2010).

    Variance ``2 / (fan_in + fan_out)``: suited to tanh and sigmoid layers.
    """

    def __call__(self, shape, rng):
        fan_in, fan_out = _fans(shape)
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, (fan_in, fan_out))


@frozen
class GlorotNormal(Initializer):
    """Normal with std ``sqrt(2 / (fan_in + fan_out))`` (PyTorch's ``xavier_normal_``)."""

    def __call__(self, shape, rng):
        fan_in, fan_out = _fans(shape)
        return rng.standard_normal((fan_in, fan_out)) * math.sqrt(2.0 / (fan_in + fan_out))


@frozen
class LecunNormal(Initializer):
    """Normal with std ``sqrt(1 / fan_in)`` (LeCun et al. 1998): keeps a linear map's variance."""

    def __call__(self, shape, rng):
        fan_in, fan_out = _fans(shape)
        return rng.standard_normal((fan_in, fan_out)) * math.sqrt(1.0 / fan_in)


@frozen
class Zeros(Initializer):
    """All zeros. Draws nothing; every unit of a layer starts (and, alone, stays) identical."""

    def __call__(self, shape, rng):
        return np.zeros(_fans(shape))


@frozen
class RandomNormal(Initializer):
    """Normal with the given ``mean`` and ``std`` (defaults 0 and 0.05, Keras' ``RandomNormal``)."""

    std: float = field(default=0.05, converter=float, validator=validators.ge(0.0))
    mean: float = field(default=0.0, converter=float, validator=_finite)

    def __call__(self, shape, rng):
        fans = _fans(shape)
        return rng.standard_normal(fans) * self.std + self.mean


REGISTRY = [
    ("initializer", "he", HeNormal),
    ("initializer", "he_uniform", HeUniform),
    ("initializer", "glorot", GlorotUniform),
    ("initializer", "glorot_uniform", GlorotUniform),
    ("initializer", "glorot_normal", GlorotNormal),
    ("initializer", "lecun", LecunNormal),
    ("initializer", "zeros", Zeros),
    ("initializer", "normal", RandomNormal),
]
