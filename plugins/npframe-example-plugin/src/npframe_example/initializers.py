"""An initializer. ``shape`` is ``(fan_in, fan_out)``; randomness only from ``rng``."""

from __future__ import annotations

import numpy as np
from attrs import field, frozen, validators

from npframe import Initializer

__all__ = ["Orthogonal"]


@frozen
class Orthogonal(Initializer):
    """A random (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014).

    Orthonormal columns when ``fan_in >= fan_out``, orthonormal rows otherwise: the
    Q of a QR factorization of a Gaussian matrix, with signs fixed so that Q is
    uniformly distributed (Mezzadri 2007).
    """

    gain: float = field(default=1.0, converter=float, validator=validators.gt(0.0))

    def __call__(self, shape, rng):
        fan_in, fan_out = shape
        tall = (max(fan_in, fan_out), min(fan_in, fan_out))
        q, r = np.linalg.qr(rng.standard_normal(tall))
        q *= np.where(np.diagonal(r) < 0, -1.0, 1.0)
        q *= self.gain
        return q if fan_in >= fan_out else q.T.copy()
