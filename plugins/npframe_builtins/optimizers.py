"""Built-in optimizers, each the update rule of its namesake in PyTorch's ``torch.optim``.

Every optimizer follows the algorithm box of the PyTorch documentation, with the
same defaults (the learning rate is called ``learning_rate``; ``sgd`` and
``momentum`` default to 0.01), the same bias correction, the same placement of
``eps`` (added to the square root) and of weight decay (added to the gradient, L2
style, except ``adamw``, which decays the parameters directly).

Shared behaviour:

* ``step`` updates ``params`` in place and never touches ``grads``. It reads
  ``self.learning_rate`` at every step, so a schedule may change it between steps.
* Parameters keep their dtype: state is allocated with the parameters' dtype and
  shape, lazily on the first step, and every scalar is a Python float.
* Work happens in preallocated buffers (``out=``); a step allocates no arrays.
* Optional gradient clipping, applied to a copy before weight decay:
  ``clip_value`` clamps every element to ``[-clip_value, clip_value]``, then
  ``clip_norm`` rescales all gradients together when their global L2 norm exceeds
  it, by ``clip_norm / (norm + 1e-6)`` (``torch.nn.utils.clip_grad_norm_``).
* ``state_dict()`` returns ``{"step": int64 array, "<buffer>.<i>": array, ...}``
  (``i`` the parameter's position); ``load_state_dict`` validates names, indices and
  shapes, and resuming from it continues bit for bit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from attrs import define, field, validators

from npframe import Optimizer
from npframe_builtins._numeric import sum_of_products

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Momentum", "RMSprop"]

# torch.nn.utils.clip_grad_norm_ adds this to the norm before dividing.
_CLIP_NORM_EPS = 1e-6


def _learning_rate(default: float) -> Any:
    return field(default=default, converter=float, validator=validators.ge(0.0))


def _nonnegative(default: float) -> Any:
    return field(default=default, converter=float, validator=validators.ge(0.0))


def _unit_interval(default: float) -> Any:
    """A coefficient in ``[0, 1)`` (Adam's betas)."""
    return field(default=default, converter=float,
                 validator=[validators.ge(0.0), validators.lt(1.0)])


def _flag(default: bool) -> Any:
    return field(default=default, validator=validators.instance_of(bool))


def _optional_positive(value: Any) -> float | None:
    return None if value is None else float(value)


def _clip() -> Any:
    return field(default=None, converter=_optional_positive,
                 validator=validators.optional(validators.gt(0.0)))


@define
class _GradientPreprocessing(Optimizer):
    """Scratch buffers plus clipping and L2 weight decay, on copies of the gradients."""

    _tmp: list[np.ndarray] = field(factory=list, init=False, repr=False, eq=False)
    _work: list[np.ndarray] = field(factory=list, init=False, repr=False, eq=False)

    #: L2 weight decay added to the gradient (AdamW overrides this with 0.0).
    @property
    def _l2_decay(self) -> float:
        return self.weight_decay

    def _scratch(self, params: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One buffer per parameter for intermediate results; (re)made when shapes change."""
        tmp = self._tmp
        if len(tmp) != len(params) or any(t.shape != p.shape or t.dtype != p.dtype
                                          for t, p in zip(tmp, params, strict=True)):
            self._tmp = tmp = [np.empty_like(p) for p in params]
            self._work = []
        return tmp

    def _preprocess(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
                    ) -> Sequence[np.ndarray]:
        """The gradients the update rule sees: clipped, plus L2 decay; ``grads`` untouched."""
        if len(grads) != len(params):
            msg = (
                f"{type(self).__name__}.step: got {len(params)} parameters but "
                f"{len(grads)} gradients; pass one gradient per parameter"
            )
            raise ValueError(msg)
        clip_value, clip_norm, decay = self.clip_value, self.clip_norm, self._l2_decay
        if clip_value is None and clip_norm is None and not decay:
            return grads
        if len(self._work) != len(params):
            self._work = [np.empty_like(p) for p in params]
        work, out = grads, self._work
        if clip_value is not None:
            for g, w in zip(work, out, strict=True):
                np.clip(g, -clip_value, clip_value, out=w)
            work = out
        if clip_norm is not None:
            total = math.sqrt(sum(sum_of_products(g, g) for g in work))
            coef = clip_norm / (total + _CLIP_NORM_EPS)
            if coef < 1.0:
                for g, w in zip(work, out, strict=True):
                    np.multiply(g, coef, out=w)
                work = out
        if decay:
            for p, g, w, tmp in zip(params, work, out, self._tmp, strict=True):
                np.multiply(p, decay, out=tmp)
                np.add(g, tmp, out=w)
            work = out
        return work


@define
class SGD(_GradientPreprocessing):
    """Plain gradient descent: ``p -= learning_rate * g``. Stateless.

    ``weight_decay`` adds ``weight_decay * p`` to the gradient first (PyTorch's SGD
    with ``momentum=0``).
    """

    learning_rate: float = _learning_rate(0.01)
    weight_decay: float = _nonnegative(0.0)
    clip_norm: float | None = _clip()
    clip_value: float | None = _clip()

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        lr = self.learning_rate
        tmps = self._scratch(params)
        grads = self._preprocess(params, grads)
        for p, g, tmp in zip(params, grads, tmps, strict=True):
            np.multiply(g, lr, out=tmp)
            p -= tmp

    def step_flat(self, params, grads, flat_params, flat_grads) -> None:
        """Without clipping or weight decay the update is ``p -= lr * g`` for every
        element alike: two operations over the flat buffers (``g *= lr; p -= g``, the
        same arithmetic as ``step``, bit for bit) instead of two per parameter."""
        if (type(self).step is not SGD.step or self.weight_decay
                or self.clip_norm is not None or self.clip_value is not None):
            self.step(params, grads)
            return
        np.multiply(flat_grads, self.learning_rate, out=flat_grads)
        np.subtract(flat_params, flat_grads, out=flat_params)


_KEY = re.compile(r"^(?P<name>[a-z_]+)\.(?P<index>0|[1-9][0-9]*)$")


@define
class _StatefulOptimizer(_GradientPreprocessing):
    """Step counter plus per-parameter buffers, created lazily and saved by name."""

    _t: int = field(default=0, init=False, repr=False, eq=False)
    _buffers: dict[str, list[np.ndarray]] = field(factory=dict, init=False, repr=False,
                                                  eq=False)

    def _buffer_names(self) -> tuple[str, ...]:
        """The per-parameter state this configuration keeps, in a fixed order."""
        raise NotImplementedError

    def _initial_value(self, name: str) -> float:
        return 0.0

    def _update(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
                tmps: list[np.ndarray]) -> None:
        """Apply step ``self._t`` (already incremented, so 1 on the first step)."""
        raise NotImplementedError

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        tmps = self._scratch(params)
        self._ensure_state(params)
        grads = self._preprocess(params, grads)
        self._t += 1
        self._update(params, grads, tmps)

    def _ensure_state(self, params: Sequence[np.ndarray]) -> None:
        names = self._buffer_names()
        if not self._buffers:
            self._buffers = {name: [np.full_like(p, self._initial_value(name)) for p in params]
                             for name in names}
            return
        reference = self._buffers[names[0]]
        if len(reference) != len(params) or any(
                b.shape != p.shape for b, p in zip(reference, params, strict=True)):
            have = [b.shape for b in reference]
            got = [p.shape for p in params]
            msg = (
                f"{type(self).__name__}.step: the optimizer state is for parameters of "
                f"shapes {have}, but step() got {got}; use one optimizer per network"
            )
            raise ValueError(msg)
        for name in names:
            buffers = self._buffers[name]
            for i, (b, p) in enumerate(zip(buffers, params, strict=True)):
                if b.dtype != p.dtype:  # only after load_state_dict from another dtype
                    buffers[i] = b.astype(p.dtype)

    # -- persistence -------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """``{"step": ..., "<buffer>.<i>": ...}``: copies, plain numeric arrays."""
        state = {"step": np.array(self._t, dtype=np.int64)}
        if self._buffers:
            for name in self._buffer_names():
                for i, b in enumerate(self._buffers[name]):
                    state[f"{name}.{i}"] = b.copy()
        return state

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore what ``state_dict`` returned; everything is checked before anything changes."""
        where = f"{type(self).__name__}.load_state_dict"
        names = self._buffer_names()
        expected = "'step' and " + ", ".join(f"'{n}.<i>'" for n in names)
        if not isinstance(state, Mapping):
            raise ValueError(f"{where}: expected a mapping of names to arrays, "
                             f"got {type(state).__name__}")
        if "step" not in state:
            raise ValueError(f"{where}: missing 'step'; expected {expected}")
        step = np.asarray(state["step"])
        if (step.ndim != 0 or not np.issubdtype(step.dtype, np.number)
                or not float(step).is_integer() or float(step) < 0):
            raise ValueError(f"{where}: 'step' must be an integer >= 0 (got {state['step']!r})")
        t = int(step)
        found: dict[str, dict[int, np.ndarray]] = {}
        for key, value in state.items():
            if key == "step":
                continue
            match = _KEY.match(key) if isinstance(key, str) else None
            if match is None or match["name"] not in names:
                msg = (
                    f"{where}: unexpected key {key!r} for {self!r}; expected {expected}; "
                    "was this state saved by a differently configured optimizer?"
                )
                raise ValueError(msg)
            array = np.asarray(value)
            if not np.issubdtype(array.dtype, np.floating):
                raise ValueError(f"{where}: {key!r} must be a float array (got {array.dtype})")
            found.setdefault(match["name"], {})[int(match["index"])] = array
        if t == 0:
            if found:
                raise ValueError(f"{where}: 'step' is 0 but buffers were given; "
                                 "state before the first step has no buffers")
            self._t, self._buffers = 0, {}
            return
        counts = {name: len(found.get(name, {})) for name in names}
        n = max(counts.values())
        for name in names:
            missing = [f"{name}.{i}" for i in range(n) if i not in found.get(name, {})]
            if n == 0 or missing:
                what = ", ".join(repr(m) for m in missing) or f"'{name}.0'"
                raise ValueError(f"{where}: the state at step {t} lacks {what}; "
                                 f"expected {expected}")
        for i in range(n):
            shapes = {found[name][i].shape for name in names}
            if len(shapes) > 1:
                detail = ", ".join(f"{name}.{i}: {found[name][i].shape}" for name in names)
                raise ValueError(f"{where}: parameter {i}'s buffers disagree in shape ({detail})")
        self._t = t
        self._buffers = {name: [np.array(found[name][i], copy=True) for i in range(n)]
                         for name in names}


@define
class Momentum(_StatefulOptimizer):
    """SGD with momentum, as ``torch.optim.SGD`` (with ``dampening`` and ``nesterov``).

    ``g += weight_decay * p``; ``b = g`` on the first step, then
    ``b = momentum * b + (1 - dampening) * g``; the update direction is ``b``, or
    ``g + momentum * b`` with ``nesterov``; ``p -= learning_rate * direction``.
    """

    learning_rate: float = _learning_rate(0.01)
    momentum: float = _nonnegative(0.9)
    dampening: float = field(default=0.0, converter=float,
                             validator=[validators.ge(0.0), validators.le(1.0)])
    nesterov: bool = _flag(False)
    weight_decay: float = _nonnegative(0.0)
    clip_norm: float | None = _clip()
    clip_value: float | None = _clip()

    def __attrs_post_init__(self) -> None:
        if self.nesterov and (self.momentum <= 0.0 or self.dampening != 0.0):
            msg = (
                "nesterov momentum requires momentum > 0 and dampening = 0 "
                f"(got momentum={self.momentum}, dampening={self.dampening})"
            )
            raise ValueError(msg)

    def _buffer_names(self):
        return ("momentum",)

    def _update(self, params, grads, tmps):
        lr, mu, damp = self.learning_rate, self.momentum, 1.0 - self.dampening
        for p, g, b, tmp in zip(params, grads, self._buffers["momentum"], tmps, strict=True):
            if self._t == 1:
                np.copyto(b, g)
            else:
                b *= mu
                np.multiply(g, damp, out=tmp)
                b += tmp
            if self.nesterov:
                np.multiply(b, mu, out=tmp)
                tmp += g
                tmp *= lr
            else:
                np.multiply(b, lr, out=tmp)
            p -= tmp


@define
class _AdamBase(_StatefulOptimizer):
    """The update shared by Adam and AdamW; they differ in where weight decay goes."""

    #: AdamW decays the parameters directly instead of adding to the gradient.
    _decoupled = False

    @property
    def _l2_decay(self) -> float:
        return 0.0 if self._decoupled else self.weight_decay

    def _buffer_names(self):
        return ("m", "v", "v_max") if self.amsgrad else ("m", "v")

    def _update(self, params, grads, tmps):
        lr, b1, b2, t = self.learning_rate, self.beta1, self.beta2, self._t
        step_size = lr / (1.0 - b1**t)
        bias_correction2_sqrt = math.sqrt(1.0 - b2**t)
        decay = 1.0 - lr * self.weight_decay if self._decoupled else 1.0
        buffers = self._buffers
        v_max = buffers["v_max"] if self.amsgrad else buffers["v"]
        for p, g, m, v, vm, tmp in zip(params, grads, buffers["m"], buffers["v"], v_max, tmps,
                                       strict=True):
            if decay != 1.0:
                p *= decay
            m *= b1
            np.multiply(g, 1.0 - b1, out=tmp)
            m += tmp
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - b2
            v += tmp
            if self.amsgrad:
                np.maximum(vm, v, out=vm)
            np.sqrt(vm, out=tmp)
            tmp /= bias_correction2_sqrt
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp


@define
class Adam(_AdamBase):
    """Adam (Kingma & Ba 2014) as ``torch.optim.Adam``.

    ``g += weight_decay * p``; ``m = beta1 m + (1 - beta1) g``;
    ``v = beta2 v + (1 - beta2) g**2``; with ``amsgrad``, ``v_max = max(v_max, v)``
    replaces ``v`` below (the running maximum of the raw ``v``, as PyTorch computes
    it); ``p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``.
    """

    learning_rate: float = _learning_rate(1e-3)
    beta1: float = _unit_interval(0.9)
    beta2: float = _unit_interval(0.999)
    eps: float = _nonnegative(1e-8)
    weight_decay: float = _nonnegative(0.0)
    amsgrad: bool = _flag(False)
    clip_norm: float | None = _clip()
    clip_value: float | None = _clip()


@define
class AdamW(_AdamBase):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), as ``torch.optim.AdamW``.

    ``p *= 1 - learning_rate * weight_decay`` first; then Adam's update, which sees
    the raw gradient. The default ``weight_decay`` is PyTorch's 0.01.
    """

    learning_rate: float = _learning_rate(1e-3)
    beta1: float = _unit_interval(0.9)
    beta2: float = _unit_interval(0.999)
    eps: float = _nonnegative(1e-8)
    weight_decay: float = _nonnegative(0.01)
    amsgrad: bool = _flag(False)
    clip_norm: float | None = _clip()
    clip_value: float | None = _clip()

    _decoupled = True


@define
class RMSprop(_StatefulOptimizer):
    """RMSprop (Hinton), as ``torch.optim.RMSprop``.

    ``g += weight_decay * p``; ``square_avg = alpha square_avg + (1 - alpha) g**2``;
    with ``centered``, ``grad_avg = alpha grad_avg + (1 - alpha) g`` and the
    denominator uses ``square_avg - grad_avg**2`` (clamped at 0 against rounding);
    ``d = sqrt(...) + eps``; with ``momentum > 0``, ``b = momentum b + g / d`` and
    ``p -= lr b``, else ``p -= lr g / d``.
    """

    learning_rate: float = _learning_rate(1e-2)
    alpha: float = field(default=0.99, converter=float,
                         validator=[validators.ge(0.0), validators.le(1.0)])
    eps: float = _nonnegative(1e-8)
    weight_decay: float = _nonnegative(0.0)
    momentum: float = _nonnegative(0.0)
    centered: bool = _flag(False)
    clip_norm: float | None = _clip()
    clip_value: float | None = _clip()

    def _buffer_names(self):
        names = ("square_avg",)
        if self.momentum > 0.0:
            names += ("momentum",)
        if self.centered:
            names += ("grad_avg",)
        return names

    def _update(self, params, grads, tmps):
        lr, alpha, mu = self.learning_rate, self.alpha, self.momentum
        buffers = self._buffers
        n = len(params)
        moms = buffers["momentum"] if mu > 0.0 else [None] * n
        gavgs = buffers["grad_avg"] if self.centered else [None] * n
        for p, g, sq, b, ga, tmp in zip(params, grads, buffers["square_avg"], moms, gavgs, tmps,
                                        strict=True):
            sq *= alpha
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - alpha
            sq += tmp
            if ga is not None:
                ga *= alpha
                np.multiply(g, 1.0 - alpha, out=tmp)
                ga += tmp
                np.multiply(ga, ga, out=tmp)
                np.subtract(sq, tmp, out=tmp)
                np.maximum(tmp, 0.0, out=tmp)
                np.sqrt(tmp, out=tmp)
            else:
                np.sqrt(sq, out=tmp)
            tmp += self.eps
            np.divide(g, tmp, out=tmp)
            if b is not None:
                b *= mu
                b += tmp
                np.multiply(b, lr, out=tmp)
            else:
                tmp *= lr
            p -= tmp


@define
class Adagrad(_StatefulOptimizer):
    """Adagrad (Duchi et al. 2011), as ``torch.optim.Adagrad``.

    ``lr_t = learning_rate / (1 + (t - 1) lr_decay)``; ``g += weight_decay * p``;
    ``sum += g**2`` (``sum`` starts at ``initial_accumulator_value``);
    ``p -= lr_t g / (sqrt(sum) + eps)``.
    """

    learning_rate: float = _learning_rate(1e-2)
    lr_decay: float = _nonnegative(0.0)
    weight_decay: float = _nonnegative(0.0)
    initial_accumulator_value: float = _nonnegative(0.0)
    eps: float = _nonnegative(1e-10)
    clip_norm: float | None = _clip()
    clip_value: float | None = _clip()

    def _buffer_names(self):
        return ("sum",)

    def _initial_value(self, name):
        return self.initial_accumulator_value

    def _update(self, params, grads, tmps):
        lr = self.learning_rate / (1.0 + (self._t - 1) * self.lr_decay)
        for p, g, s, tmp in zip(params, grads, self._buffers["sum"], tmps, strict=True):
            np.multiply(g, g, out=tmp)
            s += tmp
            np.sqrt(s, out=tmp)
            tmp += self.eps
            np.divide(g, tmp, out=tmp)
            tmp *= lr
            p -= tmp


REGISTRY = [
    ("optimizer", "sgd", SGD),
    ("optimizer", "momentum", Momentum),
    ("optimizer", "adam", Adam),
    ("optimizer", "adamw", AdamW),
    ("optimizer", "rmsprop", RMSprop),
    ("optimizer", "adagrad", Adagrad),
]
