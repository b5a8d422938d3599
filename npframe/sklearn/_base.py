"""What both estimators share: parameters, building the network, training, pickling.

The estimator is a thin scikit-learn face on an ``npframe.Network``: scikit-learn
validates the arrays and keeps ``n_features_in_`` / ``feature_names_in_``; the network
does everything else (labels, target scaling, sample weights, training, resuming). A
fitted estimator pickles its network as npframe's own model bytes
(``Network.to_bytes``), read back with every check ``npframe.load`` makes, so no
pickled npframe object ever crosses a process or file boundary.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.utils.validation import validate_data

from npframe import registry
from npframe.errors import ConvergenceWarning as NpframeConvergenceWarning
from npframe.errors import SpecError
from npframe.network import Network, from_bytes
from npframe.sklearn._spec import Output, Plan, plan_spec, read_user_spec, resolve_seed
from npframe.spec import NetworkSpec

__all__ = ["NpframeEstimator"]

#: MLPClassifier's and MLPRegressor's ``batch_size="auto"``: min(200, n_samples).
AUTO_BATCH = 200
#: Input dtypes kept as they are (anything else becomes float64); the network then
#: casts to its spec's dtype.
_FLOAT_DTYPES = (np.float64, np.float32)
#: How a changed top-level spec key is named to the user.
_CHANGED = {
    "layers": "layers: hidden_layer_sizes, activation or the spec's layers and output",
    "optimizer": "optimizer: optimizer, learning_rate or the spec's optimizer",
    "standardize": "standardize",
}
#: The parameters that describe the network (the rest describe training).
_SPEC_PARAMS = ("hidden_layer_sizes", "activation", "optimizer", "learning_rate",
                "standardize", "random_state")


class NpframeEstimator(BaseEstimator):
    """Shared base of ``NpframeClassifier`` and ``NpframeRegressor`` (not for direct use).

    Subclasses say what the targets are: ``_first_targets`` (a fresh network),
    ``_more_targets`` (continuing one), ``_output`` (the output layer and loss the
    targets call for), ``_check_loss``, ``_adopt`` and ``_learned``.
    """

    #: ``standardize`` when neither the argument nor the spec sets it.
    _default_standardize: ClassVar[bool | str] = False
    #: Keyword arguments of ``validate_data`` for ``(X, y)``.
    _y_checks: ClassVar[Mapping[str, Any]] = {}
    # Learned in fit (absent before, as scikit-learn's conventions want).
    network_: Network
    loss_curve_: list[float]

    def __init__(
        self,
        hidden_layer_sizes: Any = None,
        *,
        activation: Any = None,
        optimizer: Any = None,
        learning_rate: float | None = None,
        epochs: int = 200,
        batch_size: int | str | None = "auto",
        shuffle: bool = True,
        standardize: bool | str | None = None,
        spec: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: bool | int = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.standardize = standardize
        self.spec = spec
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    # -- subclass hooks ------------------------------------------------------------------
    def _first_targets(self, y: Any, classes: Any) -> tuple[Any, Any]:
        """``(targets for Network.fit, info)``: ``info`` is what ``_output`` needs."""
        raise NotImplementedError

    def _more_targets(self, y: Any, incremental: bool) -> Any:
        raise NotImplementedError

    def _output(self, user: Mapping[str, Any], info: Any) -> Output:
        raise NotImplementedError

    def _check_loss(self, loss: Any, plan: Plan) -> None:
        """Refuse a loss of the other task (before the network is built)."""
        raise NotImplementedError

    def _adopt(self, net: Network, info: Any) -> None:
        """Prepare a freshly built network for the first ``fit``."""

    def _learned(self, net: Network, info: Any) -> None:
        """Set the task's learned attributes (``classes_``, ``n_outputs_``)."""
        raise NotImplementedError

    def _info(self) -> Any:
        """``info`` of the fitted estimator (what ``_first_targets`` returned)."""
        raise NotImplementedError

    # -- training ------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> NpframeEstimator:
        """Train for ``epochs`` epochs: a new network, or with ``warm_start`` the fitted one.

        ``sample_weight`` (one non-negative number per sample) makes the loss a
        weighted mean; a weight of k counts as k copies of the sample.
        """
        return self._train(X, y, sample_weight, incremental=False)

    def _train(self, X: Any, y: Any, sample_weight: Any, *, incremental: bool,
               classes: Any = None) -> NpframeEstimator:
        epochs = _check_settings(self)
        if incremental:
            epochs = 1  # partial_fit: one pass over the data, as scikit-learn's
        continuing = hasattr(self, "network_") and (incremental or self.warm_start)
        if not continuing:
            self._forget()  # a new network: a fit that fails leaves the estimator unfitted
        X, y = validate_data(self, X, y, reset=not continuing, dtype=_FLOAT_DTYPES,
                             **self._y_checks)
        if continuing:
            net = self.network_
            targets = self._more_targets(y, incremental)
            self._check_unchanged(net, incremental)
            info, curve = self._info(), list(self.loss_curve_)
        else:
            targets, info = self._first_targets(y, classes)
            user = read_user_spec(self.spec)
            seed = resolve_seed(self.random_state, user)
            plan = self._plan(user, info, X.shape[1], seed)
            self._check_loss(_component(plan, "loss"), plan)
            net = _build(plan)
            self._adopt(net, info)
            curve = []
        names = getattr(self, "feature_names_in_", None)
        with _as_sklearn_warnings():
            history = net.fit(
                X, targets, epochs=epochs, batch_size=_batch(self.batch_size, X.shape[0]),
                shuffle=bool(self.shuffle), sample_weight=sample_weight,
                feature_names=None if names is None else [str(n) for n in names],
                verbose=self.verbose)
        self.network_ = net
        self._learned(net, info)
        self.loss_curve_ = curve + list(history.loss)
        self.n_iter_ = net.epoch
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "network_")

    def _forget(self) -> None:
        """Drop everything learned (attributes ending in ``_``)."""
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)

    def _plan(self, user: Mapping[str, Any], info: Any, n_inputs: int,
              seed: int | None) -> Plan:
        params = {name: getattr(self, name) for name in _SPEC_PARAMS}
        return plan_spec(params, user, n_inputs=n_inputs, output=self._output(user, info),
                         standardize=self._default_standardize, seed=seed)

    def _check_unchanged(self, net: Network, incremental: bool) -> None:
        """Continuing is only continuing when the parameters still describe this network."""
        plan = self._plan(read_user_spec(self.spec), self._info(), net.n_inputs, None)
        try:
            wanted = NetworkSpec.from_mapping(plan.with_seed(net.spec.seed)).to_dict()
        except SpecError as exc:
            raise type(exc)(exc.reason, plan.origins.where(exc.path)) from None
        have = net.spec.to_dict()
        changed = sorted(k for k in set(wanted) | set(have) if wanted.get(k) != have.get(k))
        if changed:
            where = ", ".join(_CHANGED.get(k, f"spec.{k}") for k in changed)
            msg = (f"{'partial_fit' if incremental else 'warm_start'}: the "
                   f"parameters changed since the network was built ({where}); fit with "
                   "warm_start=False to build a new network")
            raise ValueError(msg)

    # -- pickling: the network travels as npframe's model bytes --------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        net = state.get("network_")
        if isinstance(net, Network):
            state = {**state, "network_": net.to_bytes()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        data = state.get("network_")
        if isinstance(data, bytes | bytearray):
            state = {**state, "network_": from_bytes(bytes(data))}
        super().__setstate__(state)


def _build(plan: Plan) -> Network:
    """The network of ``plan``; a spec error names the argument or spec entry behind it."""
    try:
        return Network.from_spec(plan.spec)
    except SpecError as exc:
        raise type(exc)(exc.reason, plan.origins.where(exc.path)) from None


def _component(plan: Plan, key: str) -> Any:
    """The component at spec ``key`` (as the network will build it)."""
    try:
        return registry.create(key, plan.spec[key], path=key)
    except SpecError as exc:
        raise type(exc)(exc.reason, plan.origins.where(exc.path)) from None


def _batch(batch_size: int | str | None, n_samples: int) -> int | None:
    if batch_size == "auto":
        return min(AUTO_BATCH, n_samples)
    return None if batch_size is None else int(batch_size)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _check_batch_size(value: Any) -> None:
    if value is None or (isinstance(value, str) and value == "auto"):
        return
    if not _is_int(value) or value < 1:
        msg = (f"batch_size: must be 'auto' (min(200, n_samples)), an int >= 1 or None "
               f"(full batch) (got {value!r})")
        raise ValueError(msg)


def _check_settings(est: NpframeEstimator) -> int:
    """Check the training arguments; return ``epochs``."""
    _check_batch_size(est.batch_size)
    if not _is_int(est.epochs) or est.epochs < 1:
        raise ValueError(f"epochs: must be an int >= 1 (got {est.epochs!r})")
    for name in ("shuffle", "warm_start"):
        value = getattr(est, name)
        if not isinstance(value, bool | np.bool_):
            raise ValueError(f"{name}: must be True or False (got {value!r})")
    if not (isinstance(est.verbose, bool | np.bool_) or (_is_int(est.verbose)
                                                         and est.verbose >= 0)):
        raise ValueError(f"verbose: must be True, False or an int >= 0 (got {est.verbose!r})")
    rate = est.learning_rate
    if rate is not None and (isinstance(rate, bool | np.bool_)
                             or not isinstance(rate, numbers.Real)
                             or not (math.isfinite(rate) and rate > 0)):
        raise ValueError(f"learning_rate: must be a number > 0 or None (got {rate!r})")
    return int(est.epochs)


class ConvergenceWarning(NpframeConvergenceWarning, SklearnConvergenceWarning):
    """npframe's ``ConvergenceWarning`` as the estimators emit it: also scikit-learn's,
    so the filters scikit-learn users already have (and its own checks) apply to it."""


@contextmanager
def _as_sklearn_warnings() -> Iterator[None]:
    """Emit the warnings of ``Network.fit`` once it returns, npframe's convergence
    warning as ``ConvergenceWarning`` above; the caller's filters decide as usual."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        category = (ConvergenceWarning if issubclass(w.category, NpframeConvergenceWarning)
                    else w.category)
        warnings.warn(category(str(w.message)), stacklevel=5)
