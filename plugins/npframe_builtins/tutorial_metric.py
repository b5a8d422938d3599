"""The tutorial's printed loss as a metric: ``metrics = ["tutorial_loss"]`` in a spec."""

from __future__ import annotations

from attrs import frozen

from npframe import Metric
from npframe_builtins.tutorial import tutorial_metric

__all__ = ["TutorialLoss"]


@frozen
class TutorialLoss(Metric):
    """``mean_i ||0.5 * (y_pred_i - y_i)**2||_2``: what the tutorial prints as its loss.

    The mean over samples of the L2 norm, over outputs, of half the squared errors.
    npframe reports metrics on the raw target scale; the tutorial's numbers are on its
    standardized scale, which is what ``npframe_builtins.tutorial.parity_network`` trains on.
    """

    greater_is_better = False

    def __call__(self, y_true, y_pred):
        return tutorial_metric(y_true, y_pred)


REGISTRY = [("metric", "tutorial_loss", TutorialLoss)]
