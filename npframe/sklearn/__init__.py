"""scikit-learn estimators on npframe networks: pipelines, grid searches, cross-validation.

``NpframeClassifier`` and ``NpframeRegressor`` follow scikit-learn's developer
conventions (parameters stored as given, validation in ``fit``, learned attributes
ending in ``_``) and pass its ``parametrize_with_checks`` suite. They need the
``sklearn`` extra: ``pip install "npframe[sklearn]"``; the core never imports
scikit-learn. ``docs/sklearn.md`` has the details.
"""

from __future__ import annotations

#: The oldest scikit-learn with ``validate_data`` and ``__sklearn_tags__``.
MIN_SKLEARN = (1, 6)
_INSTALL = 'pip install "npframe[sklearn]"'

try:
    import sklearn
except ImportError as exc:
    msg = f"npframe.sklearn needs scikit-learn, which is not installed: {_INSTALL}"
    raise ImportError(msg, name=exc.name) from exc


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split(".")[:2]:
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


if _version(sklearn.__version__) < MIN_SKLEARN:  # pragma: no cover
    msg = (f"npframe.sklearn needs scikit-learn >= {'.'.join(map(str, MIN_SKLEARN))} "
           f"(installed: {sklearn.__version__}): {_INSTALL}")
    raise ImportError(msg)

from npframe.sklearn._base import ConvergenceWarning  # noqa: E402
from npframe.sklearn._classifier import NpframeClassifier  # noqa: E402
from npframe.sklearn._regressor import NpframeRegressor  # noqa: E402

__all__ = ["ConvergenceWarning", "NpframeClassifier", "NpframeRegressor"]
