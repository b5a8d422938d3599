"""Loss curves to PNG; matplotlib stays optional."""

from __future__ import annotations

import struct
import sys

import pytest

from npframe.callbacks import History
from npframe.plot import EXTRA_HINT, plot_history, require_matplotlib


def png_size(path) -> tuple[int, int]:
    """Width and height from the PNG signature and IHDR chunk."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def history(n: int = 30, val: bool = True) -> History:
    h = History()
    for epoch in range(n):
        logs = {"loss": 1.0 / (epoch + 1)}
        if val:
            logs["val_loss"] = 1.2 / (epoch + 1)
        h.record(epoch, logs)
    return h


def test_writes_a_png_of_the_requested_size(tmp_path):
    path = plot_history(history(), tmp_path / "loss.png", title="net")
    assert path == tmp_path / "loss.png"
    assert png_size(path) == (800, 500)
    assert png_size(plot_history(history(val=False), tmp_path / "s.png", size=(320, 200))) == (
        320, 200)


def test_the_image_shows_both_curves(tmp_path):
    import matplotlib.image

    blank = plot_history(history(3, val=False), tmp_path / "a.png", log_scale=False)
    both = plot_history(history(3), tmp_path / "b.png", log_scale=False)
    pixels_a = matplotlib.image.imread(blank)
    pixels_b = matplotlib.image.imread(both)
    assert pixels_a.shape == pixels_b.shape == (500, 800, 4)
    # the validation curve and its legend entry draw pixels the single curve does not
    assert (abs(pixels_a - pixels_b) > 0.1).any(axis=-1).sum() > 500


def test_bad_requests(tmp_path):
    with pytest.raises(ValueError, match=r"loss\.jpg: plots are written as PNG"):
        plot_history(history(), tmp_path / "loss.jpg")
    with pytest.raises(ValueError, match="nothing to plot"):
        plot_history(History(), tmp_path / "loss.png")


def test_missing_matplotlib_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError) as info:
        require_matplotlib()
    assert EXTRA_HINT in str(info.value)
    assert EXTRA_HINT == 'pip install "npframe[plot]"'
    with pytest.raises(ImportError, match=r"npframe\[plot\]"):
        plot_history(history(), tmp_path / "loss.png")
    assert not (tmp_path / "loss.png").exists()


def test_importing_npframe_does_not_import_matplotlib():
    import subprocess

    code = "import npframe, npframe.plot, npframe.cli, sys; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "False"
