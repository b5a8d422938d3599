"""Built-in optimizers. Each updates the parameters in place and keeps their dtype."""

from __future__ import annotations

from attrs import define, field, validators

from npframe import Optimizer

__all__ = ["SGD"]


@define
class SGD(Optimizer):
    """Plain gradient descent: ``p -= learning_rate * g``. Stateless."""

    learning_rate: float = field(default=0.01, converter=float, validator=validators.gt(0.0))

    def step(self, params, grads):
        lr = self.learning_rate
        for p, g in zip(params, grads, strict=True):
            p -= lr * g


REGISTRY = [("optimizer", "sgd", SGD)]
