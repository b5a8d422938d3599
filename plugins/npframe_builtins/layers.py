"""Built-in layers: ``dense``, ``dropout``, ``batch_norm``, ``layer_norm``.

Shapes are batch first: ``x (n, features) -> y (n, units)``. Each layer writes its
formula once, as functions that take their output buffers: the plain ``forward`` /
``backward`` call them with fresh arrays, and ``bind`` (the training loop's fast path)
with buffers allocated once per batch size, so the two agree bit for bit in the same
memory layout. ``docs/components.md`` has the formulas and their PyTorch counterparts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from attrs import define, field, validators

from npframe import Activation, Initializer, Layer, LayerContext

__all__ = ["BatchNorm", "Dense", "Dropout", "LayerNorm"]


def _positive_int(instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        if isinstance(value, float) and value.is_integer() and value >= 1:
            msg = f"must be an int (got float {value!r}; write {int(value)})"
        else:
            msg = f"must be a positive int (got {value!r})"
        raise ValueError(msg, attribute, value)


def _fraction(instance: Any, attribute: Any, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"must be in [0, 1) (got {value!r})", attribute, value)


def _positive(instance: Any, attribute: Any, value: float) -> None:
    if not (value > 0.0 and math.isfinite(value)):
        raise ValueError(f"must be a finite number > 0 (got {value!r})", attribute, value)


#: What ``_positive`` checks, for ``npframe schema`` (hand-written validators say nothing).
_POSITIVE_SCHEMA = {"json_schema": {"exclusiveMinimum": 0}}


def _real(value: Any) -> float:
    """``float(value)`` for real numbers only: ``"0.2"`` and ``True`` are refused."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"must be a number (got {type(value).__name__} {value!r})")
    return float(value)


# -- dense ------------------------------------------------------------------------------
def _dense_step(W: np.ndarray, b: np.ndarray | None, grad_W: np.ndarray,
                grad_b: np.ndarray | None, activation: Activation, n: int, order: str,
                input_order: str, input_grad: bool) -> tuple[Any, Any]:
    """The dense formula, written once: ``forward(x) -> a`` and ``backward(x, a, grad_a)
    -> grad_x`` over buffers for batches of ``n``, everything looked up once.

    ``z = x @ W + b``, the bias added along ``z``'s contiguous axis (an F-order buffer
    as ``(units, n) + (units, 1)``: a few long rows); ``grad_W = x.T @ g``, ``grad_b =
    ones @ g`` (BLAS does it faster than a sum) and ``grad_x = g @ W.T``,
    with ``g = dL/dz`` from the activation. With an ``in_place`` activation ``z`` holds
    the activation and its backward overwrites ``grad_a``: one buffer instead of three.
    """
    units, dtype = W.shape[1], W.dtype
    z = np.empty((n, units), dtype, order=order)
    in_place = activation.in_place
    a_out = z if in_place else np.empty((n, units), dtype, order=order)
    grad_z = None if in_place else np.empty((n, units), dtype, order=order)
    grad_x = np.empty((n, W.shape[0]), dtype, order=input_order) if input_grad else None
    ones = np.ones(n, dtype)
    WT = W.T
    forward_into, backward_into = activation.forward_into, activation.backward_into
    z_rows, b_rows = (z, b) if order == "C" or b is None else (z.T, b[:, None])
    matmul, add = np.matmul, np.add

    def forward(x: np.ndarray) -> np.ndarray:
        matmul(x, W, out=z)
        if b_rows is not None:
            add(z_rows, b_rows, out=z_rows)
        return forward_into(z, a_out)

    def backward(x: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray | None:
        g = backward_into(z, a, grad_a, grad_a if grad_z is None else grad_z)
        matmul(x.T, g, out=grad_W)
        if grad_b is not None:
            matmul(ones, g, out=grad_b)
        if grad_x is not None:
            matmul(g, WT, out=grad_x)
        return grad_x

    return forward, backward


@define(eq=False)
class Dense(Layer):
    """``y = activation(x @ W + b)`` with ``W (fan_in, units)`` and ``b (units,)``.

    ``initializer`` overrides the network's for ``W``; biases start at zero.
    """

    units: int = field(validator=_positive_int, metadata={"json_schema": {"minimum": 1}})
    activation: Activation = field(validator=validators.instance_of(Activation))
    initializer: Initializer | None = field(
        default=None, validator=validators.optional(validators.instance_of(Initializer)))
    use_bias: bool = field(default=True, validator=validators.instance_of(bool))

    components: ClassVar[Mapping[str, str]] = {"activation": "activation",
                                               "initializer": "initializer"}
    draws_noise: ClassVar[bool] = False

    def output_size(self, input_size: int) -> int:
        return self.units

    def parameter_shapes(self, input_size: int) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {"W": (input_size, self.units)}
        if self.use_bias:
            shapes["b"] = (self.units,)
        return shapes

    def initialize(self, params: Mapping[str, np.ndarray], rng: np.random.Generator,
                   initializer: Initializer) -> None:
        W = params["W"]
        drawn = np.asarray((self.initializer or initializer)(W.shape, rng))
        if drawn.shape != W.shape:
            msg = f"the initializer returned shape {drawn.shape}, expected {W.shape}"
            raise ValueError(msg)
        W[...] = drawn

    def forward(self, x, params, *, training, rng=None):
        """The bound step on fresh buffers; the cache is its backward and gradients."""
        W, b = params["W"], params.get("b")
        grad_W = np.empty_like(W)
        grad_b = None if b is None else np.empty_like(b)
        forward, backward = _dense_step(W, b, grad_W, grad_b, self.activation, x.shape[0],
                                        "C", "C", True)
        a = forward(x)
        return a, (x, a, backward, grad_W, grad_b)

    def backward(self, grad_y, cache, params, grads):
        x, a, backward, grad_W, grad_b = cache
        grad_x = backward(x, a, grad_y.copy())
        grads["W"][...] = grad_W
        if grad_b is not None:
            grads["b"][...] = grad_b
        return grad_x

    def bind(self, params, grads, context: LayerContext):
        return _dense_step(params["W"], params.get("b"), grads["W"], grads.get("b"),
                           self.activation, context.batch, context.order,
                           context.input_order, context.input_grad)


# -- dropout ----------------------------------------------------------------------------
def _dropout_forward(x: np.ndarray, rng: np.random.Generator, rate: float,
                     uniform: np.ndarray, mask: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Draw the keep-mask ``uniform >= rate`` (one uniform per element, C order, in the
    network's dtype) and write ``x * mask / (1 - rate)`` into ``y``."""
    rng.random(dtype=uniform.dtype, out=uniform)
    np.greater_equal(uniform, rate, out=mask)
    return _masked(x, mask, 1.0 / (1.0 - rate), y)


def _masked(x: np.ndarray, mask: np.ndarray, scale: float, out: np.ndarray) -> np.ndarray:
    """``x * mask * scale`` into ``out`` (two passes, no temporary)."""
    np.multiply(x, mask, out=out)
    out *= scale
    return out


@define(eq=False)
class Dropout(Layer):
    """Inverted dropout: in training ``y = x * mask / (1 - rate)``; in inference ``y = x``.

    ``rate`` is the probability of dropping an element (PyTorch's ``p``). Masks come
    from the network's seeded noise stream, so runs are reproducible and resume exactly.
    """

    rate: float = field(converter=_real, validator=_fraction,
                        metadata={"json_schema": {"minimum": 0, "exclusiveMaximum": 1}})

    def output_size(self, input_size: int) -> int:
        return input_size

    def forward(self, x, params, *, training, rng=None):
        if not training or self.rate == 0.0:
            return x, None
        if rng is None:
            raise ValueError("dropout needs the network's noise generator when training")
        mask = np.empty(x.shape, bool)
        y = _dropout_forward(x, rng, self.rate, np.empty(x.shape, x.dtype), mask,
                             np.empty_like(x))
        return y, mask

    def backward(self, grad_y, cache, params, grads):
        if cache is None:
            return grad_y.copy()
        return _masked(grad_y, cache, 1.0 / (1.0 - self.rate), np.empty_like(grad_y))

    def bind(self, params, grads, context: LayerContext):
        if self.rate == 0.0:
            return super().bind(params, grads, context)
        rng, rate, scale = context.rng, self.rate, 1.0 / (1.0 - self.rate)
        if rng is None:
            raise ValueError("dropout needs the network's noise generator when training")
        width = context.input_size
        uniform = np.empty((context.batch, width), context.dtype)
        mask = context.empty(width, bool)
        y = context.empty(width)
        grad_x = context.empty_input(width) if context.input_grad else None

        def forward(x: np.ndarray) -> np.ndarray:
            return _dropout_forward(x, rng, rate, uniform, mask, y)

        def backward(x: np.ndarray, out: np.ndarray, grad_y: np.ndarray) -> np.ndarray | None:
            return None if grad_x is None else _masked(grad_y, mask, scale, grad_x)

        return forward, backward


# -- normalization ----------------------------------------------------------------------
class _NormBuffers:
    """What one normalization step writes, along ``axis`` (0: batch norm, 1: layer norm).

    ``x_hat`` and ``inv_std`` are also what backward needs, so a ``_NormBuffers`` is the
    cache of a plain forward.
    """

    def __init__(self, n: int, width: int, axis: int, dtype: Any, order: str = "C",
                 input_order: str = "C") -> None:
        stats = width if axis == 0 else n
        self.axis = axis
        self.x_hat = np.empty((n, width), dtype, order=order)
        self.y = np.empty((n, width), dtype, order=order)
        self.tmp = np.empty((n, width), dtype, order=order)
        self.grad_x = np.empty((n, width), dtype, order=input_order)
        self.mean = np.empty(stats, dtype)
        self.var = np.empty(stats, dtype)
        self.inv_std = np.empty(stats, dtype)
        self.sum_g = np.empty(stats, dtype)
        self.sum_gx = np.empty(stats, dtype)
        self.scaled = np.empty(width, dtype)

    def stat(self, v: np.ndarray) -> np.ndarray:
        """A statistic shaped to broadcast against ``(n, width)``."""
        return v if self.axis == 0 else v[:, None]


def _norm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float,
                  buf: _NormBuffers) -> np.ndarray:
    """``y = gamma * (x - mean) / sqrt(var + eps) + beta``, statistics along ``buf.axis``.

    Two passes (mean, then the mean of squared deviations): the biased variance,
    accurate when the mean is large. Leaves ``mean`` and ``var`` in ``buf``.
    """
    axis, n = buf.axis, x.shape[buf.axis]
    np.add.reduce(x, axis=axis, out=buf.mean)
    buf.mean *= 1.0 / n
    np.subtract(x, buf.stat(buf.mean), out=buf.x_hat)
    np.multiply(buf.x_hat, buf.x_hat, out=buf.tmp)
    np.add.reduce(buf.tmp, axis=axis, out=buf.var)
    buf.var *= 1.0 / n
    np.add(buf.var, eps, out=buf.inv_std)
    np.sqrt(buf.inv_std, out=buf.inv_std)
    np.divide(1.0, buf.inv_std, out=buf.inv_std)
    np.multiply(buf.x_hat, buf.stat(buf.inv_std), out=buf.x_hat)
    np.multiply(buf.x_hat, gamma, out=buf.y)
    np.add(buf.y, beta, out=buf.y)
    return buf.y


def _norm_backward(grad_y: np.ndarray, gamma: np.ndarray, buf: _NormBuffers,
                   grad_gamma: np.ndarray, grad_beta: np.ndarray,
                   grad_x: np.ndarray | None) -> np.ndarray | None:
    """Gradients of ``_norm_forward`` (in training mode) into the given buffers.

    With ``g = grad_y * gamma`` and sums along the normalized axis of length ``n``:
    ``grad_x = (n g - sum(g) - x_hat sum(g x_hat)) * inv_std / n``.
    """
    np.multiply(grad_y, buf.x_hat, out=buf.tmp)
    np.add.reduce(buf.tmp, axis=0, out=grad_gamma)
    np.add.reduce(grad_y, axis=0, out=grad_beta)
    if grad_x is None:
        return None
    axis, n = buf.axis, grad_y.shape[buf.axis]
    if axis == 0:  # the sums of g and g * x_hat over the batch are gamma times the above
        np.multiply(gamma, grad_beta, out=buf.sum_g)
        np.multiply(gamma, grad_gamma, out=buf.sum_gx)
    else:
        np.multiply(grad_y, gamma, out=buf.tmp)
        np.add.reduce(buf.tmp, axis=1, out=buf.sum_g)
        np.multiply(buf.tmp, buf.x_hat, out=buf.tmp)
        np.add.reduce(buf.tmp, axis=1, out=buf.sum_gx)
    np.multiply(gamma, float(n), out=buf.scaled)
    np.multiply(grad_y, buf.scaled, out=grad_x)
    np.multiply(buf.x_hat, buf.stat(buf.sum_gx), out=buf.tmp)
    grad_x -= buf.tmp
    grad_x -= buf.stat(buf.sum_g)
    np.multiply(buf.inv_std, 1.0 / n, out=buf.sum_g)
    grad_x *= buf.stat(buf.sum_g)
    return grad_x


def _affine_shapes(input_size: int) -> dict[str, tuple[int, ...]]:
    return {"gamma": (input_size,), "beta": (input_size,)}


def _ones_gamma(params: Mapping[str, np.ndarray]) -> None:
    params["gamma"][...] = 1.0  # beta starts at zero, as in PyTorch


@define(eq=False)
class BatchNorm(Layer):
    """``torch.nn.BatchNorm1d``: each feature normalized over the batch, then scaled.

    Training uses the batch's statistics and updates the running ones
    (``running = (1 - momentum) running + momentum batch``, the variance unbiased);
    inference uses the running statistics, which are saved with the model.
    """

    momentum: float = field(default=0.1, converter=_real,
                            validator=[validators.ge(0.0), validators.le(1.0)])
    eps: float = field(default=1e-5, converter=_real, validator=_positive,
                       metadata=_POSITIVE_SCHEMA)
    running_mean: np.ndarray | None = field(default=None, init=False, repr=False)
    running_var: np.ndarray | None = field(default=None, init=False, repr=False)

    draws_noise: ClassVar[bool] = False

    def output_size(self, input_size: int) -> int:
        return input_size

    def parameter_shapes(self, input_size: int) -> dict[str, tuple[int, ...]]:
        return _affine_shapes(input_size)

    def initialize(self, params, rng, initializer):
        _ones_gamma(params)
        features, dtype = params["gamma"].shape[0], params["gamma"].dtype
        self.running_mean = np.zeros(features, dtype)
        self.running_var = np.ones(features, dtype)

    def _check_batch(self, n: int) -> None:
        if n < 2:
            msg = (
                f"batch_norm cannot train on a batch of {n} sample: its batch variance is "
                "undefined (PyTorch: 'Expected more than 1 value per channel when "
                "training'); choose a batch_size that leaves no batch of one sample"
            )
            raise ValueError(msg)

    def _update_running(self, buf: _NormBuffers, n: int) -> None:
        m = self.momentum
        rm, rv = self.running_mean, self.running_var
        assert rm is not None and rv is not None, "initialize() runs first"
        rm *= 1.0 - m
        rm += buf.mean * m
        rv *= 1.0 - m
        rv += buf.var * (m * n / (n - 1))

    def forward(self, x, params, *, training, rng=None):
        gamma, beta = params["gamma"], params["beta"]
        if not training:
            assert self.running_mean is not None and self.running_var is not None
            inv_std = 1.0 / np.sqrt(self.running_var + self.eps)
            return (x - self.running_mean) * (inv_std * gamma) + beta, None
        n = x.shape[0]
        self._check_batch(n)
        buf = _NormBuffers(n, x.shape[1], 0, x.dtype)
        y = _norm_forward(x, gamma, beta, self.eps, buf)
        self._update_running(buf, n)
        return y.copy(), buf

    def backward(self, grad_y, cache, params, grads):
        buf = cache
        grad_x = np.empty_like(buf.grad_x)
        return _norm_backward(grad_y, params["gamma"], buf, grads["gamma"], grads["beta"],
                              grad_x)

    def bind(self, params, grads, context: LayerContext):
        gamma, beta = params["gamma"], params["beta"]
        n = context.batch
        self._check_batch(n)
        buf = _NormBuffers(n, context.input_size, 0, context.dtype, context.order,
                           context.input_order)
        grad_x = buf.grad_x if context.input_grad else None

        def forward(x: np.ndarray) -> np.ndarray:
            y = _norm_forward(x, gamma, beta, self.eps, buf)
            self._update_running(buf, n)
            return y

        def backward(x: np.ndarray, y: np.ndarray, grad_y: np.ndarray) -> np.ndarray | None:
            return _norm_backward(grad_y, gamma, buf, grads["gamma"], grads["beta"], grad_x)

        return forward, backward

    def state_dict(self):
        assert self.running_mean is not None and self.running_var is not None
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def load_state_dict(self, state):
        expected = {"running_mean", "running_var"}
        if set(state) != expected:
            msg = f"batch_norm state needs {sorted(expected)} (got {sorted(state)})"
            raise ValueError(msg)
        assert self.running_mean is not None and self.running_var is not None
        for key, target in (("running_mean", self.running_mean),
                            ("running_var", self.running_var)):
            value = np.asarray(state[key])
            if value.shape != target.shape:
                msg = f"batch_norm {key} must have shape {target.shape} (got {value.shape})"
                raise ValueError(msg)
            if not np.isfinite(value).all() or (key == "running_var" and (value < 0).any()):
                msg = f"batch_norm {key} must be finite{' and >= 0' if 'var' in key else ''}"
                raise ValueError(msg)
            target[...] = value  # in place: bound steps keep their references


@define(eq=False)
class LayerNorm(Layer):
    """``torch.nn.LayerNorm(features)``: each sample normalized over its features.

    The same computation in training and inference; a batch of one sample works.
    """

    eps: float = field(default=1e-5, converter=_real, validator=_positive,
                       metadata=_POSITIVE_SCHEMA)

    draws_noise: ClassVar[bool] = False

    def output_size(self, input_size: int) -> int:
        return input_size

    def parameter_shapes(self, input_size: int) -> dict[str, tuple[int, ...]]:
        return _affine_shapes(input_size)

    def initialize(self, params, rng, initializer):
        _ones_gamma(params)

    def forward(self, x, params, *, training, rng=None):
        buf = _NormBuffers(x.shape[0], x.shape[1], 1, x.dtype)
        return _norm_forward(x, params["gamma"], params["beta"], self.eps, buf).copy(), buf

    def backward(self, grad_y, cache, params, grads):
        return _norm_backward(grad_y, params["gamma"], cache, grads["gamma"], grads["beta"],
                              np.empty_like(cache.grad_x))

    def bind(self, params, grads, context: LayerContext):
        gamma, beta = params["gamma"], params["beta"]
        buf = _NormBuffers(context.batch, context.input_size, 1, context.dtype, context.order,
                           context.input_order)
        grad_x = buf.grad_x if context.input_grad else None

        def forward(x: np.ndarray) -> np.ndarray:
            return _norm_forward(x, gamma, beta, self.eps, buf)

        def backward(x: np.ndarray, y: np.ndarray, grad_y: np.ndarray) -> np.ndarray | None:
            return _norm_backward(grad_y, gamma, buf, grads["gamma"], grads["beta"], grad_x)

        return forward, backward


REGISTRY = [
    ("layer", "dense", Dense),
    ("layer", "dropout", Dropout),
    ("layer", "batch_norm", BatchNorm),
    ("layer", "layer_norm", LayerNorm),
]
