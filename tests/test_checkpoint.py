"""ModelCheckpoint: periodic and best-only saves during fit, through the safe save."""

from __future__ import annotations

import os

import numpy as np
import pytest

import npframe
from npframe import ModelCheckpoint


def make_spec(optimizer="sgd", metrics=()):
    return {
        "input": 3,
        "seed": 11,
        "standardize": True,
        "optimizer": optimizer,
        "metrics": list(metrics),
        "layers": [{"units": 6, "activation": "relu"}, {"units": 1, "activation": "linear"}],
    }


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=40)
    return X[:30], y[:30], X[30:], y[30:]


class WeightRecorder(npframe.Callback):
    """The weights after every epoch, to compare checkpoints against."""

    def __init__(self):
        self.weights = {}

    def on_epoch_end(self, epoch, logs):
        self.weights[epoch + 1] = self.network.get_weights()


def assert_weights_equal(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_every_k_epochs_with_epoch_in_the_name(data, tmp_path):
    X, y, *_ = data
    net = npframe.Network.from_spec(make_spec())
    recorder = WeightRecorder()
    ckpt = ModelCheckpoint(tmp_path / "ckpt-{epoch:02d}.npz", every=2)
    net.fit(X, y, epochs=5, batch_size=8, callbacks=[recorder, ckpt])

    assert sorted(os.listdir(tmp_path)) == ["ckpt-02.npz", "ckpt-04.npz"]
    assert ckpt.saved == [str(tmp_path / "ckpt-02.npz"), str(tmp_path / "ckpt-04.npz")]
    for epoch in (2, 4):
        loaded = npframe.load(tmp_path / f"ckpt-{epoch:02d}.npz")
        assert loaded.epoch == epoch
        assert_weights_equal(loaded.get_weights(), recorder.weights[epoch])


def test_cadence_uses_the_global_epoch_across_fit_calls(data, tmp_path):
    X, y, *_ = data
    net = npframe.Network.from_spec(make_spec())
    ckpt = ModelCheckpoint(tmp_path / "e{epoch}.npz", every=3)
    net.fit(X, y, epochs=2, callbacks=[ckpt])
    net.fit(X, y, epochs=5, callbacks=[ckpt])
    assert sorted(os.listdir(tmp_path)) == ["e3.npz", "e6.npz"]


def test_default_saves_every_epoch_to_a_fixed_path(data, tmp_path):
    X, y, *_ = data
    net = npframe.Network.from_spec(make_spec())
    ckpt = ModelCheckpoint(tmp_path / "last.npz")
    net.fit(X, y, epochs=3, callbacks=[ckpt])
    assert ckpt.saved == [str(tmp_path / "last.npz")] * 3
    assert os.listdir(tmp_path) == ["last.npz"]  # overwritten in place, no temporaries
    loaded = npframe.load(tmp_path / "last.npz")
    assert loaded.epoch == 3
    assert_weights_equal(loaded.get_weights(), net.get_weights())


def test_best_only_keeps_the_epoch_with_lowest_val_loss(data, tmp_path):
    X, y, Xv, yv = data
    # a large learning rate so that val_loss does not fall monotonically
    net = npframe.Network.from_spec(make_spec({"name": "sgd", "learning_rate": 0.1}))
    recorder = WeightRecorder()
    ckpt = ModelCheckpoint(tmp_path / "best.npz", save_best_only=True)
    history = net.fit(X, y, epochs=12, batch_size=4, validation_data=(Xv, yv),
                      callbacks=[recorder, ckpt])

    best_epoch = int(np.argmin(history.val_loss)) + 1
    assert ckpt.best == min(history.val_loss)
    improvements = [e + 1 for e, v in enumerate(history.val_loss)
                    if v < min(history.val_loss[:e], default=np.inf)]
    assert len(ckpt.saved) == len(improvements) < 12  # only improvements were written
    loaded = npframe.load(tmp_path / "best.npz")
    assert loaded.epoch == best_epoch
    assert_weights_equal(loaded.get_weights(), recorder.weights[best_epoch])


def _drive(ckpt, net, values, monitor="val_loss"):
    """Call the hook directly with chosen values, as fit would."""
    ckpt.set_network(net)
    ckpt.on_train_begin({})
    for epoch, value in enumerate(values):
        ckpt.on_epoch_end(epoch, {"loss": 1.0, monitor: value})


@pytest.mark.parametrize(("mode", "values", "saved_epochs", "best"), [
    ("min", [3.0, 2.0, 2.5, 1.0, 1.0, np.nan], [1, 2, 4], 1.0),
    ("max", [3.0, 2.0, 4.0, 4.0, 5.0], [1, 3, 5], 5.0),
    ("auto", [3.0, np.nan, 2.0, 2.5], [1, 3], 2.0),
])
def test_best_only_modes(tmp_path, mode, values, saved_epochs, best):
    net = npframe.Network.from_spec(make_spec())
    ckpt = ModelCheckpoint(tmp_path / "m{epoch}.npz", save_best_only=True, mode=mode)
    _drive(ckpt, net, values)
    assert ckpt.saved == [str(tmp_path / f"m{e}.npz") for e in saved_epochs]
    assert ckpt.best == best


def test_auto_mode_follows_the_metric_direction(tmp_path):
    assert npframe.registry.get("metric", "r2").greater_is_better
    net = npframe.Network.from_spec(make_spec(metrics=["r2", "mae"]))
    up = ModelCheckpoint(tmp_path / "r2-{epoch}.npz", save_best_only=True, monitor="val_r2")
    _drive(up, net, [0.1, 0.5, 0.3], monitor="val_r2")
    assert up.saved == [str(tmp_path / "r2-1.npz"), str(tmp_path / "r2-2.npz")]
    down = ModelCheckpoint(tmp_path / "mae-{epoch}.npz", save_best_only=True, monitor="mae")
    _drive(down, net, [0.5, 0.1, 0.3], monitor="mae")
    assert down.saved == [str(tmp_path / "mae-1.npz"), str(tmp_path / "mae-2.npz")]


def test_best_only_and_every_checks_only_every_kth_epoch(tmp_path):
    net = npframe.Network.from_spec(make_spec())
    ckpt = ModelCheckpoint(tmp_path / "m{epoch}.npz", every=2, save_best_only=True,
                           monitor="loss")
    ckpt.set_network(net)
    for epoch, value in enumerate([1.0, 2.0, 0.5, 0.7, 0.1, 0.05]):
        ckpt.on_epoch_end(epoch, {"loss": value})
    assert ckpt.saved == [str(tmp_path / "m2.npz"), str(tmp_path / "m4.npz"),
                          str(tmp_path / "m6.npz")]
    assert ckpt.best == 0.05


def test_logs_in_the_file_name(data, tmp_path):
    X, y, Xv, yv = data
    net = npframe.Network.from_spec(make_spec())
    history = net.fit(X, y, epochs=1, validation_data=(Xv, yv),
                      callbacks=[ModelCheckpoint(tmp_path / "{epoch}-{val_loss:.4f}.npz")])
    assert os.listdir(tmp_path) == [f"1-{history.val_loss[0]:.4f}.npz"]


def test_resume_from_a_checkpoint_equals_uninterrupted(data, tmp_path):
    X, y, *_ = data
    optimizer = "adam" if "adam" in npframe.registry.names("optimizer") else "sgd"
    spec = make_spec(optimizer)
    once = npframe.Network.from_spec(spec)
    once.fit(X, y, epochs=7, batch_size=8, callbacks=[ModelCheckpoint(tmp_path / "{epoch}.npz",
                                                                      every=3)])
    resumed = npframe.load(tmp_path / "3.npz")
    resumed.fit(X, y, epochs=4, batch_size=8)
    assert_weights_equal(resumed.get_weights(), once.get_weights())


def test_missing_monitor_is_a_clear_error(data, tmp_path):
    X, y, *_ = data
    net = npframe.Network.from_spec(make_spec())
    ckpt = ModelCheckpoint(tmp_path / "m.npz", save_best_only=True)
    with pytest.raises(ValueError, match=r"monitor 'val_loss' is not in the epoch's logs "
                                         r"\(available: loss\).*validation_data"):
        net.fit(X, y, epochs=1, callbacks=[ckpt])


def test_missing_folder_fails_before_training(data, tmp_path):
    X, y, *_ = data
    net = npframe.Network.from_spec(make_spec())
    before = net.get_weights()
    with pytest.raises(FileNotFoundError, match=r"folder '.*nowhere' does not exist"):
        net.fit(X, y, epochs=2, callbacks=[ModelCheckpoint(tmp_path / "nowhere" / "m.npz")])
    assert net.epoch == 0
    assert_weights_equal(net.get_weights(), before)
    assert not (tmp_path / "nowhere").exists()


def test_unknown_placeholder_names_what_is_available(data, tmp_path):
    X, y, *_ = data
    net = npframe.Network.from_spec(make_spec())
    with pytest.raises(ValueError, match=r"cannot fill path .*val_mae.*available: epoch, loss"):
        net.fit(X, y, epochs=1, callbacks=[ModelCheckpoint(tmp_path / "{val_mae}.npz")])


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"path": "model.pkl"}, ValueError, r"must end in \.npz"),
    ({"path": "m{}.npz"}, ValueError, "positional placeholder"),
    ({"path": "m{epoch.npz"}, ValueError, "bad placeholder"),
    ({"path": 3}, TypeError, "must be a str or os.PathLike"),
    ({"every": 0}, ValueError, "every must be an int >= 1"),
    ({"every": True}, ValueError, "every must be an int >= 1"),
    ({"save_best_only": "yes"}, TypeError, "save_best_only must be True or False"),
    ({"mode": "lowest"}, ValueError, "mode must be 'auto', 'min' or 'max'"),
    ({"monitor": ""}, ValueError, "monitor must be a log name"),
])
def test_arguments_are_checked(kwargs, error, message):
    kwargs = {"path": "m.npz", **kwargs}
    with pytest.raises(error, match=message):
        ModelCheckpoint(**kwargs)
