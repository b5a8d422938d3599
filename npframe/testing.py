"""Conformance checks for npframe components, shipped to plugin authors.

``check_activation``, ``check_loss``, ``check_initializer``, ``check_optimizer``,
``check_metric``, ``check_schedule`` and ``check_dataset`` each return ``None`` or raise
``AssertionError`` saying what is wrong, where, and by how much. ``check_component``
picks the right one from an object's base class; ``check_registered`` builds a
registered component by name (as a spec would) and checks it, parameters included.

npframe runs exactly these checks over its own built-ins, so a plugin that passes
them behaves like a built-in: its gradients match finite differences, float32 stays
float32, inputs are never mutated, nothing warns or overflows at ``|z| = 1e3``, its
parameters survive a spec round trip, and it never touches NumPy's global random
state.

This module is also npframe's pytest plugin (entry point ``npframe`` in the
``pytest11`` group), so every test session in an environment with npframe has the
fixtures ``npframe_registry`` and ``npframe_rng`` without importing anything. Pytest
imports it for every session, so importing it loads no plugins: only calling
``components_of`` or a fixture does.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import math
import random
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from npframe.dataset import Dataset
from npframe.interfaces import (
    Activation,
    Initializer,
    Layer,
    LayerContext,
    Loss,
    Metric,
    Optimizer,
    Schedule,
)

try:  # the checks work without pytest; only the fixtures need it
    import pytest
except ImportError:  # pragma: no cover - pytest is in the test extra
    pytest = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from npframe.registry import Registry

__all__ = [
    "DOMAINS",
    "check_activation",
    "check_component",
    "check_dataset",
    "check_initializer",
    "check_layer",
    "check_loss",
    "check_metric",
    "check_optimizer",
    "check_registered",
    "check_schedule",
    "components_of",
    "npframe_registry",
    "npframe_rng",
]

#: Step of the central finite differences (float64).
EPS = 1e-6
#: Default tolerances of the gradient check: ``|analytic - numeric| <= atol * max(1,
#: |f|) + rtol * |numeric|``. Float64 round-off of the differences is about 1e-10.
RTOL = 1e-5
ATOL = 1e-7
#: The magnitude at which nothing may warn, overflow or turn non-finite.
LARGE = 1e3
#: Data a loss or metric is checked on: real numbers, or probabilities (targets
#: one-hot or 0/1, predictions in (0, 1), rows summing to 1 with several columns).
#: A component that only accepts probabilities says so with a ``prediction_domain``
#: attribute (or property) set to ``"probability"``.
DOMAINS = ("real", "probability")
_SEED = 20240607


# -- small helpers ----------------------------------------------------------------------
def _params_of(obj: Any) -> dict[str, Any]:
    """The keyword parameters that rebuild ``obj``: attrs init fields, else the signature."""
    cls = type(obj)
    if attrs.has(cls):
        return {f.alias: getattr(obj, f.name) for f in attrs.fields(cls) if f.init}
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return {}
    params = {}
    for p in signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        for attr in (p.name, f"_{p.name}"):
            if hasattr(obj, attr):
                params[p.name] = getattr(obj, attr)
                break
        else:
            msg = (
                f"{cls.__name__}: parameter {p.name!r} of __init__ is not kept as an "
                f"attribute (self.{p.name} or self._{p.name}), so the component cannot be "
                "rebuilt from its parameters; store every parameter under its own name "
                "(or write the class with attrs)"
            )
            raise AssertionError(msg)
    return params


def _name(obj: Any) -> str:
    """``Snake(alpha=2.0)``: the class and its parameters, for messages."""
    try:
        params = _params_of(obj)
    except AssertionError:
        return type(obj).__name__
    return f"{type(obj).__name__}({', '.join(f'{k}={v!r}' for k, v in params.items())})"


def _plain(value: Any, where: str) -> Any:
    """``value`` as JSON/TOML data (tuples become lists), or AssertionError saying why not."""
    if isinstance(value, np.generic):
        msg = (
            f"{where} is {type(value).__module__}.{type(value).__name__} {value!r}; a spec "
            "holds plain Python numbers: convert it (attrs: field(converter=float))"
        )
        raise AssertionError(msg)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise AssertionError(f"{where} is {value!r}; a spec only holds finite numbers")
        return value
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {k: _plain(v, f"{where}.{k}") for k, v in value.items()}
    msg = (
        f"{where} is a {type(value).__name__}; a spec only holds plain data (numbers, "
        "strings, booleans, lists, tables), so this parameter cannot come from one"
    )
    raise AssertionError(msg)


def _rebuild(obj: Any) -> Any:
    """A second instance built from ``obj``'s parameters after a JSON round trip."""
    label = _name(obj)
    params = _params_of(obj)
    data = {k: _plain(v, f"{label}: parameter {k!r}") for k, v in params.items()}
    data = json.loads(json.dumps(data))
    try:
        twin = type(obj)(**data)
    except Exception as exc:
        msg = (
            f"{label}: rebuilding it from its parameters {data!r} (as a spec would) raised "
            f"{type(exc).__name__}: {exc}"
        )
        raise AssertionError(msg) from exc
    again = {k: _plain(v, "parameter") for k, v in _params_of(twin).items()}
    if again != data:
        msg = (
            f"{label}: parameters do not survive a spec round trip: built from {data!r}, "
            f"the new instance reports {again!r}; a converter must give back what it stores"
        )
        raise AssertionError(msg)
    return twin


@contextlib.contextmanager
def _no_global_randomness(label: str) -> Iterator[None]:
    """Fail if NumPy's (or Python's) global random state changes inside the block."""
    np_before = np.random.get_state()  # noqa: NPY002 - checking it is untouched is the point
    py_before = random.getstate()
    yield
    np_after = np.random.get_state()  # noqa: NPY002
    same = (np_before[0] == np_after[0] and np.array_equal(np_before[1], np_after[1])
            and tuple(np_before[2:]) == tuple(np_after[2:]))
    if not same:
        msg = (
            f"{label} changed NumPy's global random state (np.random.rand, np.random.seed, "
            "...); draw only from the np.random.Generator npframe passes in, so runs are "
            "reproducible from the spec's seed"
        )
        raise AssertionError(msg)
    if random.getstate() != py_before:
        msg = (
            f"{label} changed the state of Python's global random module; draw only from "
            "the np.random.Generator npframe passes in"
        )
        raise AssertionError(msg)


def _call(label: str, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``; a warning, floating-point overflow, exception or use of the global
    random state becomes an AssertionError that names the call."""
    with _no_global_randomness(label), warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
            try:
                return fn(*args)
            except AssertionError:
                raise
            except Warning as w:
                msg = f"{label} warned: {type(w).__name__}: {w}"
                raise AssertionError(msg) from None
            except Exception as exc:
                msg = f"{label} raised {type(exc).__name__}: {exc}"
                raise AssertionError(msg) from exc


def _fmt(x: Any) -> str:
    return f"{float(x):.6g}"


def _index(idx: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(int(i)) for i in idx) + ")"


def _array(label: str, value: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Check an output is an ndarray of ``shape`` and ``dtype`` with finite values."""
    if not isinstance(value, np.ndarray):
        raise AssertionError(f"{label} returned a {type(value).__name__}, not a numpy array")
    if value.shape != shape:
        raise AssertionError(f"{label} returned shape {value.shape}, expected {shape}")
    if value.dtype != dtype:
        hint = (
            " (a NumPy float64 scalar or a float64 array mixed in upcasts; scale by Python "
            "floats, e.g. math.sqrt rather than np.sqrt of a scalar)"
            if dtype == np.float32 else ""
        )
        msg = f"{label} returned {value.dtype} for {dtype} input{hint}"
        raise AssertionError(msg)
    _finite(label, value)
    return value


def _finite(label: str, value: np.ndarray, inputs: np.ndarray | None = None) -> None:
    bad = ~np.isfinite(value)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        at = f" where the input is {_fmt(inputs[idx])}" if inputs is not None else ""
        msg = (
            f"{label} returned {int(bad.sum())} non-finite value(s), first at index "
            f"{_index(idx)}{at}: {value[idx]}"
        )
        raise AssertionError(msg)


def _unchanged(label: str, names: Sequence[str], before: Sequence[np.ndarray],
               after: Sequence[np.ndarray]) -> None:
    for name, b, a in zip(names, before, after, strict=True):
        if b.shape != a.shape or b.dtype != a.dtype or b.tobytes() != a.tobytes():
            diff = np.argwhere(~np.isclose(b, a, rtol=0, atol=0, equal_nan=True)) \
                if b.shape == a.shape else None
            where = ""
            if diff is not None and len(diff):
                idx = tuple(diff[0])
                where = (f": {len(diff)} entries changed, first at index {_index(idx)} "
                         f"from {_fmt(b[idx])} to {_fmt(a[idx])}")
            msg = (
                f"{label} mutated its input {name!r}{where}; components must never write "
                "into their inputs (npframe reuses those buffers): compute into new arrays"
            )
            raise AssertionError(msg)


def _numeric_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float,
                      ) -> tuple[float, np.ndarray, np.ndarray]:
    """Central differences of scalar ``f`` at ``x`` (float64), and where ``f`` has a kink.

    A kink (one-sided slopes that disagree) makes the central difference meaningless
    there, so such points are left out of the comparison rather than failing it.
    """
    x = np.array(x, dtype=np.float64)
    f0 = f(x.copy())
    numeric = np.empty_like(x)
    kink = np.zeros(x.shape, dtype=bool)
    for idx in np.ndindex(*x.shape):
        orig = x[idx]
        xp = x.copy()
        xp[idx] = orig + eps
        xm = x.copy()
        xm[idx] = orig - eps
        hp, hm = xp[idx] - orig, orig - xm[idx]
        fp, fm = f(xp), f(xm)
        numeric[idx] = (fp - fm) / (hp + hm)
        right, left = (fp - f0) / hp, (f0 - fm) / hm
        kink[idx] = abs(right - left) > 1e-3 * max(1.0, abs(right), abs(left))
    return f0, numeric, kink


def _compare_gradient(label: str, analytic: np.ndarray, numeric: np.ndarray, kink: np.ndarray,
                      f0: float, rtol: float, atol: float, context: Callable[[tuple], str],
                      ) -> None:
    total = numeric.size
    if kink.sum() > total // 2:
        msg = (
            f"{label}: could not check the gradient: the function has a kink at "
            f"{int(kink.sum())} of {total} random points, so finite differences are meaningless"
        )
        raise AssertionError(msg)
    analytic = np.asarray(analytic, dtype=np.float64)
    err = np.abs(analytic - numeric)
    err[~np.isfinite(err)] = np.inf
    err[kink] = 0.0
    limit = atol * max(1.0, abs(f0)) + rtol * np.abs(numeric)
    bad = err > limit
    if not bad.any():
        return
    worst = tuple(np.unravel_index(np.argmax(np.where(bad, err, -1.0)), err.shape))
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), np.finfo(np.float64).tiny)
    rel = np.where(bad, err / scale, 0.0)
    msg = (
        f"{label} disagrees with central finite differences (float64, eps={EPS:g}) at "
        f"{int(bad.sum())} of {total - int(kink.sum())} entries: max abs error "
        f"{_fmt(err[worst])} at index {_index(worst)}{context(worst)}, where the analytic "
        f"gradient is {_fmt(analytic[worst])} and finite differences give "
        f"{_fmt(numeric[worst])}; max relative error {_fmt(rel.max())} "
        f"(tolerance: {atol:g} * max(1, |value|) + {rtol:g} * |numeric|)"
    )
    raise AssertionError(msg)


def _check_instance(obj: Any, base: type, what: str) -> None:
    if isinstance(obj, base):
        return
    if isinstance(obj, type):
        got = (f"the class {obj.__module__}.{obj.__qualname__}; pass an instance, "
               f"e.g. {obj.__name__}()")
    else:
        got = f"{type(obj).__module__}.{type(obj).__qualname__}"
    raise AssertionError(f"{what} must be an instance of npframe.{base.__name__} (got {got})")


def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values with ``0.1 <= |x| <= 3``: kinks sit at 0 far more often than anywhere else."""
    return rng.uniform(0.1, 3.0, shape) * rng.choice([-1.0, 1.0], shape)


def _large_inputs(dtype: np.dtype) -> np.ndarray:
    row = [-LARGE, -100.0, -30.0, -1.0, -1e-3, 1e-3, 1.0, 30.0, 100.0, LARGE]
    return np.array([row, row[::-1], [LARGE] * 5 + [-LARGE] * 5], dtype=dtype)


# -- activations ------------------------------------------------------------------------
def check_activation(activation: Activation, *, seed: int = _SEED, rtol: float = RTOL,
                     atol: float = ATOL) -> None:
    """Check an activation instance; ``None`` if it conforms, else ``AssertionError``.

    Checks: ``forward``/``backward`` keep shape and dtype (float32 and float64); inputs
    are not mutated; outputs are finite and nothing warns at ``|z| = 1e3``; the full
    vector-Jacobian product ``backward(z, a, grad_a)`` matches central finite
    differences of ``sum(grad_a * forward(z))`` in float64 for random ``grad_a`` (so
    row-wise activations such as softmax are checked in full, not just their
    diagonal); the parameters survive a spec round trip.
    """
    _check_instance(activation, Activation, "an activation")
    label = _name(activation)
    rng = np.random.default_rng(seed)
    with _no_global_randomness(label):
        for dtype in (np.dtype(np.float64), np.dtype(np.float32)):
            for shape in ((1, 1), (4, 5), (7, 3)):
                z = _away_from_zero(rng, shape).astype(dtype)
                grad_a = rng.standard_normal(shape).astype(dtype)
                _activation_pass(activation, label, z, grad_a, f"{dtype} z of shape {shape}")
            z = _large_inputs(dtype)
            grad_a = np.ones_like(z)
            _activation_pass(activation, label, z, grad_a, f"{dtype} z with |z| up to {LARGE:g}")

        z = _away_from_zero(rng, (4, 5))
        grad_a = rng.standard_normal((4, 5))
        a = activation.forward(z.copy())
        analytic = _call(f"{label}.backward", activation.backward, z.copy(), a, grad_a.copy())

        def objective(x: np.ndarray) -> float:
            return float(np.vdot(grad_a, activation.forward(x)))

        f0, numeric, kink = _call(f"{label}.forward", _numeric_gradient, objective, z, EPS)
        _compare_gradient(
            f"{label}: backward(z, a, grad_a) for random grad_a", analytic, numeric, kink, f0,
            rtol, atol, lambda i: f" (z={_fmt(z[i])}, grad_a={_fmt(grad_a[i])})")

        twin = _rebuild(activation)
        for dtype in (np.float64, np.float32):
            zz = z.astype(dtype)
            g = grad_a.astype(dtype)
            a1, a2 = activation.forward(zz.copy()), twin.forward(zz.copy())
            b1 = activation.backward(zz.copy(), a1, g.copy())
            b2 = twin.backward(zz.copy(), a2, g.copy())
            if a1.tobytes() != a2.tobytes() or b1.tobytes() != b2.tobytes():
                msg = (
                    f"{label}: an instance rebuilt from its parameters computes different "
                    f"values ({_name(twin)}); something the behaviour depends on is not a "
                    "parameter, so a spec cannot reproduce this activation"
                )
                raise AssertionError(msg)


def _activation_pass(act: Activation, label: str, z: np.ndarray, grad_a: np.ndarray,
                     what: str) -> None:
    z0, g0 = z.copy(), grad_a.copy()
    a = _call(f"{label}.forward on {what}", act.forward, z)
    _unchanged(f"{label}.forward on {what}", ["z"], [z0], [z])
    a = _array(f"{label}.forward on {what}", a, z.shape, z.dtype)
    a0 = a.copy()
    grad_z = _call(f"{label}.backward on {what}", act.backward, z, a, grad_a)
    _unchanged(f"{label}.backward on {what}", ["z", "a", "grad_a"], [z0, a0, g0], [z, a, grad_a])
    _array(f"{label}.backward on {what}", grad_z, z.shape, z.dtype)


# -- layers -----------------------------------------------------------------------------
class _ScaledNormal(Initializer):
    """``N(0, 1/fan_in)``: the network initializer ``check_layer`` hands a layer."""

    def __call__(self, shape, rng):
        return rng.standard_normal(shape) * math.sqrt(1.0 / shape[0])


def _layer_state(layer: Layer, label: str) -> dict[str, np.ndarray]:
    state = _call(f"{label}.state_dict", layer.state_dict)
    if not isinstance(state, Mapping):
        raise AssertionError(f"{label}.state_dict() returned {type(state).__name__}, not a dict")
    out = {}
    for key, value in state.items():
        array = np.asarray(value)
        if not isinstance(key, str) or array.dtype.kind not in "biuf":
            msg = (f"{label}.state_dict() must map names to plain numeric arrays (got "
                   f"{key!r}: {array.dtype})")
            raise AssertionError(msg)
        out[key] = array.copy()
    return out


def _layer_params(layer: Layer, label: str, n_in: int, dtype: Any,
                  seed: int) -> dict[str, np.ndarray]:
    shapes = _call(f"{label}.parameter_shapes", layer.parameter_shapes, n_in)
    params = {}
    for name, shape in dict(shapes).items():
        if not isinstance(name, str) or not all(isinstance(d, int) and d > 0 for d in shape):
            msg = f"{label}.parameter_shapes({n_in}) gave {name!r}: {shape!r}; want positive ints"
            raise AssertionError(msg)
        params[name] = np.zeros(tuple(shape), dtype)
    _call(f"{label}.initialize", layer.initialize, params, np.random.default_rng(seed),
          _ScaledNormal())
    for name, value in params.items():
        _finite(f"{label}.initialize: parameter {name!r}", value)
    return params


def check_layer(layer: Layer, *, input_size: int = 5, batch: int = 6, seed: int = _SEED,
                rtol: float = RTOL, atol: float = ATOL) -> None:
    """Check a layer instance; ``None`` if it conforms, else ``AssertionError``.

    Checks: ``output_size`` and ``parameter_shapes`` are consistent; ``initialize``
    draws only from its generator (two equal seeds, equal parameters); ``forward`` in
    training and in inference keeps shape and dtype (float32 and float64), stays finite
    and mutates neither its input nor its parameters, and inference is deterministic;
    the input gradient and every parameter gradient of ``backward`` match central
    finite differences in float64 (training mode, with the same noise each time);
    ``bind`` (the training loop's path) gives exactly the results of ``forward`` and
    ``backward``, in samples x features and features x samples layouts; the state
    dict survives ``load_state_dict`` and holds plain arrays.
    """
    _check_instance(layer, Layer, "a layer")
    label = _name(layer)
    n_out = _call(f"{label}.output_size", layer.output_size, input_size)
    if isinstance(n_out, bool) or not isinstance(n_out, int) or n_out < 1:
        raise AssertionError(f"{label}.output_size({input_size}) returned {n_out!r}; want int >= 1")
    rng = np.random.default_rng(seed)
    with _no_global_randomness(label):
        first = _layer_params(layer, label, input_size, np.float64, seed)
        again = _layer_params(layer, label, input_size, np.float64, seed)
        for name in first:
            if first[name].tobytes() != again[name].tobytes():
                msg = (f"{label}.initialize is not deterministic for parameter {name!r}: draw "
                       "only from the rng argument")
                raise AssertionError(msg)
        for dtype in (np.dtype(np.float64), np.dtype(np.float32)):
            params = _layer_params(layer, label, input_size, dtype, seed)
            x = rng.normal(size=(batch, input_size)).astype(dtype)
            _layer_pass(layer, label, x, params, n_out, seed)
        params = _layer_params(layer, label, input_size, np.float64, seed)
        _layer_gradients(layer, label, params, rng.normal(size=(batch, input_size)),
                         rng.normal(size=(batch, n_out)), seed, rtol, atol)
        for order in ("C", "F"):
            _layer_bind(layer, label, params, rng.normal(size=(batch, input_size)),
                        rng.normal(size=(batch, n_out)), order, seed)
        state = _layer_state(layer, label)
        _call(f"{label}.load_state_dict", layer.load_state_dict,
              {k: v.copy() for k, v in state.items()})
        after = _layer_state(layer, label)
        if state.keys() != after.keys() or any(state[k].tobytes() != after[k].tobytes()
                                               for k in state):
            raise AssertionError(f"{label}: load_state_dict(state_dict()) changed the state")


def _layer_pass(layer: Layer, label: str, x: np.ndarray, params: dict[str, np.ndarray],
                n_out: int, seed: int) -> None:
    saved_x, saved_p = x.copy(), {k: v.copy() for k, v in params.items()}
    what = f"{x.dtype} x of shape {x.shape}"
    for training in (True, False):
        where = f"{label}.forward(training={training}) on {what}"
        result = _call(where, lambda t=training: layer.forward(
            x, params, training=t, rng=np.random.default_rng(seed)))
        if not isinstance(result, tuple) or len(result) != 2:
            raise AssertionError(f"{where} must return (y, cache), got {type(result).__name__}")
        y, cache = result
        _array(where, y, (x.shape[0], n_out), x.dtype)
        _unchanged(where, ["x", *params], [saved_x, *saved_p.values()], [x, *params.values()])
        if training:
            grads = {k: np.zeros_like(v) for k, v in params.items()}
            where = f"{label}.backward on {what}"
            grad_y = np.ones_like(y)
            grad_x = _call(where, layer.backward, grad_y, cache, params, grads)
            _array(where, grad_x, x.shape, x.dtype)
            for name, g in grads.items():
                _array(f"{where}: gradient of {name!r}", g, params[name].shape, x.dtype)
    inference = [layer.forward(x, params, training=False)[0].copy() for _ in range(2)]
    if inference[0].tobytes() != inference[1].tobytes():
        raise AssertionError(f"{label}: inference (training=False) is not deterministic")


def _layer_gradients(layer: Layer, label: str, params: dict[str, np.ndarray], x: np.ndarray,
                     grad_y: np.ndarray, seed: int, rtol: float, atol: float) -> None:
    state = _layer_state(layer, label)

    def output(x_: np.ndarray, params_: dict[str, np.ndarray]) -> np.ndarray:
        y, _ = layer.forward(x_, params_, training=True, rng=np.random.default_rng(seed))
        layer.load_state_dict({k: v.copy() for k, v in state.items()})
        return y

    _, cache = layer.forward(x.copy(), params, training=True, rng=np.random.default_rng(seed))
    layer.load_state_dict({k: v.copy() for k, v in state.items()})
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    grad_x = layer.backward(grad_y.copy(), cache, params, grads)

    def objective_x(x_: np.ndarray) -> float:
        return float(np.vdot(grad_y, output(x_, params)))

    f0, numeric, kink = _call(f"{label}.forward", _numeric_gradient, objective_x, x, EPS)
    _compare_gradient(f"{label}: backward's input gradient", grad_x, numeric, kink, f0,
                      rtol, atol, lambda i: "")
    for name in params:
        def objective_p(p_: np.ndarray, name: str = name) -> float:
            return float(np.vdot(grad_y, output(x, {**params, name: p_})))

        f0, numeric, kink = _call(f"{label}.forward", _numeric_gradient, objective_p,
                                  params[name], EPS)
        _compare_gradient(f"{label}: backward's gradient of {name!r}", grads[name], numeric,
                          kink, f0, rtol, atol, lambda i: "")


def _layer_bind(layer: Layer, label: str, params: dict[str, np.ndarray], x: np.ndarray,
                grad_y: np.ndarray, order: str, seed: int) -> None:
    state = _layer_state(layer, label)
    n, n_in = x.shape
    y, cache = layer.forward(x, params, training=True, rng=np.random.default_rng(seed))
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    grad_x = layer.backward(grad_y.copy(), cache, params, grads)
    plain_state = _layer_state(layer, label)
    layer.load_state_dict({k: v.copy() for k, v in state.items()})
    context = LayerContext(batch=n, dtype=x.dtype, input_size=n_in, output_size=y.shape[1],
                           order=order, input_order=order, rng=np.random.default_rng(seed))
    where = f"{label}.bind ({'features x samples' if order == 'F' else 'samples x features'})"
    forward, backward = _call(where, layer.bind, params, bound_grads := {
        k: np.zeros_like(v) for k, v in params.items()}, context)
    xo = np.asarray(x, order=order)
    y_bound = _call(f"{where} forward", forward, xo)
    g_bound = _call(f"{where} backward", backward, xo, y_bound, np.asarray(grad_y.copy(),
                                                                           order=order))
    exact = order == "C"
    pairs = [("output", y_bound, y), ("input gradient", g_bound, grad_x)]
    pairs += [(f"gradient of {k!r}", bound_grads[k], grads[k]) for k in params]
    pairs += [(f"state {k!r}", v, plain_state[k]) for k, v in _layer_state(layer, label).items()]
    layer.load_state_dict({k: v.copy() for k, v in state.items()})
    for what, got, want in pairs:
        got = np.asarray(got)
        same = (got.tobytes() == np.ascontiguousarray(want).tobytes() if exact
                else np.allclose(got, want, rtol=1e-12, atol=1e-14))
        if got.shape != np.shape(want) or not same:
            diff = (np.abs(np.asarray(got, np.float64) - want).max()
                    if got.shape == np.shape(want) else "shape")
            msg = (
                f"{where}: the {what} differs from forward/backward's "
                f"({'bit for bit' if exact else 'to rounding'}; max difference {diff}); the "
                "training loop runs bind, evaluate and predict run forward: they must agree"
            )
            raise AssertionError(msg)


# -- losses -----------------------------------------------------------------------------
def _loss_data(domain: str, rng: np.random.Generator, shape: tuple[int, int], dtype: Any,
               ) -> tuple[np.ndarray, np.ndarray]:
    n, k = shape
    if domain == "real":
        y_true = rng.uniform(-2.0, 2.0, shape)
        y_pred = y_true + _away_from_zero(rng, shape)
    elif k == 1:
        y_true = rng.integers(0, 2, shape).astype(np.float64)
        y_pred = rng.uniform(0.05, 0.95, shape)
    else:
        y_true = np.eye(k)[rng.integers(0, k, n)]
        logits = rng.uniform(-1.5, 1.5, shape)
        y_pred = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y_true.astype(dtype), y_pred.astype(dtype)


def _large_loss_data(domain: str, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    if domain == "real":
        y_pred = _large_inputs(dtype)
        y_true = np.zeros_like(y_pred)
        y_true[1] = -y_pred[1]
        return y_true, y_pred
    # probabilities at the edges: what a saturated sigmoid/softmax produces
    y_true = np.eye(3, dtype=dtype)[[0, 1, 2, 0]]
    y_pred = np.array([[1 - 2e-6, 1e-6, 1e-6], [1e-6, 1e-6, 1 - 2e-6],
                       [0.5, 0.5 - 1e-6, 1e-6], [1e-6, 1 - 2e-6, 1e-6]], dtype=dtype)
    return y_true, y_pred


def _scalar(label: str, value: Any) -> float:
    if isinstance(value, bool) or np.ndim(value) != 0 or not isinstance(
            value, int | float | np.integer | np.floating):
        msg = f"{label} returned {type(value).__name__} {value!r}, not a single real number"
        raise AssertionError(msg)
    if not math.isfinite(float(value)):
        raise AssertionError(f"{label} returned a non-finite value: {value!r}")
    return float(value)


def _pick_domain(component: Any, probe: Callable[[str], None], domain: str | None,
                 ) -> tuple[str, str]:
    """The domain to check on, and why (the real domain's failure when it was rejected).

    The ``domain`` argument wins, then the component's ``prediction_domain``; without
    either, real data is tried and probabilities are the fallback.
    """
    if domain is None:
        domain = getattr(component, "prediction_domain", None)
        if domain is not None and domain not in DOMAINS:
            msg = (
                f"{_name(component)}.prediction_domain must be one of "
                f"{', '.join(map(repr, DOMAINS))} (got {domain!r})"
            )
            raise AssertionError(msg)
    elif domain not in DOMAINS:
        raise ValueError(f"domain must be one of {', '.join(map(repr, DOMAINS))} (got {domain!r})")
    if domain is not None:
        return domain, ""
    try:
        probe("real")
    except AssertionError as exc:
        return "probability", f" [checked on probabilities because real-valued data failed: {exc}]"
    return "real", ""


def check_loss(loss: Loss, *, domain: str | None = None, seed: int = _SEED, rtol: float = RTOL,
               atol: float = ATOL) -> None:
    """Check a loss instance; ``None`` if it conforms, else ``AssertionError``.

    Checks: ``value`` is a finite real number; ``gradient`` has the prediction's shape
    and dtype (float32 and float64) and matches central finite differences of
    ``value`` in float64; ``value_and_gradient`` agrees with both; inputs are not
    mutated; nothing warns at large magnitudes; the parameters survive a spec round
    trip.

    ``domain`` says what data the loss accepts: ``"real"`` (regression targets and
    predictions) or ``"probability"`` (0/1 or one-hot targets, predictions in (0, 1)).
    When it is not given, the loss's own ``prediction_domain`` attribute decides; when
    that is absent too, the loss is tried on real data and checked on probabilities
    only if real data raises, warns or gives a non-finite value.
    """
    _check_instance(loss, Loss, "a loss")
    label = _name(loss)
    rng = np.random.default_rng(seed)

    def probe(dom: str) -> None:
        y_true, y_pred = _loss_data(dom, np.random.default_rng(seed), (5, 3), np.float64)
        _scalar(f"{label}.value", _call(f"{label}.value", loss.value, y_true, y_pred))

    with _no_global_randomness(label):
        domain, why = _pick_domain(loss, probe, domain)
        try:
            _check_loss_on(loss, label, domain, rng, rtol, atol)
        except AssertionError as exc:
            raise AssertionError(f"{exc}{why}") from exc


def _check_loss_on(loss: Loss, label: str, domain: str, rng: np.random.Generator,
                   rtol: float, atol: float) -> None:
    for dtype in (np.dtype(np.float64), np.dtype(np.float32)):
        cases = [(_loss_data(domain, rng, shape, dtype), f"{dtype} {domain} data of shape {shape}")
                 for shape in ((1, 1), (5, 1), (6, 3))]
        large = "|y_pred| up to 1e3" if domain == "real" else "probabilities within 1e-6 of 0 and 1"
        cases.append((_large_loss_data(domain, dtype), f"{dtype} data with {large}"))
        for (y_true, y_pred), what in cases:
            saved = [y_true.copy(), y_pred.copy()]
            names = ["y_true", "y_pred"]
            where = f"{label}.value on {what}"
            v = _scalar(where, _call(where, loss.value, y_true, y_pred))
            _unchanged(where, names, saved, [y_true, y_pred])
            where = f"{label}.gradient on {what}"
            g = _call(where, loss.gradient, y_true, y_pred)
            _unchanged(where, names, saved, [y_true, y_pred])
            g = _array(where, g, y_pred.shape, y_pred.dtype)
            where = f"{label}.value_and_gradient on {what}"
            pair = _call(where, loss.value_and_gradient, y_true, y_pred)
            _unchanged(where, names, saved, [y_true, y_pred])
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise AssertionError(f"{where} must return a (value, gradient) pair, got {pair!r}")
            v2 = _scalar(where, pair[0])
            g2 = _array(where, pair[1], y_pred.shape, y_pred.dtype)
            tol = 1e-5 if dtype == np.float32 else 1e-10
            if not math.isclose(v, v2, rel_tol=tol, abs_tol=tol):
                msg = f"{where} gave value {v2!r} but value() gave {v!r}"
                raise AssertionError(msg)
            if not np.allclose(g, g2, rtol=tol, atol=tol * float(np.abs(g).max() or 1.0)):
                idx = tuple(np.unravel_index(int(np.argmax(np.abs(g - g2))), g.shape))
                msg = (
                    f"{where} disagrees with gradient(): max abs difference "
                    f"{_fmt(np.abs(g - g2)[idx])} at index {_index(idx)} "
                    f"({_fmt(g2[idx])} vs {_fmt(g[idx])})"
                )
                raise AssertionError(msg)

    y_true, y_pred = _loss_data(domain, rng, (5, 3), np.float64)
    analytic = loss.gradient(y_true.copy(), y_pred.copy())

    def objective(x: np.ndarray) -> float:
        return float(loss.value(y_true.copy(), x))

    f0, numeric, kink = _call(f"{label}.value", _numeric_gradient, objective, y_pred, EPS)
    _compare_gradient(
        f"{label}: gradient(y_true, y_pred) on {domain} data", analytic, numeric, kink, f0,
        rtol, atol, lambda i: f" (y_true={_fmt(y_true[i])}, y_pred={_fmt(y_pred[i])})")

    twin = _rebuild(loss)
    for dtype in (np.float64, np.float32):
        t, p = y_true.astype(dtype), y_pred.astype(dtype)
        same = (float(loss.value(t.copy(), p.copy())) == float(twin.value(t.copy(), p.copy()))
                and loss.gradient(t.copy(), p.copy()).tobytes()
                == twin.gradient(t.copy(), p.copy()).tobytes())
        if not same:
            msg = (
                f"{label}: an instance rebuilt from its parameters computes different values "
                f"({_name(twin)}); something the behaviour depends on is not a parameter"
            )
            raise AssertionError(msg)


# -- initializers -----------------------------------------------------------------------
def check_initializer(initializer: Initializer, *, seed: int = _SEED) -> None:
    """Check an initializer instance; ``None`` if it conforms, else ``AssertionError``.

    Checks: ``initializer(shape, rng)`` returns a finite float array of exactly
    ``shape = (fan_in, fan_out)`` for square, tall, wide and large shapes; two
    generators seeded alike give bit-identical arrays (so nothing comes from fresh
    entropy); NumPy's and Python's global random state are untouched; nothing warns;
    the parameters survive a spec round trip.
    """
    _check_instance(initializer, Initializer, "an initializer")
    label = _name(initializer)
    with _no_global_randomness(label):
        for i, shape in enumerate(((3, 3), (7, 2), (2, 7), (1, 1), (96, 64))):
            where = f"{label}(shape={shape}, rng)"
            first = _call(where, initializer, shape, np.random.default_rng(seed + i))
            if not isinstance(first, np.ndarray):
                raise AssertionError(f"{where} returned a {type(first).__name__}, not an array")
            if first.shape != shape:
                msg = f"{where} returned shape {first.shape}; expected {shape} (fan_in, fan_out)"
                raise AssertionError(msg)
            if first.dtype.kind != "f":
                msg = f"{where} returned dtype {first.dtype}; weights must be floating point"
                raise AssertionError(msg)
            _finite(where, first)
            second = _call(where, initializer, shape, np.random.default_rng(seed + i))
            if first.dtype != second.dtype or first.tobytes() != second.tobytes():
                diff = np.abs(np.asarray(first, np.float64) - np.asarray(second, np.float64))
                idx = tuple(np.unravel_index(int(np.argmax(diff)), shape))
                msg = (
                    f"{where} is not deterministic: two generators seeded with {seed + i} gave "
                    f"different weights (max abs difference {_fmt(diff[idx])} at index "
                    f"{_index(idx)}); draw only from the rng argument, never from fresh "
                    "entropy such as np.random.default_rng() without a seed"
                )
                raise AssertionError(msg)
        twin = _rebuild(initializer)
        shape = (5, 4)
        a = initializer(shape, np.random.default_rng(seed))
        b = twin(shape, np.random.default_rng(seed))
        if a.tobytes() != b.tobytes():
            msg = (
                f"{label}: an instance rebuilt from its parameters draws different weights "
                f"({_name(twin)}); something the behaviour depends on is not a parameter"
            )
            raise AssertionError(msg)


# -- optimizers -------------------------------------------------------------------------
class _Quadratic:
    """``f(p) = 0.5 * sum(c * (p - t)**2)`` over a weight matrix and a bias vector."""

    def __init__(self, rng: np.random.Generator, dtype: Any) -> None:
        shapes = [(4, 3), (3,)]
        self.targets = [rng.standard_normal(s).astype(dtype) for s in shapes]
        self.curvature = [rng.uniform(0.5, 2.0, s).astype(dtype) for s in shapes]
        self.start = [rng.standard_normal(s).astype(dtype) for s in shapes]

    def params(self) -> list[np.ndarray]:
        return [p.copy() for p in self.start]

    def value(self, params: Sequence[np.ndarray]) -> float:
        return sum(0.5 * float(np.sum(c * (p - t) ** 2))
                   for p, t, c in zip(params, self.targets, self.curvature, strict=True))

    def gradients(self, params: Sequence[np.ndarray], out: list[np.ndarray]) -> list[np.ndarray]:
        """Into the same buffers every time, as ``Network`` does."""
        for p, t, c, g in zip(params, self.targets, self.curvature, out, strict=True):
            np.subtract(p, t, out=g)
            g *= c
        return out


def _run(opt: Optimizer, problem: _Quadratic, params: list[np.ndarray], steps: int,
         label: str) -> list[np.ndarray]:
    grads = [np.empty_like(p) for p in params]
    for _ in range(steps):
        _call(f"{label}.step", opt.step, params, problem.gradients(params, grads))
    return params


def _state_roundtrip(label: str, state: Any) -> dict[str, np.ndarray]:
    """The state as it comes back from an ``.npz`` file (no pickling)."""
    if not isinstance(state, Mapping):
        msg = f"{label}.state_dict() returned a {type(state).__name__}, not a dict"
        raise AssertionError(msg)
    for key, value in state.items():
        if not isinstance(key, str):
            raise AssertionError(f"{label}.state_dict() has a non-string key {key!r}")
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
            what = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            msg = (
                f"{label}.state_dict()[{key!r}] is {what}; state must be plain numeric numpy "
                "arrays (wrap counters as np.array(t)) so it saves to .npz without pickling"
            )
            raise AssertionError(msg)
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _first_difference(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x.tobytes() != y.tobytes():
            diff = np.abs(x.astype(np.float64) - y.astype(np.float64))
            idx = tuple(np.unravel_index(int(np.nanargmax(diff)), x.shape))
            return (f"params[{i}] differ by up to {_fmt(diff[idx])} at index {_index(idx)} "
                    f"({_fmt(x[idx])} vs {_fmt(y[idx])})")
    return "no difference"


def check_optimizer(optimizer: Optimizer, *, seed: int = _SEED, steps: int = 300) -> None:
    """Check an optimizer instance; ``None`` if it conforms, else ``AssertionError``.

    Uses ``optimizer`` only as a template: every run is on a fresh instance rebuilt
    from its parameters (which checks they survive a spec round trip). Checks:
    ``steps`` steps decrease a convex quadratic; parameters are updated in place, keep
    their dtype (float32 too) and stay the same array objects; gradients are not
    mutated; nothing warns at magnitudes of 1e3; ``state_dict`` holds plain numeric
    arrays that survive an ``.npz`` round trip, and a fresh instance given them with
    ``load_state_dict`` continues bit-identically; the global random state is untouched.
    """
    _check_instance(optimizer, Optimizer, "an optimizer")
    label = _name(optimizer)
    rng = np.random.default_rng(seed)
    with _no_global_randomness(label):
        fresh = lambda: _rebuild(optimizer)  # noqa: E731
        problem = _Quadratic(rng, np.float64)

        # One step: in place, same objects, gradients untouched.
        opt = fresh()
        params = problem.params()
        originals = list(params)
        before = [p.copy() for p in params]
        grads = problem.gradients(params, [np.empty_like(p) for p in params])
        saved = [g.copy() for g in grads]
        _call(f"{label}.step", opt.step, params, grads)
        _unchanged(f"{label}.step", ["grads[0]", "grads[1]"], saved, grads)
        if any(p is not o for p, o in zip(params, originals, strict=True)):
            msg = (
                f"{label}.step replaced arrays in the params list instead of updating them in "
                "place; write p -= update (or p[...] = ...), never params[i] = ..."
            )
            raise AssertionError(msg)

        # Convergence on the quadratic.
        _run(opt, problem, params, steps - 1, label)
        f0, f1 = problem.value(before), problem.value(params)
        if all(b.tobytes() == p.tobytes() for b, p in zip(before, params, strict=True)):
            msg = (
                f"{label}: {steps} steps left the parameters unchanged; step must update "
                "the arrays in params in place (p -= learning_rate * g)"
            )
            raise AssertionError(msg)
        if not math.isfinite(f1) or not f1 < f0 * (1 - 1e-3):
            msg = (
                f"{label}: {steps} steps on the convex quadratic 0.5 * sum(c * (p - t)**2) "
                f"took it from {_fmt(f0)} to {_fmt(f1)}; an optimizer must decrease it "
                "(is the update's sign right? is the learning rate used?)"
            )
            raise AssertionError(msg)

        # dtype: float32 parameters stay float32.
        problem32 = _Quadratic(np.random.default_rng(seed), np.float32)
        params32 = problem32.params()
        originals = list(params32)
        start32 = [p.copy() for p in params32]
        _run(fresh(), problem32, params32, 5, label)
        for i, (p, o) in enumerate(zip(params32, originals, strict=True)):
            if p is not o or p.dtype != np.float32:
                msg = (
                    f"{label}.step turned float32 params[{i}] into "
                    f"{np.asarray(p).dtype} (or replaced the array); update in place and keep "
                    "the dtype: scale by Python floats, not NumPy float64 scalars"
                )
                raise AssertionError(msg)
            _finite(f"{label}.step on float32 params[{i}]", p)
        if all(a.tobytes() == b.tobytes() for a, b in zip(start32, params32, strict=True)):
            raise AssertionError(f"{label}.step did not change float32 parameters")

        # Large magnitudes.
        for dtype in (np.float64, np.float32):
            big = [np.full((3, 2), LARGE, dtype), np.full((2,), -LARGE, dtype)]
            big_grads = [np.full((3, 2), LARGE, dtype), np.full((2,), -LARGE, dtype)]
            opt = fresh()
            for _ in range(3):
                _call(f"{label}.step with |params| = |grads| = {LARGE:g} ({np.dtype(dtype)})",
                      opt.step, big, big_grads)
            for p in big:
                _finite(f"{label}.step with |params| = |grads| = {LARGE:g}", p)

        # state_dict round trip, from a fresh optimizer and after a few steps.
        for warmup in (0, 7):
            a = fresh()
            params_a = _run(a, problem, problem.params(), warmup, label)
            state = _state_roundtrip(label, _call(f"{label}.state_dict", a.state_dict))
            b = fresh()
            _call(f"{label}.load_state_dict", b.load_state_dict, state)
            params_b = [p.copy() for p in params_a]
            _run(a, problem, params_a, 5, label)
            _run(b, problem, params_b, 5, label)
            if any(x.tobytes() != y.tobytes() for x, y in zip(params_a, params_b, strict=True)):
                msg = (
                    f"{label}: state_dict does not round-trip: after {warmup} steps, a fresh "
                    f"instance given load_state_dict(state_dict()) continued differently for 5 "
                    f"steps ({_first_difference(params_a, params_b)}); state_dict must hold "
                    f"everything step uses (momenta, step counts). Keys saved: "
                    f"{sorted(state) or 'none'}"
                )
                raise AssertionError(msg)


# -- metrics ----------------------------------------------------------------------------
def check_metric(metric: Metric, *, domain: str | None = None, seed: int = _SEED) -> None:
    """Check a metric instance; ``None`` if it conforms, else ``AssertionError``.

    Checks: it returns one finite real number for float32 and float64 data;
    ``greater_is_better`` is a bool that agrees with the metric (a perfect prediction
    scores at least as well as a noisy one); it is deterministic; inputs are not
    mutated; nothing warns; the parameters survive a spec round trip. ``domain`` as
    for ``check_loss``.
    """
    _check_instance(metric, Metric, "a metric")
    label = _name(metric)
    rng = np.random.default_rng(seed)
    if not isinstance(metric.greater_is_better, bool):
        msg = f"{label}.greater_is_better must be True or False (got {metric.greater_is_better!r})"
        raise AssertionError(msg)

    def probe(dom: str) -> None:
        y_true, y_pred = _loss_data(dom, np.random.default_rng(seed), (6, 3), np.float64)
        _scalar(f"{label}()", _call(f"{label}()", metric, y_true, y_pred))

    with _no_global_randomness(label):
        domain, why = _pick_domain(metric, probe, domain)
        try:
            _check_metric_on(metric, label, domain, rng)
        except AssertionError as exc:
            raise AssertionError(f"{exc}{why}") from exc


def _check_metric_on(metric: Metric, label: str, domain: str, rng: np.random.Generator) -> None:
    twin = _rebuild(metric)
    for dtype in (np.float64, np.float32):
        for shape in ((8, 1), (6, 3)):
            y_true, y_pred = _loss_data(domain, rng, shape, dtype)
            what = f"{np.dtype(dtype)} {domain} data of shape {shape}"
            where = f"{label}(y_true, y_pred) on {what}"
            saved = [y_true.copy(), y_pred.copy()]
            v = _scalar(where, _call(where, metric, y_true, y_pred))
            _unchanged(where, ["y_true", "y_pred"], saved, [y_true, y_pred])
            again = _scalar(where, _call(where, metric, y_true.copy(), y_pred.copy()))
            if v != again:
                raise AssertionError(f"{where} is not deterministic: {v!r} then {again!r}")
            if float(twin(y_true.copy(), y_pred.copy())) != v:
                msg = (
                    f"{label}: an instance rebuilt from its parameters scores differently "
                    f"({_name(twin)}); something the behaviour depends on is not a parameter"
                )
                raise AssertionError(msg)
            perfect = _scalar(where, _call(f"{label}(y, y) on {what}", metric, y_true,
                                           y_true.copy()))
            worse = perfect < v if metric.greater_is_better else perfect > v
            if worse:
                direction = "higher" if metric.greater_is_better else "lower"
                msg = (
                    f"{label}: a perfect prediction scored {_fmt(perfect)} but a noisy one "
                    f"{_fmt(v)} on {what}; with greater_is_better="
                    f"{metric.greater_is_better} the perfect one should score {direction} "
                    "or equal. Is greater_is_better right?"
                )
                raise AssertionError(msg)


# -- schedules --------------------------------------------------------------------------
def check_schedule(schedule: Schedule, *, epochs: int = 200) -> None:
    """Check a schedule instance; ``None`` if it conforms, else ``AssertionError``.

    Checks: for epochs ``0 .. epochs-1`` and a few far beyond, it returns a finite
    real factor ``>= 0`` without warnings; it is a pure function of the epoch (same
    values in any order, so resuming a saved model at epoch k gives the same rate);
    the parameters survive a spec round trip.
    """
    _check_instance(schedule, Schedule, "a schedule")
    label = _name(schedule)
    points = [*range(epochs), 1_000, 10_000, 100_000]
    with _no_global_randomness(label):
        values = []
        for epoch in points:
            where = f"{label}({epoch})"
            value = _scalar(where, _call(where, schedule, epoch))
            if value < 0:
                msg = f"{where} returned {value!r}; a learning-rate factor must be >= 0"
                raise AssertionError(msg)
            values.append(value)
        backwards = [float(schedule(e)) for e in reversed(points)][::-1]
        if backwards != values:
            i = next(i for i, (a, b) in enumerate(zip(values, backwards, strict=True)) if a != b)
            msg = (
                f"{label} is not a pure function of the epoch: epoch {points[i]} gave "
                f"{values[i]!r} in order and {backwards[i]!r} when called in reverse; keep no "
                "state between calls (a resumed model asks for epoch k directly)"
            )
            raise AssertionError(msg)
        twin = _rebuild(schedule)
        if [float(twin(e)) for e in points] != values:
            msg = (
                f"{label}: an instance rebuilt from its parameters gives different factors "
                f"({_name(twin)}); something the behaviour depends on is not a parameter"
            )
            raise AssertionError(msg)


# -- datasets ---------------------------------------------------------------------------
def check_dataset(dataset: Dataset) -> None:
    """Check what a dataset factory returned; ``None`` if it conforms, else ``AssertionError``.

    Checks: ``X`` is ``(n, features)`` and ``y`` is ``(n, outputs)`` (or ``(n,)``), both
    finite numbers with the same ``n >= 1``; a test split has both arrays and matching
    widths; names, when given, match the widths.
    """
    _check_instance(dataset, Dataset, "a dataset")
    pairs = [("X", "y", dataset.X, dataset.y)]
    if (dataset.X_test is None) != (dataset.y_test is None):
        raise AssertionError("dataset: X_test and y_test must be given together (or neither)")
    if dataset.X_test is not None:
        pairs.append(("X_test", "y_test", dataset.X_test, dataset.y_test))
    for xn, yn, X, y in pairs:
        if X.ndim != 2 or X.shape[0] < 1:
            raise AssertionError(f"dataset: {xn} must be (n_samples, n_features), got {X.shape}")
        if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
            msg = (f"dataset: {yn} must be ({X.shape[0]},) or ({X.shape[0]}, n_outputs), "
                   f"got {y.shape}")
            raise AssertionError(msg)
        for name, arr in ((xn, X), (yn, y)):
            if arr.dtype.kind not in "biuf":
                raise AssertionError(f"dataset: {name} must hold numbers, got dtype {arr.dtype}")
            _finite(f"dataset: {name}", arr)
    width = lambda y: 1 if y.ndim == 1 else y.shape[1]  # noqa: E731
    if dataset.X_test is not None:
        if dataset.X_test.shape[1] != dataset.X.shape[1]:
            msg = (f"dataset: X_test has {dataset.X_test.shape[1]} features, X has "
                   f"{dataset.X.shape[1]}")
            raise AssertionError(msg)
        if width(dataset.y_test) != width(dataset.y):
            raise AssertionError("dataset: y_test and y have different numbers of outputs")
    if dataset.feature_names and len(dataset.feature_names) != dataset.X.shape[1]:
        msg = (f"dataset: {len(dataset.feature_names)} feature_names for "
               f"{dataset.X.shape[1]} features")
        raise AssertionError(msg)
    if dataset.target_names and len(dataset.target_names) != width(dataset.y):
        msg = f"dataset: {len(dataset.target_names)} target_names for {width(dataset.y)} outputs"
        raise AssertionError(msg)


# -- dispatch and the registry ----------------------------------------------------------
_CHECKS: list[tuple[type, Callable[..., None]]] = [
    (Activation, check_activation),
    (Loss, check_loss),
    (Initializer, check_initializer),
    (Optimizer, check_optimizer),
    (Metric, check_metric),
    (Schedule, check_schedule),
    (Dataset, check_dataset),
    (Layer, check_layer),
]


def check_component(component: Any) -> None:
    """Run the check that matches ``component``'s npframe base class."""
    for base, check in _CHECKS:
        if isinstance(component, base):
            check(component)
            return
    bases = ", ".join(f"npframe.{b.__name__}" for b, _ in _CHECKS)
    msg = (
        f"{type(component).__module__}.{type(component).__qualname__} is not an npframe "
        f"component: expected an instance of one of {bases}"
    )
    raise AssertionError(msg)


def check_registered(kind: str, name: str, *, params: Mapping[str, Any] | None = None,
                     registry: Registry | None = None) -> None:
    """Build ``kind``/``name`` from the registry the way a spec does, and check it.

    ``params`` are the spec parameters (needed only for components without defaults
    for everything). Also checks that the parameters the component reports rebuild it
    through the registry, i.e. that ``{"name": name, **params}`` in a spec round-trips.
    """
    from npframe.assembly import build_layer
    from npframe.errors import RegistryError, SpecError
    from npframe.registry import default_registry

    registry = registry or default_registry()
    params = dict(params or {})
    try:
        entry = registry.entry(kind, name)
    except RegistryError as exc:
        raise AssertionError(str(exc)) from None
    where = f"{kind} {name!r} (registered by {entry.provider})"
    if kind == "dataset":
        with _no_global_randomness(where):
            first = _call(f"{where}: building it", lambda: entry.factory(**params))
            second = _call(f"{where}: building it", lambda: entry.factory(**params))
        try:
            check_dataset(first)
        except AssertionError as exc:
            raise AssertionError(f"{where}: {exc}") from exc
        for field in ("X", "y", "X_test", "y_test"):
            a, b = getattr(first, field), getattr(second, field)
            if (a is None) != (b is None) or (a is not None and a.tobytes() != b.tobytes()):
                msg = (f"{where} is not deterministic: two calls with {params!r} gave "
                       f"different {field}")
                raise AssertionError(msg)
        return
    try:
        if kind == "layer":  # a layer's table may name components (a dense activation)
            component = build_layer({"type": name, **params}, registry, path=kind)
        else:
            component = registry.create(kind, {"name": name, **params}, path=kind)
    except SpecError as exc:
        table = ", ".join(f"{k} = {v!r}" for k, v in {"name": name, **params}.items())
        msg = (
            f"{where} cannot be built from the spec {{ {table} }}: {exc}; pass its required "
            "parameters as params={...}"
        )
        raise AssertionError(msg) from None
    try:
        check_component(component)
        if kind == "layer":
            return  # built from its table above; its component parameters are objects
        reported = {k: _plain(v, f"parameter {k!r}") for k, v in _params_of(component).items()}
        try:
            rebuilt = registry.create(kind, {"name": name, **reported}, path=kind)
        except SpecError as exc:
            msg = (
                f"the parameters it reports, {reported!r}, do not rebuild it through the "
                f"registry: {exc}; the registered factory must accept the same keyword "
                "parameters the component keeps"
            )
            raise AssertionError(msg) from None
        if _params_of(rebuilt) != _params_of(component) or type(rebuilt) is not type(component):
            msg = (
                f"rebuilt from the spec {{name = {name!r}, **{reported!r}}} it becomes "
                f"{_name(rebuilt)}, not {_name(component)}"
            )
            raise AssertionError(msg)
    except AssertionError as exc:
        raise AssertionError(f"{where}: {exc}") from exc


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def components_of(distribution: str, *, kinds: Sequence[str] | None = None,
                  params: Mapping[str, Mapping[str, Any]] | None = None,
                  registry: Registry | None = None) -> list[Any]:
    """Every component ``distribution`` registers, as pytest parameters ``(kind, name, params)``.

    Use it to run the kit over a whole plugin::

        @pytest.mark.parametrize(("kind", "name", "params"), components_of("npframe-example"))
        def test_conforms(kind, name, params):
            check_registered(kind, name, params=params)

    ``params`` gives spec parameters for components that need some, keyed like the
    test ids: ``{"schedule:cosine": {"epochs": 10}}``; the others get ``{}``.
    Distribution names compare as pip compares them (``npframe_example`` ==
    ``npframe-example``). An unknown distribution, one that failed to load, one that
    registers nothing, or a ``params`` key naming none of its components raises
    ``LookupError`` at collection, rather than silently testing nothing.
    """
    from npframe.registry import default_registry

    registry = registry or default_registry()
    params = dict(params or {})
    wanted = _normalize(distribution)
    entries = [e for e in registry.entries() if _normalize(e.owner) == wanted
               and (kinds is None or e.kind in kinds)]
    if not entries:
        failed = [str(f) for f in registry.failures() if _normalize(f.distribution) == wanted]
        owners = sorted({e.owner for e in registry.entries()})
        msg = f"no components registered by distribution {distribution!r}"
        if kinds is not None:
            msg += f" of kind {', '.join(kinds)}"
        if failed:
            msg += f": it failed to load: {'; '.join(failed)}"
        else:
            msg += (
                f"; components come from: {', '.join(owners) or 'nobody'}. Is it installed "
                "(pip install -e .), is its [project.entry-points.npframe] table right, and "
                "does NPFRAME_PLUGINS (if set) include it?"
            )
        raise LookupError(msg)
    ids = [f"{e.kind}:{e.name}" for e in entries]
    stray = sorted(set(params) - set(ids))
    if stray:
        msg = (
            f"components_of({distribution!r}): params given for {', '.join(stray)}, which "
            f"it does not register; keys are 'kind:name', one of: {', '.join(ids)}"
        )
        raise LookupError(msg)
    rows = [(e.kind, e.name, dict(params.get(i, {}))) for e, i in zip(entries, ids, strict=True)]
    if pytest is None:  # pragma: no cover
        return rows
    return [pytest.param(*row, id=i) for row, i in zip(rows, ids, strict=True)]


# -- the pytest plugin ------------------------------------------------------------------
if pytest is not None:

    @pytest.fixture
    def npframe_registry() -> Registry:
        """A fresh ``Registry`` loaded from the installed plugins (``NPFRAME_PLUGINS`` applies).

        Register test doubles on it freely: it is not the process-wide registry.
        """
        from npframe.registry import Registry

        return Registry()

    @pytest.fixture
    def npframe_rng() -> np.random.Generator:
        """A generator with a fixed seed, so a failing test fails the same way every run."""
        return np.random.default_rng(_SEED)
