"""``NpframeRegressor``: one or several numeric targets, standardized by default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from npframe.errors import SpecError
from npframe.network import Network
from npframe.sklearn._base import _FLOAT_DTYPES, NpframeEstimator
from npframe.sklearn._spec import Output, Plan

__all__ = ["NpframeRegressor"]


class NpframeRegressor(RegressorMixin, NpframeEstimator):
    """A feed-forward npframe network as a scikit-learn regressor.

    The output layer is linear with one unit per target column, the loss ``mse``
    (the ``spec`` may name another regression loss). The targets are standardized by
    default: the network learns ``(y - mean) / std`` (statistics of the training
    targets, weighted by ``sample_weight``) and ``predict`` answers on y's own scale,
    so targets such as prices train without a ``TransformedTargetRegressor``.
    Inputs are used as given: put a ``StandardScaler`` before it in a pipeline (or
    set ``standardize=True`` to scale both).

    Parameters are those of ``NpframeClassifier``, except:

    standardize : bool or str, default=None
        What the network standardizes: ``"targets"``, ``"inputs"``, True (both) or
        False (neither); the spec's, else ``"targets"``.

    Attributes are those of ``NpframeClassifier`` without ``classes_``, plus
    ``n_outputs_`` (the number of target columns).
    """

    _default_standardize = "targets"
    _y_checks: ClassVar[Mapping[str, Any]] = {"multi_output": True, "y_numeric": True}

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> NpframeRegressor:
        """One epoch over ``(X, y)``, continuing the network (built on the first call).

        The target statistics come from the first call's ``y``.
        """
        return self._train(X, y, sample_weight, incremental=True)

    def predict(self, X: Any) -> np.ndarray:
        """``(n_samples,)`` for one target, ``(n_samples, n_outputs_)`` for several."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES)
        out = self.network_.predict(X)
        return out.ravel() if out.shape[1] == 1 else out

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    # -- targets ---------------------------------------------------------------------------
    @staticmethod
    def _outputs(y: np.ndarray, where: str) -> int:
        n = 1 if y.ndim == 1 else y.shape[1]
        if n < 1:
            raise ValueError(f"{where}: y has no target columns")
        return n

    def _first_targets(self, y: Any, classes: Any) -> tuple[Any, Any]:
        return y, self._outputs(y, "fit")

    def _more_targets(self, y: Any, incremental: bool) -> Any:
        where = "partial_fit" if incremental else "fit"
        n = self._outputs(y, where)
        if n != self.n_outputs_:
            msg = (f"{where}: y has {n} target column(s), but the regressor was fitted "
                   f"with {self.n_outputs_}")
            raise ValueError(msg)
        return y

    def _output(self, user: Mapping[str, Any], info: Any) -> Output:
        return Output(units=info, activation="linear", loss="mse")

    def _check_loss(self, loss: Any, plan: Plan) -> None:
        if loss.classification:
            msg = (f"NpframeRegressor needs a regression loss such as mse (got "
                   f"{plan.spec['loss']!r}, a classification loss); for class labels "
                   "use NpframeClassifier")
            raise SpecError(msg, "spec.loss")

    def _adopt(self, net: Network, info: Any) -> None:
        pass

    def _learned(self, net: Network, info: Any) -> None:
        self.n_outputs_ = info

    def _info(self) -> Any:
        return self.n_outputs_
