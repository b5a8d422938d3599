"""An optimizer with state. Parameters are updated in place and keep their dtype."""

from __future__ import annotations

import numpy as np
from attrs import define, field, validators

from npframe import Optimizer

__all__ = ["Lion"]


@define
class Lion(Optimizer):
    """Lion (Chen et al. 2023): a sign update from an interpolated momentum.

    ``c = beta1 m + (1 - beta1) g``; ``p -= learning_rate (sign(c) + weight_decay p)``;
    ``m = beta2 m + (1 - beta2) g``. The update has the same size in every coordinate,
    so the learning rate is typically 3-10x smaller than Adam's.

    The momenta are state: ``state_dict`` returns them as ``{"m.0": ..., "m.1": ...}``
    (one per parameter, by position) so that ``save``/``load`` resume exactly.
    """

    learning_rate: float = field(default=1e-4, converter=float, validator=validators.gt(0.0))
    beta1: float = field(default=0.9, converter=float,
                         validator=[validators.ge(0.0), validators.lt(1.0)])
    beta2: float = field(default=0.99, converter=float,
                         validator=[validators.ge(0.0), validators.lt(1.0)])
    weight_decay: float = field(default=0.0, converter=float, validator=validators.ge(0.0))
    _m: list = field(factory=list, init=False, repr=False, eq=False)

    def step(self, params, grads):
        if not self._m:
            self._m = [np.zeros_like(p) for p in params]
        elif len(self._m) != len(params):
            msg = f"Lion: state for {len(self._m)} parameters, but step got {len(params)}"
            raise ValueError(msg)
        lr, b1, b2, wd = self.learning_rate, self.beta1, self.beta2, self.weight_decay
        for p, g, m in zip(params, grads, self._m, strict=True):
            update = np.sign(m * b1 + g * (1.0 - b1))
            if wd:
                update += p * wd
            p -= update * lr
            m *= b2
            m += g * (1.0 - b2)

    def state_dict(self):
        return {f"m.{i}": m.copy() for i, m in enumerate(self._m)}

    def load_state_dict(self, state):
        n = len(state)
        expected = {f"m.{i}" for i in range(n)}
        if set(state) != expected:
            unknown = ", ".join(sorted(set(state) - expected)) or "none"
            msg = (
                f"Lion.load_state_dict: expected keys m.0 .. m.{n - 1}; unexpected: {unknown}; "
                "was this state saved by a different optimizer?"
            )
            raise ValueError(msg)
        self._m = [np.array(state[f"m.{i}"]) for i in range(n)]
