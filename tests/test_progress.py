"""ProgressBar: plain periodic lines off a terminal, a tqdm bar on one, fit(verbose=...)."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

import npframe
from npframe.callbacks import Callback
from npframe.progress import ProgressBar, format_duration, format_logs

LINE = re.compile(
    r"^epoch (\d+)/(\d+)  loss=\S+( val_loss=\S+)?  \[[\d.]+ epoch/s, (\S+ left|\S+ total)\]$"
)


@pytest.fixture
def small():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = X @ np.array([[1.0], [-2.0]])
    spec = {"input": 2, "seed": 1, "layers": [{"units": 1, "activation": "linear"}],
            "optimizer": {"name": "sgd", "learning_rate": 0.1}}  # fits in a few full batches
    return npframe.Network.from_spec(spec), X, y


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_off_a_terminal_it_prints_the_first_and_last_epoch_only(small):
    net, X, y = small
    out = io.StringIO()
    net.fit(X, y, epochs=30, callbacks=[ProgressBar(file=out, interval=3600)])
    got = lines(out)
    assert len(got) == 2, got
    first, last = (LINE.match(line) for line in got)
    assert first and first.group(1, 2) == ("1", "30") and first.group(4).endswith("left")
    assert last and last.group(1, 2) == ("30", "30") and last.group(4).endswith("total")
    assert "\r" not in out.getvalue()  # no bar redraws in logs


def test_interval_zero_prints_every_epoch_with_validation_loss(small):
    net, X, y = small
    out = io.StringIO()
    net.fit(X, y, epochs=5, validation_split=0.25, callbacks=[ProgressBar(file=out, interval=0)])
    got = lines(out)
    assert [LINE.match(line).group(1) for line in got] == ["1", "2", "3", "4", "5"]
    assert all("val_loss=" in line for line in got)


def test_a_stopped_run_still_prints_where_it_stopped(small):
    net, X, y = small

    class StopAt(Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 6:
                self.network.stop_training = True

    out = io.StringIO()
    net.fit(X, y, epochs=100, callbacks=[ProgressBar(file=out, interval=3600), StopAt()])
    assert [LINE.match(line).group(1) for line in lines(out)] == ["1", "7"]


def test_on_a_terminal_it_draws_a_tqdm_bar(small):
    net, X, y = small
    out = FakeTerminal()
    net.fit(X, y, epochs=20, validation_split=0.25, callbacks=[ProgressBar(file=out)])
    text = out.getvalue()
    assert "training: 100%" in text
    assert "20/20" in text
    assert "epoch/s" in text  # tqdm's rate
    assert re.search(r"loss=\S+ val_loss=\S+", text)
    assert "\r" in text  # redrawn in place, not printed line by line


def test_force_bar_overrides_the_terminal_check(small):
    net, X, y = small
    out = FakeTerminal()
    net.fit(X, y, epochs=3, callbacks=[ProgressBar(file=out, force_bar=False, interval=0)])
    assert len(lines(out)) == 3 and all(LINE.match(line) for line in lines(out))


def test_fit_verbose_reports_on_stderr_and_quiet_by_default(small, capsys):
    net, X, y = small
    net.fit(X, y, epochs=4)
    assert capsys.readouterr().err == ""
    net.fit(X, y, epochs=4, verbose=True)
    err = capsys.readouterr().err
    assert LINE.match(err.splitlines()[-1]).group(1, 2) == ("4", "4")


def test_zero_epochs_print_nothing(small):
    net, X, y = small
    out = io.StringIO()
    net.fit(X, y, epochs=0, callbacks=[ProgressBar(file=out)])
    assert out.getvalue() == ""


def test_helpers():
    assert format_logs({"loss": 0.000123456, "val_loss": 12.5}) == "loss=0.0001235 val_loss=12.5"
    assert [format_duration(s) for s in (0.4, 42, 185, 7260, float("inf"))] == [
        "0s", "42s", "3m05s", "2h01m", "?"]
    with pytest.raises(ValueError, match="interval must be >= 0"):
        ProgressBar(interval=-1)
