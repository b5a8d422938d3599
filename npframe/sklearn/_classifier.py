"""``NpframeClassifier``: class labels in, class probabilities and labels out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from npframe._names import listing
from npframe.errors import SpecError
from npframe.labels import as_labels, decode
from npframe.network import Network
from npframe.sklearn._base import _FLOAT_DTYPES, NpframeEstimator
from npframe.sklearn._spec import Output, Plan

__all__ = ["NpframeClassifier"]


def _bare_name(ref: Any) -> str | None:
    """``"binary_crossentropy"`` from ``"npframe:binary_crossentropy"`` or ``{"name": ...}``."""
    name = ref.get("name") if isinstance(ref, Mapping) else ref
    return name.rsplit(":", 1)[-1] if isinstance(name, str) else None


def _shown(labels: np.ndarray) -> str:
    return listing(map(repr, labels[:12].tolist())) + (", ..." if len(labels) > 12 else "")


class NpframeClassifier(ClassifierMixin, NpframeEstimator):
    """A feed-forward npframe network as a scikit-learn classifier.

    Two classes get one sigmoid output and ``binary_crossentropy``, more classes one
    softmax output per class and ``categorical_crossentropy`` (the ``spec`` may name
    another classification loss, and adjust the output layer with its ``output``
    table). Labels may be integers, strings or booleans; ``classes_`` holds them
    sorted. Inputs are used as given: put a ``StandardScaler`` before it in a
    pipeline (or set ``standardize="inputs"``).

    Parameters
    ----------
    hidden_layer_sizes : sequence of int or int, default=None
        Width of each hidden dense layer: ``(100,)`` unless ``spec`` has ``layers``.
    activation : str or mapping, default=None
        The hidden layers' registered activation (a name, or ``{"name": ..., params}``);
        ``"relu"`` when None.
    optimizer : str or mapping, default=None
        A registered optimizer: the spec's, else ``"adam"``.
    learning_rate : float, default=None
        The optimizer's ``learning_rate`` (its own default when None: 1e-3 for adam).
    epochs : int, default=200
        Passes over the data per ``fit`` (``partial_fit`` makes one).
    batch_size : int, "auto" or None, default="auto"
        Samples per gradient step; ``"auto"`` is ``min(200, n_samples)``, None the
        full batch.
    shuffle : bool, default=True
        Shuffle the samples every epoch (seeded).
    standardize : bool or str, default=None
        The network's own input scaling: ``"inputs"`` (or True); the spec's, else False.
    spec : mapping, str or path, default=None
        Everything else, as in a network spec (loss, initializer, dtype, metrics,
        schedule, ``layers`` of any registered type), without ``input`` and ``train``;
        ``output`` is the output layer's table without ``units``.
    random_state : int, RandomState, Generator or None, default=None
        The network's seed: an int is used as it is, a RandomState or Generator gives
        one draw, None the spec's seed or fresh entropy.
    warm_start : bool, default=False
        ``fit`` continues training the fitted network instead of building a new one.
    verbose : bool or int, default=False
        Show a progress bar while training.

    Attributes
    ----------
    network_ : npframe.Network
        The trained network (``network_.to_spec()`` is its spec, seed included).
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X had string column names.
    loss_curve_ : list of float
        Training loss per epoch, over every ``fit`` / ``partial_fit`` that continued.
    n_iter_ : int
        Epochs the network has been trained.
    """

    def partial_fit(self, X: Any, y: Any, classes: Any = None,
                    sample_weight: Any = None) -> NpframeClassifier:
        """One epoch over ``(X, y)``, continuing the network (built on the first call).

        ``classes`` (every label ``y`` may ever hold) is required on the first call,
        since one batch need not show them all.
        """
        fitted = hasattr(self, "network_")
        if not fitted and classes is None:
            msg = ("partial_fit: classes must be given on the first call (every label y "
                   "may hold)")
            raise ValueError(msg)
        if fitted and classes is not None:
            given = np.unique(as_labels(np.asarray(classes), "partial_fit classes"))
            if given.shape != self.classes_.shape or (given != self.classes_).any():
                msg = (f"partial_fit: classes ({_shown(given)}) differ from the classes of "
                       f"the first call ({_shown(self.classes_)})")
                raise ValueError(msg)
        return self._train(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(n_samples, n_classes)`` class probabilities, columns in ``classes_`` order."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES)
        p = self.network_.predict(X)
        return np.hstack([1.0 - p, p]) if p.shape[1] == 1 else p

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``; a probability of exactly 0 gives ``-inf``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sample."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES)
        return decode(self.network_.predict(X), self.classes_)

    # -- targets ---------------------------------------------------------------------------
    def _first_targets(self, y: Any, classes: Any) -> tuple[Any, Any]:
        where = "fit" if classes is None else "partial_fit"
        check_classification_targets(y)
        labels = as_labels(y, where)
        if classes is None:
            classes = np.unique(labels)
        else:
            classes = np.unique(as_labels(np.asarray(classes), "partial_fit classes"))
            extra = np.setdiff1d(labels, classes)
            if len(extra):
                msg = (f"partial_fit: y holds labels not in classes: {_shown(extra)} "
                       f"(classes: {_shown(classes)})")
                raise ValueError(msg)
        if len(classes) < 2:
            msg = (f"{where}: y holds one class ({_shown(classes)}); a classifier "
                   "needs at least two classes")
            raise ValueError(msg)
        return labels, classes

    def _more_targets(self, y: Any, incremental: bool) -> Any:
        where = "partial_fit" if incremental else "fit"
        check_classification_targets(y)
        labels = as_labels(y, where)
        extra = np.setdiff1d(labels, self.classes_)
        if len(extra):
            msg = (f"{where}: y holds labels the classifier was not fitted with: "
                   f"{_shown(extra)} (classes_: {_shown(self.classes_)})")
            raise ValueError(msg)
        if not incremental and len(np.unique(labels)) != len(self.classes_):
            msg = (f"warm_start: y must hold the classes of the first fit "
                   f"({_shown(self.classes_)}); it holds {_shown(np.unique(labels))}")
            raise ValueError(msg)
        return labels

    def _output(self, user: Mapping[str, Any], info: Any) -> Output:
        n_classes = len(info)
        loss = user.get("loss")
        name = _bare_name(loss)
        if name == "binary_crossentropy" and n_classes > 2:
            msg = (f"binary_crossentropy takes two classes, and y holds {n_classes}; use "
                   "categorical_crossentropy")
            raise SpecError(msg, "spec.loss")
        binary = n_classes == 2 and (loss is None or name == "binary_crossentropy")
        logits = isinstance(loss, Mapping) and loss.get("from_logits") is True
        activation = "linear" if logits else "sigmoid" if binary else "softmax"
        return Output(units=1 if binary else n_classes, activation=activation,
                      loss="binary_crossentropy" if binary else "categorical_crossentropy")

    def _check_loss(self, loss: Any, plan: Plan) -> None:
        if not loss.classification:
            msg = (f"NpframeClassifier needs a classification loss such as "
                   f"categorical_crossentropy (got {plan.spec['loss']!r}); for numeric "
                   "targets use NpframeRegressor")
            raise SpecError(msg, "spec.loss")

    def _adopt(self, net: Network, info: Any) -> None:
        net.classes = info  # every class, also those a first partial_fit batch lacks

    def _learned(self, net: Network, info: Any) -> None:
        self.classes_ = info

    def _info(self) -> Any:
        return self.classes_
