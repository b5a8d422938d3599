"""The component contracts every plugin implements, fast paths included.

They are plain ``abc.ABC`` classes on purpose: npframe writes its own components with
attrs, but a plugin may subclass these with a hand-written ``__init__``. A subclass
that forgets an abstract method fails when instantiated, not in the middle of ``fit``.

Each contract has a plain method (the one a plugin must write) and, where training
benefits, an optional in-place variant declared here with a default that calls the
plain one. The training loop calls only the variant, so there is exactly one call
path for built-ins and plugins alike, and ``npframe.testing`` proves the two agree bit
for bit for every component that overrides a variant.

Conventions shared by all of them:

* arrays are batch first: ``(n_samples, n_features)``;
* inputs are never mutated, and the dtype that comes in is the dtype that goes out;
* randomness only ever comes from the ``np.random.Generator`` passed in.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal

import attrs
import numpy as np

__all__ = [
    "Activation",
    "BoundLayer",
    "Initializer",
    "Layer",
    "LayerContext",
    "Loss",
    "Order",
    "Metric",
    "Optimizer",
    "Schedule",
    "TrainingPlan",
    "check_stateless",
]


def check_stateless(owner: object, state: Mapping[str, Any]) -> None:
    """The ``load_state_dict`` of a component without state: only ``{}`` is accepted."""
    if state:
        keys = ", ".join(sorted(map(str, state)))
        msg = (
            f"{type(owner).__name__} is stateless but was given state for: {keys}; "
            "was this state saved by a different component?"
        )
        raise ValueError(msg)


class Activation(abc.ABC):
    """An elementwise (or row-wise) nonlinearity ``a = f(z)``."""

    #: ``True`` promises that ``forward_into(z, z)`` works in place and that
    #: ``backward_into(a, a, grad_a, grad_a)`` is right with the activation standing in
    #: for ``z`` (its derivative follows from ``a`` alone, as ReLU's mask ``a > 0``
    #: does). A dense layer then keeps one buffer per step instead of three.
    in_place: ClassVar[bool] = False

    @abc.abstractmethod
    def forward(self, z: np.ndarray) -> np.ndarray:
        """``(n, units) -> (n, units)``: the activation of pre-activations ``z``."""

    @abc.abstractmethod
    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        """``(n, units) x3 -> (n, units)``: dL/dz from dL/da.

        ``a`` is ``forward(z)``, handed back so activations whose derivative is cheaper
        in terms of their output (sigmoid, tanh) need not recompute it.
        """

    def forward_into(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``forward(z)``, written into ``out`` where that saves an allocation.

        Returns the result: ``out``, or any array holding exactly ``forward(z)`` (the
        default returns ``forward(z)`` and leaves ``out`` alone; an identity may return
        ``z``). ``out`` has ``z``'s shape, dtype and memory order and may be scratch.
        """
        return self.forward(z)

    def backward_into(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray,
                      out: np.ndarray) -> np.ndarray:
        """``backward(z, a, grad_a)``, written into ``out`` where that saves an allocation."""
        return self.backward(z, a, grad_a)


class Loss(abc.ABC):
    """A training objective comparing targets with predictions."""

    #: ``True`` for losses whose targets are class labels or class probabilities (0/1,
    #: one-hot). npframe then accepts a column of labels as targets (keeping the network's
    #: ``classes``), never standardizes the targets, and ``predict_labels`` works.
    classification: ClassVar[bool] = False

    @abc.abstractmethod
    def value(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        """``(n, k), (n, k) -> float``: the loss, averaged over the samples."""

    @abc.abstractmethod
    def gradient(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """``(n, k), (n, k) -> (n, k)``: d value / d y_pred, consistent with ``value``."""

    def value_and_gradient(
        self, y_true: np.ndarray, y_pred: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Both at once; override when they share work."""
        return self.value(y_true, y_pred), self.gradient(y_true, y_pred)

    def value_and_gradient_into(self, y_true: np.ndarray, y_pred: np.ndarray,
                                out: np.ndarray) -> float:
        """The value; the gradient is written into ``out`` (the training loop's buffer).

        ``out`` has ``y_pred``'s shape and dtype, in the memory order the output layer
        uses; the default copies ``value_and_gradient``'s gradient into it.
        """
        value, grad = self.value_and_gradient(y_true, y_pred)
        np.copyto(out, grad)
        return value

    def sample_losses(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """``(n, k), (n, k) -> (n,)``: each sample's loss; ``value`` is their mean.

        Used for per-sample and per-class weights, where the loss becomes the weighted
        mean ``sum(w * l) / sum(w)``. The default evaluates ``value`` row by row, which
        is right for any loss that averages over the samples, only slow.
        """
        return np.array([self.value(y_true[i:i + 1], y_pred[i:i + 1])
                         for i in range(y_pred.shape[0])], dtype=np.float64)

    def probabilities(self, y_pred: np.ndarray) -> np.ndarray:
        """Class probabilities from the network's outputs (classification losses).

        The identity for outputs that already are probabilities (a sigmoid or softmax
        output layer); a loss that takes logits maps them through its link function.
        """
        return y_pred


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

    def step_flat(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
                  flat_params: np.ndarray, flat_grads: np.ndarray) -> None:
        """``step``, also given the flat buffers that ``params`` and ``grads`` view.

        The training loop keeps every parameter (and gradient) as a view into one flat
        1-D buffer, so an update that is the same for every element can be one call
        over the buffer instead of one per array. ``flat_grads`` may be used as
        scratch: the loop recomputes the gradients before the next step. The buffers
        may hold zero padding between the views; an update must keep padding finite.
        The default calls ``step``.
        """
        self.step(params, grads)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Internal state as named plain numeric arrays (empty when stateless)."""
        return {}

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore what ``state_dict`` returned; unknown keys are an error."""
        check_stateless(self, state)


class Metric(abc.ABC):
    """A number reported during training and by ``evaluate``; never differentiated."""

    #: Whether larger values are better (accuracy, R^2) or worse (MAE).
    greater_is_better: bool = False

    @abc.abstractmethod
    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        """``(n, k), (n, k) -> float``."""


@attrs.frozen
class TrainingPlan:
    """How long the run is meant to be, for schedules that need its length.

    ``epochs`` is the epoch the current ``fit`` ends at, counted from the network's
    first epoch (so a resumed run plans the same way as an uninterrupted one), and
    ``steps_per_epoch`` the optimizer steps per epoch.
    """

    epochs: int
    steps_per_epoch: int

    @property
    def steps(self) -> int:
        """Planned optimizer steps in total."""
        return self.epochs * self.steps_per_epoch


class Schedule(abc.ABC):
    """A learning-rate schedule: a multiplier of the optimizer's base learning rate."""

    #: ``True``: ``at`` is asked before every optimizer step (warmup by steps,
    #: one-cycle); otherwise once per epoch, before its first step.
    per_step: ClassVar[bool] = False

    @abc.abstractmethod
    def __call__(self, epoch: int) -> float:
        """The factor applied to the base learning rate during 0-based ``epoch``."""

    def at(self, epoch: int, step: int, plan: TrainingPlan) -> float:
        """The factor at global 0-based ``epoch`` and optimizer ``step``, knowing the plan.

        Must be a pure function of its arguments, so a resumed run gets the same rates.
        The default is ``self(epoch)``.
        """
        return self(epoch)


#: A buffer's memory order: ``"C"`` samples x features, ``"F"`` features x samples.
Order = Literal["C", "F"]


@attrs.frozen
class LayerContext:
    """What a layer's ``bind`` is told about the steps it will run in.

    ``batch`` samples per step of ``input_size`` features in, ``output_size`` out;
    ``order`` the memory order (``"C"``: samples x
    features, ``"F"``: features x samples) for the buffers of its outputs and
    ``input_order`` the one its input arrives in (and its input gradient should leave
    in), chosen by the training loop for speed; ``input_grad`` whether anything needs
    the gradient with respect to the layer's input (not for the first layer); ``rng``
    the network's seeded noise stream (dropout masks), saved with the model.
    """

    batch: int
    dtype: np.dtype
    input_size: int
    output_size: int
    order: Order = "C"
    input_order: Order = "C"
    input_grad: bool = True
    rng: np.random.Generator | None = None

    def empty(self, width: int, dtype: Any = None) -> np.ndarray:
        """A ``(batch, width)`` buffer in the memory order of this layer's outputs."""
        return np.empty((self.batch, width), dtype or self.dtype, order=self.order)

    def empty_input(self, width: int, dtype: Any = None) -> np.ndarray:
        """A ``(batch, width)`` buffer in the memory order of this layer's input."""
        return np.empty((self.batch, width), dtype or self.dtype, order=self.input_order)


#: ``(forward, backward)``: ``forward(x) -> y`` for training steps, and
#: ``backward(x, y, grad_y) -> grad_x`` (``None`` when ``input_grad`` is false), which
#: writes the parameter gradients of the step whose ``forward`` ran last. ``x`` and
#: ``y`` are that step's input and output; ``backward`` may overwrite ``grad_y``.
BoundLayer = tuple[Callable[[np.ndarray], np.ndarray],
                   Callable[[np.ndarray, np.ndarray, np.ndarray], "np.ndarray | None"]]


class Layer(abc.ABC):
    """One stage of a network: ``x (n, input_size) -> y (n, output_size)``.

    A layer is configuration plus non-trainable state (batch norm's running
    statistics). Its trainable parameters are declared by name and shape
    (``parameter_shapes``) and live in the network's flat buffers, which is how they
    reach the optimizer, ``get_weights`` and the model file; ``forward`` and
    ``backward`` receive them as a mapping of arrays.
    """

    #: Parameters of the layer's spec table that name other components, by kind:
    #: ``{"activation": "activation"}``. npframe builds them from the registry (with
    #: spec paths in every error) and passes the built components to the constructor.
    components: ClassVar[Mapping[str, str]] = {}

    #: Whether training draws from the noise stream (``rng`` of ``forward`` and of the
    #: ``LayerContext``), as dropout does. The training loop records that stream's state
    #: for rollbacks only when some layer says so; a layer that never draws may set it to
    #: ``False`` (the kit checks that it really does not draw).
    draws_noise: ClassVar[bool] = True

    @abc.abstractmethod
    def output_size(self, input_size: int) -> int:
        """The number of output features; pure, called before anything is allocated."""

    def parameter_shapes(self, input_size: int) -> dict[str, tuple[int, ...]]:
        """Trainable parameters by name, in order, with their shapes (none by default)."""
        return {}

    def initialize(self, params: Mapping[str, np.ndarray], rng: np.random.Generator,
                   initializer: Initializer) -> None:
        """Fill the parameters (zeroed views) in place, drawing only from ``rng``.

        ``initializer`` is the network's, which a layer may use or override. The
        default leaves them at zero.
        """
        return

    @abc.abstractmethod
    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], *, training: bool,
                rng: np.random.Generator | None = None) -> tuple[np.ndarray, Any]:
        """``(y, cache)``: the output and whatever ``backward`` needs.

        ``training`` selects training behaviour (dropout on, batch statistics, running
        statistics updated); ``rng`` is the noise stream, given when training.
        """

    @abc.abstractmethod
    def backward(self, grad_y: np.ndarray, cache: Any, params: Mapping[str, np.ndarray],
                 grads: Mapping[str, np.ndarray]) -> np.ndarray:
        """``grad_x``; writes (overwrites) every ``grads[name]`` in place."""

    def state_dict(self) -> dict[str, np.ndarray]:
        """Non-trainable state as named arrays (empty when there is none)."""
        return {}

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore what ``state_dict`` returned."""
        check_stateless(self, state)

    def bind(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray],
             context: LayerContext) -> BoundLayer:
        """The training step's forward and backward for batches of ``context.batch``.

        The training loop calls only this. Override it to run on buffers allocated
        once (``context.empty``) instead of allocating per step; the results must be
        exactly those of ``forward(..., training=True)`` and ``backward``. The default
        calls them.
        """
        cache: list[Any] = [None]

        def forward(x: np.ndarray) -> np.ndarray:
            y, cache[0] = self.forward(x, params, training=True, rng=context.rng)
            return y

        def backward(x: np.ndarray, y: np.ndarray, grad_y: np.ndarray) -> np.ndarray | None:
            grad_x = self.backward(grad_y, cache[0], params, grads)
            return grad_x if context.input_grad else None

        return forward, backward
