"""Loss curves to PNG. matplotlib is an optional extra: ``pip install "npframe[plot]"``.

matplotlib is imported only when a plot is drawn, and only its object-oriented API is
used (a ``Figure`` rendered by the Agg canvas), so plotting never touches pyplot's
global state or needs a display.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from npframe.callbacks import History

__all__ = ["EXTRA_HINT", "plot_history", "require_matplotlib"]

#: How to get plotting when matplotlib is missing.
EXTRA_HINT = 'pip install "npframe[plot]"'


def require_matplotlib() -> Any:
    """The ``matplotlib`` module, or ``ImportError`` naming the extra that provides it."""
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError as exc:
        msg = (
            f"plotting needs matplotlib, which is not installed ({exc}); "
            f"install the plot extra: {EXTRA_HINT}"
        )
        raise ImportError(msg) from None
    return matplotlib


def plot_history(
    history: History,
    path: str | os.PathLike,
    *,
    title: str | None = None,
    size: tuple[int, int] = (800, 500),
    dpi: int = 100,
    log_scale: bool | None = None,
) -> Path:
    """Draw training (and validation) loss per epoch into a PNG of ``size`` pixels.

    ``log_scale`` defaults to a log y axis whenever every loss is positive, since
    losses usually fall over orders of magnitude. Returns the path written.
    """
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    if path.suffix.lower() != ".png":
        msg = f"{path}: plots are written as PNG; use a file name ending in .png"
        raise ValueError(msg)
    if not history.loss:
        raise ValueError(f"{path}: nothing to plot: the history holds no epochs")
    width, height = size
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    epochs = [e + 1 for e in history.epochs] or list(range(1, len(history.loss) + 1))
    ax.plot(epochs, history.loss, label="training loss")
    if history.val_loss:
        ax.plot(epochs[: len(history.val_loss)], history.val_loss, label="validation loss")
    values = [*history.loss, *history.val_loss]
    if log_scale is None:
        log_scale = all(v > 0 for v in values)
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if title:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=dpi)
    return path
