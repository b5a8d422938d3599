"""``check_layer``: shapes, gradients, state, and ``bind`` agreeing with forward/backward.

The training loop runs a layer only through ``bind``; ``predict`` and ``evaluate`` run
``forward``. The kit runs both on the same batches, two steps in a row (so a bound
step that keeps stale buffers shows), and expects the same outputs, gradients and
state: bit for bit in samples x features (C) order, to rounding in features x samples
(F) order, where BLAS may sum in another order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from npframe.interfaces import Initializer, Layer, LayerContext, Order
from npframe.testing._arrays import check_array, check_finite, differences, frozen
from npframe.testing._gradient import ATOL, EPS, RTOL, compare_gradient, numeric_gradient
from npframe.testing._guard import call, no_global_randomness
from npframe.testing._inputs import LARGE, SEED
from npframe.testing._messages import number
from npframe.testing._parameters import check_instance, label

__all__ = ["check_layer"]

__tracebackhide__ = True  # the kit's frames stay out of pytest's failure reports

Params = dict[str, np.ndarray]
_LAYOUTS = {"C": "samples x features", "F": "features x samples"}


class _ScaledNormal(Initializer):
    """``N(0, 1/fan_in)``: the network initializer ``check_layer`` hands a layer."""

    def __call__(self, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal(shape) * math.sqrt(1.0 / shape[0])


def check_layer(layer: Layer, *, input_size: int = 5, batch: int = 6, seed: int = SEED,
                rtol: float = RTOL, atol: float = ATOL) -> None:
    """Check a layer instance; ``None`` if it conforms, else ``AssertionError``.

    Checks: ``output_size`` and ``parameter_shapes`` are consistent; ``initialize``
    draws only from its generator (two equal seeds, equal parameters); ``forward`` in
    training and in inference keeps shape and dtype (float32 and float64) and stays
    finite, also for inputs of zeros and of magnitude 1e3, never writes into its input,
    its parameters or (in ``backward``) the incoming gradient, all passed read-only,
    and inference is deterministic; the input gradient and every parameter gradient of
    ``backward`` match central finite differences in float64 (training mode, with the
    same noise each time); ``bind`` (the training loop's path) gives exactly the
    outputs, gradients and state of ``forward`` and ``backward`` over two consecutive
    steps, bit for bit in samples x features layout and to rounding in features x
    samples, and the same parameter gradients when no input gradient is wanted; the
    state dict holds plain arrays and survives ``load_state_dict``; a layer that sets
    ``draws_noise = False`` does not draw from its ``rng`` in training.
    """
    check_instance(layer, Layer, "a layer")
    name = label(layer)
    n_out = call(f"{name}.output_size", layer.output_size, input_size)
    if isinstance(n_out, bool) or not isinstance(n_out, int) or n_out < 1:
        raise AssertionError(f"{name}.output_size({input_size}) returned {n_out!r}; want int >= 1")
    rng = np.random.default_rng(seed)
    with no_global_randomness(name):
        first = _initialized(layer, name, input_size, np.float64, seed)
        again = _initialized(layer, name, input_size, np.float64, seed)
        for key in first:
            if first[key].tobytes() != again[key].tobytes():
                msg = (f"{name}.initialize is not deterministic for parameter {key!r}: draw "
                       "only from the rng argument")
                raise AssertionError(msg)
        for dtype in (np.dtype(np.float64), np.dtype(np.float32)):
            params = _initialized(layer, name, input_size, dtype, seed)
            inputs = [(rng.normal(size=(batch, input_size)), f"{dtype} x of shape "
                       f"{(batch, input_size)}"),
                      (np.zeros((batch, input_size)), f"{dtype} x of zeros"),
                      (np.linspace(-LARGE, LARGE, batch * input_size).reshape(batch, input_size),
                       f"{dtype} x with |x| up to {LARGE:g}")]
            for x, what in inputs:
                _plain(layer, name, x.astype(dtype), params, n_out, seed, what)
        params = _initialized(layer, name, input_size, np.float64, seed)
        if not layer.draws_noise:
            _draws_nothing(layer, name, params, rng.normal(size=(batch, input_size)), seed)
        _gradients(layer, name, params, rng.normal(size=(batch, input_size)),
                   rng.normal(size=(batch, n_out)), seed, rtol, atol)
        batches = [(rng.normal(size=(batch, input_size)), rng.normal(size=(batch, n_out)))
                   for _ in range(2)]
        for order in ("C", "F"):
            _bind(layer, name, params, batches, order, seed, input_grad=True)
        _bind(layer, name, params, batches, "C", seed, input_grad=False)
        state = _state(layer, name)
        call(f"{name}.load_state_dict", layer.load_state_dict, _copies(state))
        after = _state(layer, name)
        if state.keys() != after.keys() or any(differences(after[k], state[k], "", "")
                                               for k in state):
            raise AssertionError(f"{name}: load_state_dict(state_dict()) changed the state")


def _draws_nothing(layer: Layer, name: str, params: Params, x: np.ndarray, seed: int) -> None:
    """``draws_noise = False`` is a promise the training loop relies on (it stops
    recording the noise stream for rollbacks): training must leave the stream alone."""
    noise = np.random.default_rng(seed)
    before = noise.bit_generator.state
    call(f"{name}.forward", layer.forward, frozen(x), params, training=True, rng=noise)
    if noise.bit_generator.state != before:
        msg = (f"{name} sets draws_noise = False, but forward(training=True) drew from its rng; "
               "remove draws_noise = False (the default, True, is always safe)")
        raise AssertionError(msg)


def _copies(state: Mapping[str, np.ndarray]) -> Params:
    return {k: v.copy() for k, v in state.items()}


def _state(layer: Layer, name: str) -> Params:
    state = call(f"{name}.state_dict", layer.state_dict)
    if not isinstance(state, Mapping):
        raise AssertionError(f"{name}.state_dict() returned {type(state).__name__}, not a dict")
    out = {}
    for key, value in state.items():
        array = np.asarray(value)
        if not isinstance(key, str) or array.dtype.kind not in "biuf":
            msg = (f"{name}.state_dict() must map names to plain numeric arrays (got "
                   f"{key!r}: {array.dtype})")
            raise AssertionError(msg)
        out[key] = array.copy()
    return out


def _initialized(layer: Layer, name: str, n_in: int, dtype: Any, seed: int) -> Params:
    shapes = call(f"{name}.parameter_shapes", layer.parameter_shapes, n_in)
    params = {}
    for key, shape in dict(shapes).items():
        if not isinstance(key, str) or not all(isinstance(d, int) and d > 0 for d in shape):
            msg = f"{name}.parameter_shapes({n_in}) gave {key!r}: {shape!r}; want positive ints"
            raise AssertionError(msg)
        params[key] = np.zeros(tuple(shape), dtype)
    call(f"{name}.initialize", layer.initialize, params, np.random.default_rng(seed),
         _ScaledNormal())
    for key, value in params.items():
        check_finite(f"{name}.initialize: parameter {key!r}", value)
    return params


def _plain(layer: Layer, name: str, x: np.ndarray, params: Params, n_out: int, seed: int,
           what: str) -> None:
    """``forward`` (both modes) and ``backward`` on read-only inputs; the state put back."""
    state = _state(layer, name)
    x = frozen(x)
    fixed = {k: frozen(v) for k, v in params.items()}
    for training in (True, False):
        where = f"{name}.forward(training={training}) on {what}"
        result = call(where, layer.forward, x, fixed, training=training,
                      rng=np.random.default_rng(seed))
        if not isinstance(result, tuple) or len(result) != 2:
            raise AssertionError(f"{where} must return (y, cache), got {type(result).__name__}")
        y, cache = result
        check_array(where, y, (x.shape[0], n_out), x.dtype)
        if training:
            grads = {k: np.zeros_like(v) for k, v in params.items()}
            where = f"{name}.backward on {what}"
            grad_x = call(where, layer.backward, frozen(np.ones_like(y)), cache, fixed, grads)
            check_array(where, grad_x, x.shape, x.dtype)
            for key, g in grads.items():
                check_array(f"{where}: gradient of {key!r}", g, params[key].shape, x.dtype)
    where = f"{name}.forward(training=False) on {what}"
    inference = [call(where, layer.forward, x, fixed, training=False)[0].copy()
                 for _ in range(2)]
    if differences(inference[0], inference[1], "", ""):
        raise AssertionError(f"{name}: inference (training=False) is not deterministic")
    layer.load_state_dict(_copies(state))


def _gradients(layer: Layer, name: str, params: Params, x: np.ndarray, grad_y: np.ndarray,
               seed: int, rtol: float, atol: float) -> None:
    state = _state(layer, name)

    def output(x_: np.ndarray, params_: Params) -> np.ndarray:
        y, _ = layer.forward(x_, params_, training=True, rng=np.random.default_rng(seed))
        layer.load_state_dict(_copies(state))
        return y

    _, cache = layer.forward(frozen(x), params, training=True, rng=np.random.default_rng(seed))
    layer.load_state_dict(_copies(state))
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    grad_x = layer.backward(frozen(grad_y), cache, params, grads)

    def objective_x(x_: np.ndarray) -> float:
        return float(np.vdot(grad_y, output(x_, params)))

    f0, numeric, kink = call(f"{name}.forward", numeric_gradient, objective_x, x, EPS)
    compare_gradient(f"{name}: backward's input gradient", grad_x, numeric, kink, f0,
                     rtol, atol, lambda i: f" (x={number(x[i])})")
    for key in params:
        def objective_p(p_: np.ndarray, key: str = key) -> float:
            return float(np.vdot(grad_y, output(x, {**params, key: p_})))

        f0, numeric, kink = call(f"{name}.forward", numeric_gradient, objective_p,
                                 params[key], EPS)
        compare_gradient(f"{name}: backward's gradient of {key!r}", grads[key], numeric,
                         kink, f0, rtol, atol)


def _plain_steps(layer: Layer, params: Params, batches: list[tuple[np.ndarray, np.ndarray]],
                 seed: int) -> list[dict[str, np.ndarray]]:
    """What ``forward`` then ``backward`` produce for each batch in turn."""
    rng = np.random.default_rng(seed)
    steps = []
    for x, grad_y in batches:
        y, cache = layer.forward(frozen(x), params, training=True, rng=rng)
        grads = {k: np.zeros_like(v) for k, v in params.items()}
        grad_x = layer.backward(frozen(grad_y), cache, params, grads)
        record = {"output": np.array(y), "input gradient": np.array(grad_x)}
        record.update({f"gradient of {k!r}": g.copy() for k, g in grads.items()})
        record.update({f"state {k!r}": v for k, v in _copies(layer.state_dict()).items()})
        steps.append(record)
    return steps


def _bind(layer: Layer, name: str, params: Params, batches: list[tuple[np.ndarray, np.ndarray]],
          order: Order, seed: int, *, input_grad: bool) -> None:
    state = _state(layer, name)
    want = _plain_steps(layer, params, batches, seed)
    layer.load_state_dict(_copies(state))
    n, n_in = batches[0][0].shape
    n_out = batches[0][1].shape[1]
    context = LayerContext(batch=n, dtype=np.dtype(np.float64), input_size=n_in,
                           output_size=n_out, order=order, input_order=order,
                           input_grad=input_grad, rng=np.random.default_rng(seed))
    where = f"{name}.bind ({_LAYOUTS[order]}{'' if input_grad else ', input_grad=False'})"
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    bound = call(where, layer.bind, params, grads, context)
    if not isinstance(bound, tuple) or len(bound) != 2 or not all(map(callable, bound)):
        raise AssertionError(f"{where} must return (forward, backward), got {bound!r}")
    forward, backward = bound
    exact = order == "C"
    try:
        for k, ((x, grad_y), plain) in enumerate(zip(batches, want, strict=True), start=1):
            xo = frozen(x, order)
            y = call(f"{where}: forward, step {k}", forward, xo)
            grad_x = call(f"{where}: backward, step {k}", backward, xo, y,
                          np.array(grad_y, order=order))
            got = {"output": y, "input gradient": grad_x}
            got.update({f"gradient of {key!r}": g for key, g in grads.items()})
            got.update({f"state {key!r}": v for key, v in layer.state_dict().items()})
            for what, expected in plain.items():
                if what == "input gradient" and not input_grad:
                    continue
                _agree(where, k, what, got.get(what), expected, exact)
    finally:
        layer.load_state_dict(_copies(state))


def _agree(where: str, step: int, what: str, got: Any, want: np.ndarray, exact: bool) -> None:
    if exact:
        diff = differences(np.asarray(got) if got is not None else got, want, "bind",
                           "forward/backward")
    elif not isinstance(got, np.ndarray) or got.shape != want.shape:
        diff = differences(got, want, "bind", "forward/backward")
    else:
        close = np.allclose(got, want, rtol=1e-12, atol=1e-14)
        diff = "" if close else differences(got, want, "bind", "forward/backward")
    if diff:
        msg = (
            f"{where}, step {step}: the {what} differs from forward/backward's "
            f"({'bit for bit' if exact else 'to rounding'}): {diff}. The training loop runs "
            "bind, evaluate and predict run forward: they must agree"
        )
        raise AssertionError(msg)
