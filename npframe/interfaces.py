"""The abstract component interfaces every plugin implements.

They are plain ``abc.ABC`` classes on purpose: npframe writes its own components with
attrs, but a plugin may subclass these with a hand-written ``__init__``. A subclass
that forgets an abstract method fails when instantiated, not in the middle of ``fit``.

Conventions shared by all of them:

* arrays are batch first: ``(n_samples, n_features)``;
* inputs are never mutated, and the dtype that comes in is the dtype that goes out;
* randomness only ever comes from the ``np.random.Generator`` passed in.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["Activation", "Initializer", "Loss", "Metric", "Optimizer", "Schedule"]


class Activation(abc.ABC):
    """An elementwise (or row-wise) nonlinearity ``a = f(z)``."""

    @abc.abstractmethod
    def forward(self, z: np.ndarray) -> np.ndarray:
        """``(n, units) -> (n, units)``: the activation of pre-activations ``z``."""

    @abc.abstractmethod
    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        """``(n, units) x3 -> (n, units)``: dL/dz from dL/da.

        ``a`` is ``forward(z)``, handed back so activations whose derivative is cheaper
        in terms of their output (sigmoid, tanh) need not recompute it.
        """


class Loss(abc.ABC):
    """A training objective comparing targets with predictions."""

    @abc.abstractmethod
    def value(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        """``(n, k), (n, k) -> float``: the loss, averaged over the batch."""

    @abc.abstractmethod
    def gradient(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """``(n, k), (n, k) -> (n, k)``: d value / d y_pred, consistent with ``value``."""

    def value_and_gradient(
        self, y_true: np.ndarray, y_pred: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Both at once; override when they share work (the training loop calls this)."""
        return self.value(y_true, y_pred), self.gradient(y_true, y_pred)


class Initializer(abc.ABC):
    """Draws a weight matrix."""

    @abc.abstractmethod
    def __call__(self, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """``(fan_in, fan_out) -> array of that shape``, drawn only from ``rng``."""


class Optimizer(abc.ABC):
    """Updates parameters in place from their gradients.

    An optimizer that keeps state (momenta, step counts) overrides ``state_dict`` and
    ``load_state_dict`` so that ``save``/``load`` resume training exactly. The defaults
    here are right for stateless optimizers such as plain SGD.
    """

    @abc.abstractmethod
    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """Update every ``params[i]`` in place from ``grads[i]`` (same shapes, same order)."""

    def state_dict(self) -> dict[str, np.ndarray]:
        """Internal state as named plain numeric arrays (empty when stateless)."""
        return {}

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore what ``state_dict`` returned; unknown keys are an error."""
        if state:
            keys = ", ".join(sorted(state))
            msg = (
                f"{type(self).__name__} is stateless but was given state for: {keys}; "
                "was this state saved by a different optimizer?"
            )
            raise ValueError(msg)


class Metric(abc.ABC):
    """A number reported during training and by ``evaluate``; never differentiated."""

    #: Whether larger values are better (accuracy, R^2) or worse (MAE).
    greater_is_better: bool = False

    @abc.abstractmethod
    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        """``(n, k), (n, k) -> float``."""


class Schedule(abc.ABC):
    """A learning-rate schedule: a multiplier of the optimizer's base learning rate."""

    @abc.abstractmethod
    def __call__(self, epoch: int) -> float:
        """The factor applied to the base learning rate during 0-based ``epoch``."""
