"""EarlyStopping, LearningRateScheduler, ReduceLROnPlateau and CSVLogger.

The decision logic is driven epoch by epoch against a stub network (so every branch
is pinned with exact numbers); each callback also runs inside a real ``fit``.
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from npframe_builtins.metrics import Accuracy
from npframe_builtins.optimizers import SGD
from npframe_builtins.schedules import Step

import npframe
from npframe import CSVLogger, EarlyStopping, LearningRateScheduler, ReduceLROnPlateau
from npframe.errors import SpecError


class StubNetwork:
    """What the callbacks touch: optimizer, base learning rate, metrics, weights, stop flag."""

    def __init__(self, learning_rate=0.1, metrics=None):
        self.optimizer = SGD(learning_rate=learning_rate)
        self.base_learning_rate = learning_rate
        self.metrics = metrics or {}
        self.stop_training = False
        self.weights = [np.zeros(2)]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w, copy=True) for w in weights]


def drive(callback, values, monitor="val_loss", network=None):
    """Feed ``values`` as the monitored log, one epoch each, until a stop; return the network.

    Epoch ``e`` has weights ``[e, e]``, so a restore shows which epoch it came from.
    """
    net = network or StubNetwork()
    callback.set_network(net)
    callback.on_train_begin({})
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch, {})
        net.weights = [np.full(2, float(epoch))]
        callback.on_epoch_end(epoch, {"loss": 1.0, monitor: value})
        if net.stop_training:
            break
    callback.on_train_end({})
    return net


# -- EarlyStopping ----------------------------------------------------------------------
def test_early_stopping_waits_patience_epochs_without_improvement():
    stop = EarlyStopping(patience=2)
    drive(stop, [1.0, 0.9, 0.95, 0.93, 0.8])
    assert (stop.stopped_epoch, stop.best, stop.best_epoch) == (3, 0.9, 1)


def test_early_stopping_patience_zero_stops_at_the_first_epoch_without_improvement():
    stop = EarlyStopping(patience=0)
    drive(stop, [1.0, 0.9, 0.9, 0.5])
    assert stop.stopped_epoch == 2


def test_an_improvement_resets_the_patience():
    stop = EarlyStopping(patience=2)
    net = drive(stop, [1.0, 1.1, 0.9, 1.0, 0.8, 0.85])
    assert stop.stopped_epoch is None and not net.stop_training
    assert stop.best == 0.8 and stop.wait == 1


def test_min_delta_is_the_smallest_change_that_counts():
    stop = EarlyStopping(patience=1, min_delta=0.1)
    drive(stop, [1.0, 0.95, 0.5])
    assert stop.stopped_epoch == 1 and stop.best == 1.0


def test_auto_mode_maximizes_metrics_that_say_greater_is_better():
    net = StubNetwork(metrics={"accuracy": Accuracy()})
    stop = EarlyStopping(monitor="val_accuracy", patience=2)
    drive(stop, [0.5, 0.6, 0.55, 0.58, 0.9], monitor="val_accuracy", network=net)
    assert (stop.best, stop.stopped_epoch) == (0.6, 3)
    # explicit modes override the metric
    stop = EarlyStopping(monitor="val_accuracy", patience=1, mode="min")
    drive(stop, [0.5, 0.6], monitor="val_accuracy", network=StubNetwork())
    assert (stop.best, stop.stopped_epoch) == (0.5, 1)
    stop = EarlyStopping(monitor="custom", patience=1, mode="max")
    drive(stop, [0.5, 0.4], monitor="custom")
    assert (stop.best, stop.stopped_epoch) == (0.5, 1)


def test_a_baseline_must_be_beaten_before_patience_resets():
    values = [1.0, 0.9, 0.95]
    without = EarlyStopping(patience=2)
    drive(without, values)
    assert without.stopped_epoch is None
    with_baseline = EarlyStopping(patience=2, baseline=0.5)
    drive(with_baseline, values)
    assert with_baseline.stopped_epoch == 2


def test_nan_never_improves():
    stop = EarlyStopping(patience=2)
    drive(stop, [1.0, math.nan, math.nan, 0.1])
    assert stop.stopped_epoch == 2 and stop.best == 1.0


@pytest.mark.parametrize("stops_early", [True, False])
def test_restore_best_weights_after_stopping_or_running_to_the_end(stops_early):
    stop = EarlyStopping(patience=2 if stops_early else 10, restore_best_weights=True)
    net = drive(stop, [1.0, 0.5, 0.7, 0.8, 0.9])
    assert (stop.stopped_epoch is not None) == stops_early
    np.testing.assert_array_equal(net.weights[0], [1.0, 1.0])  # epoch 1 was the best


def test_weights_stay_when_the_last_epoch_is_the_best():
    stop = EarlyStopping(patience=3, restore_best_weights=True)
    net = drive(stop, [1.0, 0.5, 0.2])
    np.testing.assert_array_equal(net.weights[0], [2.0, 2.0])


def test_early_stopping_state_resets_for_each_fit():
    stop = EarlyStopping(patience=1)
    drive(stop, [1.0, 2.0])
    assert stop.stopped_epoch == 1
    drive(stop, [5.0, 4.0, 3.0])
    assert stop.stopped_epoch is None and stop.best == 3.0


def test_a_missing_monitor_names_what_is_available():
    stop = EarlyStopping()
    stop.set_network(StubNetwork())
    stop.on_train_begin({})
    with pytest.raises(ValueError, match=r"EarlyStopping: monitor 'val_loss' is not in the "
                                         r"epoch's logs \(available: loss, mae\).*validation"):
        stop.on_epoch_end(0, {"loss": 1.0, "mae": 2.0})


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [({"patience": -1}, "patience"), ({"patience": 1.5}, "patience"),
     ({"min_delta": -0.1}, "min_delta"), ({"mode": "up"}, "mode"), ({"monitor": ""}, "monitor"),
     ({"restore_best_weights": 1}, "restore_best_weights")],
)
def test_early_stopping_validates_its_arguments(kwargs, word):
    with pytest.raises((ValueError, TypeError), match=word):
        EarlyStopping(**kwargs)


def tiny_net(**spec):
    base = {"input": 2, "seed": 5, "optimizer": {"name": "adam", "learning_rate": 0.01},
            "layers": [{"units": 6, "activation": "tanh"}, {"units": 1, "activation": "linear"}]}
    return npframe.Network.from_spec({**base, **spec})


@pytest.fixture
def data(rng):
    X = rng.uniform(-1, 1, (80, 2))
    return X, (X[:, 0] * X[:, 1])[:, None]


class RecordWeights(npframe.Callback):
    def __init__(self):
        self.weights = {}

    def on_epoch_end(self, epoch, logs):
        self.weights[epoch] = self.network.get_weights()


def test_early_stopping_in_fit_with_validation_split(data):
    net = tiny_net()
    record = RecordWeights()
    # no later epoch beats the first by 1e9: stop after `patience` epochs, back to epoch 0
    stop = EarlyStopping(patience=3, min_delta=1e9, restore_best_weights=True)
    history = net.fit(*data, epochs=50, validation_split=0.25, callbacks=[record, stop])
    assert len(history.loss) == len(history.val_loss) == 4
    assert stop.stopped_epoch == 3 and net.epoch == 4
    for now, best in zip(net.get_weights(), record.weights[0], strict=True):
        np.testing.assert_array_equal(now, best)


# -- ReduceLROnPlateau ------------------------------------------------------------------
def test_reduce_on_plateau_multiplies_by_factor_after_patience():
    reduce = ReduceLROnPlateau(patience=2, factor=0.5)
    net = drive(reduce, [1.0] * 6)
    assert reduce.reductions == [(2, 0.05), (4, 0.025)]
    assert net.optimizer.learning_rate == 0.025
    assert net.base_learning_rate == pytest.approx(0.025)


def test_reduce_on_plateau_cooldown_delays_the_next_count():
    reduce = ReduceLROnPlateau(patience=2, factor=0.5, cooldown=2)
    drive(reduce, [1.0] * 8)
    assert [epoch for epoch, _ in reduce.reductions] == [2, 5]


def test_reduce_on_plateau_respects_min_lr():
    reduce = ReduceLROnPlateau(patience=1, factor=0.1, min_lr=0.005)
    net = drive(reduce, [1.0] * 6)
    assert [lr for _, lr in reduce.reductions] == pytest.approx([0.01, 0.005])
    assert net.optimizer.learning_rate == 0.005


def test_improvements_smaller_than_min_delta_do_not_count():
    steady = ReduceLROnPlateau(patience=2)
    drive(steady, [1.0, 0.9, 0.8, 0.7, 0.6])
    assert steady.reductions == []
    # best 1.0; 0.9 and 0.8 are within 0.2 of it (reduce at 2); 0.7 improves; 0.6 and
    # 0.55 are within 0.2 of 0.7 (reduce at 5)
    creeping = ReduceLROnPlateau(patience=2, min_delta=0.2)
    drive(creeping, [1.0, 0.9, 0.8, 0.7, 0.6, 0.55])
    assert [epoch for epoch, _ in creeping.reductions] == [2, 5]


@pytest.mark.parametrize("factor", [0.0, 1.0, 1.5])
def test_reduce_factor_must_be_below_one(factor):
    with pytest.raises(ValueError, match="'factor' must be in"):
        ReduceLROnPlateau(factor=factor)


class RecordLearningRate(npframe.Callback):
    def __init__(self):
        self.rates = []

    def on_epoch_begin(self, epoch, logs):
        self.rates.append(self.network.optimizer.learning_rate)


def test_reduce_on_plateau_composes_with_a_spec_schedule(data):
    net = tiny_net(schedule={"name": "step", "step_size": 2, "gamma": 0.5})
    record = RecordLearningRate()
    # never improves after epoch 0: the base drops tenfold after epochs 1 and 2
    reduce = ReduceLROnPlateau(monitor="loss", patience=1, min_delta=1e9)
    net.fit(*data, epochs=4, callbacks=[record, reduce])
    assert record.rates == pytest.approx([0.01, 0.01, 0.001 * 0.5, 0.0001 * 0.5])


# -- LearningRateScheduler ---------------------------------------------------------------
@pytest.mark.parametrize(
    "schedule",
    [Step(step_size=1, gamma=0.5), "step_half", {"name": "step", "step_size": 1, "gamma": 0.5},
     lambda epoch: 0.5**epoch],
    ids=["Schedule", "name", "table", "callable"],
)
def test_scheduler_sets_base_times_factor_before_each_epoch(schedule, data):
    if schedule == "step_half":
        schedule = {"name": "exponential", "gamma": 0.5}
    net = tiny_net()
    record = RecordLearningRate()
    scheduler = LearningRateScheduler(schedule)
    net.fit(*data, epochs=3, callbacks=[scheduler, record])
    net.fit(*data, epochs=2, callbacks=[scheduler, record])  # global epochs 3 and 4
    expected = [0.01 * 0.5**e for e in range(5)]
    assert record.rates == pytest.approx(expected, rel=1e-15)
    assert [e for e, _ in scheduler.rates] == [0, 1, 2, 3, 4]


def test_scheduler_resolves_registered_names():
    assert LearningRateScheduler("constant").schedule == npframe.registry.create(
        "schedule", "constant")
    with pytest.raises(SpecError, match=r"^LearningRateScheduler\.schedule: unknown schedule"):
        LearningRateScheduler("cosinus")


def test_scheduler_overrides_a_spec_schedule(data):
    net = tiny_net(schedule={"name": "exponential", "gamma": 0.1})
    record = RecordLearningRate()
    net.fit(*data, epochs=2, callbacks=[LearningRateScheduler("constant"), record])
    assert record.rates == [0.01, 0.01]


def test_scheduler_rejects_bad_schedules_and_factors():
    with pytest.raises(TypeError, match="schedule must be a Schedule"):
        LearningRateScheduler(3)
    for factor in (-1.0, math.nan, math.inf, "x"):
        scheduler = LearningRateScheduler(lambda epoch, f=factor: f)
        scheduler.set_network(StubNetwork())
        with pytest.raises(ValueError, match=r"the schedule returned -?\S+ at epoch 0"):
            scheduler.on_epoch_begin(0, {})


def test_learning_rate_callbacks_need_a_learning_rate():
    class Fixed(npframe.Optimizer):
        def step(self, params, grads):
            pass

    net = StubNetwork()
    net.optimizer = Fixed()
    reduce = ReduceLROnPlateau()
    reduce.set_network(net)
    with pytest.raises(TypeError, match="no numeric 'learning_rate'"):
        reduce.on_train_begin({})


# -- CSVLogger --------------------------------------------------------------------------
def read_rows(path, delimiter=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=delimiter))


def test_csv_logger_writes_header_and_repr_exact_rows(tmp_path, data):
    X, y = data
    net = tiny_net(metrics=["mae"])
    path = tmp_path / "log.csv"
    history = net.fit(X[:60], y[:60], epochs=4, validation_data=(X[60:], y[60:]),
                      callbacks=[CSVLogger(path)])
    rows = read_rows(path)
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2, 3]
    # the text reads back to the very same floats
    assert [float(r[1]) for r in rows[1:]] == history.loss
    assert [float(r[3]) for r in rows[1:]] == history.val_loss
    assert [float(r[2]) for r in rows[1:]] == history.metrics["mae"]


def test_csv_logger_starts_fresh_unless_appending(tmp_path, data):
    path = tmp_path / "log.csv"
    path.write_text("old,content\n1,2\n")
    net = tiny_net()
    net.fit(*data, epochs=2, callbacks=[CSVLogger(path)])
    net.fit(*data, epochs=2, callbacks=[CSVLogger(path, append=True)])
    rows = read_rows(path)
    assert rows[0] == ["epoch", "loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "3"]
    net.fit(*data, epochs=1, callbacks=[CSVLogger(path)])
    assert [r[0] for r in read_rows(path)] == ["epoch", "4"]


def test_csv_logger_append_creates_a_missing_file_and_fills_gaps(tmp_path, data):
    X, y = data
    path = tmp_path / "log.csv"
    net = tiny_net()
    net.fit(X, y, epochs=1, validation_split=0.2, callbacks=[CSVLogger(path, append=True)])
    net.fit(X, y, epochs=1, callbacks=[CSVLogger(path, append=True)])  # no validation now
    rows = read_rows(path)
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert rows[2][2] == "" and rows[1][2] != ""
    with pytest.raises(ValueError, match=r"log.csv: logs gained mae"):
        tiny_net(metrics=["mae"]).fit(X, y, epochs=1, callbacks=[CSVLogger(path, append=True)])


def test_csv_logger_refuses_to_append_to_a_foreign_file(tmp_path, data):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="first column is 'a', not 'epoch'"):
        tiny_net().fit(*data, epochs=1, callbacks=[CSVLogger(path, append=True)])


def test_csv_logger_separator_and_float_text(tmp_path):
    path = tmp_path / "log.tsv"
    logger = CSVLogger(str(path), separator="\t")
    logger.set_network(StubNetwork())
    logger.on_train_begin({})
    logger.on_epoch_end(7, {"loss": 0.1 + 0.2, "val_loss": np.float32(0.5), "n": 3})
    assert path.read_text() == "epoch\tloss\tn\tval_loss\n7\t0.30000000000000004\t3\t0.5\n"
    with pytest.raises(ValueError, match="separator must be one character"):
        CSVLogger(path, separator=",,")
