"""Real tables from Python (issue 10): labels, column names, scaling, the defaults, the
convergence and divergence signals, and the [train] options of ``npframe.train``.

Data: scikit-learn's bundled data sets (breast cancer with text labels, digits with
integer labels, diabetes with a named target), written to CSV where a file is the point,
and small tables made here. The command line is tested in test_tables_cli.py.
"""

from __future__ import annotations

import csv
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import npframe
from npframe import DataError, DivergenceError, Network, SpecError
from npframe.data import describe_columns, load_data
from npframe.interfaces import Loss
from npframe.trainer import prepare

datasets = pytest.importorskip("sklearn.datasets")


# -- data -----------------------------------------------------------------------------------
def write_csv(path: Path, header: list[str], columns: list[np.ndarray]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in zip(*(c.tolist() for c in columns), strict=True):
            writer.writerow([repr(v) if isinstance(v, float) else v for v in row])
    return path


@pytest.fixture(scope="module")
def cancer():
    """Breast cancer: 30 named features, labels 'benign' / 'malignant', shuffled."""
    bunch = datasets.load_breast_cancer()
    order = np.random.default_rng(0).permutation(len(bunch.target))
    labels = np.where(bunch.target == 1, "benign", "malignant")[order]
    names = [n.replace(" ", "_") for n in bunch.feature_names]
    return bunch.data[order], labels, names


@pytest.fixture(scope="module")
def cancer_csv(tmp_path_factory, cancer):
    X, labels, names = cancer
    folder = tmp_path_factory.mktemp("cancer")
    write_csv(folder / "train.csv", [*names, "diagnosis"], [*X[:450].T, labels[:450]])
    write_csv(folder / "test.csv", [*names, "diagnosis"], [*X[450:].T, labels[450:]])
    return folder


def classifier_spec(units: int = 2, loss: str = "categorical_crossentropy", **extra) -> dict:
    last = "softmax" if units > 1 else "sigmoid"
    return {"input": 30, "seed": 0, "loss": loss, "standardize": "inputs",
            "metrics": ["accuracy"],
            "layers": [{"units": 16, "activation": "relu"},
                       {"units": units, "activation": last}], **extra}


# -- labels -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("units", "loss"), [(2, "categorical_crossentropy"),
                                             (1, "binary_crossentropy")])
def test_a_text_label_classifier_from_csv(cancer_csv, units, loss):
    net, _ = npframe.train(classifier_spec(units, loss), cancer_csv / "train.csv",
                           targets="diagnosis", epochs=30)
    assert net.classes.tolist() == ["benign", "malignant"]
    assert net.target_names == ["diagnosis"] and len(net.feature_names) == 30
    test = load_data(cancer_csv / "test.csv", "diagnosis", labels=True)
    assert test.y.dtype.kind == "U"
    labels = net.predict_labels(test.X)
    assert set(labels.tolist()) <= {"benign", "malignant"}
    accuracy = float(np.mean(labels == test.y))
    assert accuracy > 0.9
    metrics = net.evaluate_metrics(test.X, test.y)  # by label
    assert metrics["accuracy"] == pytest.approx(accuracy)
    probabilities = net.predict(test.X)
    assert probabilities.shape == (len(test.X), units)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


@pytest.mark.parametrize(("units", "loss"), [(2, "categorical_crossentropy"),
                                             (1, "binary_crossentropy")])
def test_string_classes_and_names_round_trip_through_save_and_load(cancer_csv, tmp_path,
                                                                   units, loss):
    net, _ = npframe.train(classifier_spec(units, loss), cancer_csv / "train.csv",
                           targets="diagnosis", epochs=3)
    test = load_data(cancer_csv / "test.csv", "diagnosis", labels=True)
    net.save(tmp_path / "m.npz")
    loaded = npframe.load(tmp_path / "m.npz")
    assert loaded.classes.dtype.kind == "U"
    assert loaded.classes.tolist() == ["benign", "malignant"]
    assert (loaded.feature_names, loaded.target_names) == (net.feature_names, net.target_names)
    np.testing.assert_array_equal(loaded.predict_labels(test.X), net.predict_labels(test.X))
    assert npframe.from_bytes(net.to_bytes()).classes.tolist() == ["benign", "malignant"]


def test_integer_labels_for_ten_classes(tmp_path):
    bunch = datasets.load_digits()
    spec = {"input": 64, "seed": 1, "loss": "categorical_crossentropy",
            "standardize": "inputs",
            "layers": [{"units": 32, "activation": "relu"}, {"units": 10, "activation": "softmax"}]}
    net = Network.from_spec(spec)
    net.fit(bunch.data[:1200], bunch.target[:1200], epochs=15, batch_size=32)
    assert net.classes.tolist() == list(range(10))
    predicted = net.predict_labels(bunch.data[1200:])
    assert predicted.dtype.kind == "i"
    assert np.mean(predicted == bunch.target[1200:]) > 0.85
    with pytest.raises(ValueError, match=r"label 10 \(row 0\) was never seen in training; "
                                         r"the network knows 0, 1, 2"):
        net.evaluate(bunch.data[:2], np.array([10, 3]))


def test_a_label_never_seen_is_an_error_naming_it(cancer):
    X, labels, _ = cancer
    net = Network.from_spec(classifier_spec())
    net.fit(X[:100], labels[:100], epochs=1)
    bad = labels[:5].copy().astype("<U10")
    bad[3] = "benignish"
    with pytest.raises(ValueError, match=r"^evaluate: label 'benignish' \(row 3\) was never "
                                         r"seen in training; the network knows benign, "
                                         r"malignant"):
        net.evaluate(X[:5], bad)


# -- scaling ------------------------------------------------------------------------------------
class PluginClassifierLoss(Loss):
    """A plugin's loss that declares it takes labels; nothing in the core names it."""

    classification = True

    def value(self, y_true, y_pred):
        return float(np.mean((y_true - y_pred) ** 2))

    def gradient(self, y_true, y_pred):
        return 2 * (y_pred - y_true) / y_pred.size


@pytest.mark.parametrize("standardize", [True, "targets"])
@pytest.mark.parametrize("loss", ["binary_crossentropy", "categorical_crossentropy",
                                  "tables_test_labels"])
def test_standardizing_a_classifiers_targets_is_refused(standardize, loss):
    npframe.registry.register("loss", "tables_test_labels", PluginClassifierLoss)
    try:
        units = 1 if loss == "binary_crossentropy" else 2
        spec = {"input": 2, "loss": loss, "standardize": standardize,
                "layers": [{"units": units, "activation": "sigmoid"}]}
        with pytest.raises(SpecError) as info:
            Network.from_spec(spec)
    finally:
        npframe.registry.default_registry().unregister("loss", "tables_test_labels")
    assert info.value.path == "standardize"
    assert f"cannot standardize the targets of loss {loss!r}" in str(info.value)
    assert 'use standardize = "inputs"' in str(info.value)


def test_a_classifier_may_standardize_its_inputs(cancer):
    X, labels, _ = cancer
    Network.from_spec(classifier_spec(standardize=False))
    net = Network.from_spec(classifier_spec(standardize="inputs"))
    net.fit(X[:200], labels[:200], epochs=20, batch_size=32)
    assert set(net.scaler.state_dict()) == {"x_mean", "x_std"}  # targets stay probabilities
    assert np.mean(net.predict_labels(X[200:]) == labels[200:]) > 0.8


def test_standardize_targets_alone_scales_only_the_targets(rng):
    X = rng.normal(size=(50, 2)) * 100
    y = X @ np.array([[2.0], [-1.0]]) + 500
    net = Network.from_spec({"input": 2, "seed": 0, "standardize": "targets",
                             "layers": [{"units": 1, "activation": "linear"}]})
    net.fit(X, y, epochs=1)
    state = net.scaler.state_dict()
    assert set(state) == {"y_mean", "y_std"}


@pytest.mark.parametrize(("value", "message"), [
    ("yes", 'must be true (inputs and targets), false, "inputs" or "targets"'),
    ("input", 'must be true (inputs and targets), false, "inputs" or "targets"'),
    (1, 'must be true (inputs and targets), false, "inputs" or "targets" (got int 1)'),
])
def test_unknown_scaling_values_are_refused(value, message):
    with pytest.raises(SpecError, match=re.escape(f"standardize: {message}")):
        Network.from_spec({"input": 2, "standardize": value,
                           "layers": [{"units": 1, "activation": "linear"}]})


# -- names ---------------------------------------------------------------------------------------
class Frame:
    """DataFrame-like: ``columns`` and ``to_numpy``, as pandas and polars have."""

    def __init__(self, data: dict[str, list[float]]) -> None:
        self.columns = list(data)
        self._values = np.column_stack([data[c] for c in self.columns])

    def to_numpy(self):
        return self._values


class Series:
    def __init__(self, name: str, values) -> None:
        self.name, self._values = name, np.asarray(values)

    def to_numpy(self):
        return self._values


@pytest.fixture
def named_net(rng):
    a, b = rng.normal(size=40), rng.normal(size=40)
    net = Network.from_spec({"input": 2, "seed": 0, "optimizer": {"name": "sgd",
                                                                  "learning_rate": 0.1},
                             "layers": [{"units": 1, "activation": "linear"}]})
    net.fit(Frame({"a": a, "b": b}), Series("total", a + 2 * b), epochs=30)
    return net


def test_names_come_from_dataframe_likes_and_columns_are_matched_by_name(named_net):
    assert named_net.feature_names == ["a", "b"] and named_net.target_names == ["total"]
    x = {"a": [1.0, 2.0], "b": [3.0, -1.0]}
    in_order = named_net.predict(Frame(x))
    swapped = named_net.predict(Frame({"b": x["b"], "a": x["a"]}))
    np.testing.assert_array_equal(in_order, swapped)
    np.testing.assert_array_equal(in_order, named_net.predict(np.column_stack([x["a"],
                                                                               x["b"]])))
    np.testing.assert_array_equal(  # names given as a keyword work the same
        in_order, named_net.predict(np.column_stack([x["b"], x["a"]]),
                                    feature_names=["b", "a"]))


@pytest.mark.parametrize(("columns", "ignore", "message"), [
    (["a", "B"], (), r"^predict: missing column 'b'; did you mean 'B'\? \(the model was "
                     r"trained on a, b; the data has a, B\)"),
    (["a"], (), r"^predict: missing column 'b' \(the model was trained on a, b; the data "
                r"has a\)"),
    (["a", "b", "c"], (), r"^predict: unexpected column 'c'; the model was trained on a, b: "
                          r"drop it, or check that this is the right file"),
    (["a", "b", "c", "d"], (), r"^predict: unexpected column 'c' \(and 1 more\)"),
])
def test_every_column_mismatch_names_the_column(named_net, columns, ignore, message):
    frame = Frame({c: [1.0, 2.0] for c in columns})
    with pytest.raises(ValueError, match=message):
        named_net.predict(frame, ignore=ignore)


def test_target_columns_left_in_the_table_are_ignored_when_asked(named_net):
    x = {"a": [1.0], "b": [2.0]}
    expected = named_net.predict(Frame(x))
    got = named_net.predict(Frame({**x, "total": [0.0]}), ignore=["total"])
    np.testing.assert_array_equal(got, expected)


def test_describe_columns_lists_a_few():
    assert describe_columns(["a", "b", "c"]) == "a, b, c"
    assert describe_columns([f"p{i}" for i in range(64)]) == "p0, p1, ... (64 columns)"


# -- reading tables ---------------------------------------------------------------------------
def test_targets_take_ranges_and_negative_indices(tmp_path):
    header = [f"x{i}" for i in range(5)] + [f"t{i}" for i in range(3)]
    path = write_csv(tmp_path / "d.csv", header, list(np.arange(16.0).reshape(8, 2)))
    assert load_data(path, "5:8").target_names == ("t0", "t1", "t2")
    assert load_data(path, "5:").target_names == ("t0", "t1", "t2")
    assert load_data(path, "-3:").target_names == ("t0", "t1", "t2")
    assert load_data(path, "-1").target_names == ("t2",)
    assert load_data(path, "0:2,-1").target_names == ("x0", "x1", "t2")
    with pytest.raises(DataError, match=r"target columns '8:' select no column; the file has "
                                        r"8 columns"):
        load_data(path, "8:")
    with pytest.raises(DataError, match=r"target column 'x1' is chosen twice"):
        load_data(path, "0:3,1")


def test_a_label_column_is_read_as_labels(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,kind,n,w\n1,2,cat,3,1.5\n3,4,dog,4,0\n5,6,cat,3,2\n")
    text = load_data(path, "kind", labels=True, weights="w")
    assert text.y.tolist() == ["cat", "dog", "cat"]
    assert text.feature_names == ("a", "b", "n")
    np.testing.assert_array_equal(text.sample_weight, [1.5, 0.0, 2.0])
    (tmp_path / "n.csv").write_text("a,b,n\n1,2,3\n3,4,4\n5,6,3\n")
    ints = load_data(tmp_path / "n.csv", "n", labels=True)
    assert ints.y.dtype.kind == "i" and ints.y.tolist() == [3, 4, 3]
    numbers = load_data(tmp_path / "n.csv", "n")  # a regressor's targets: a float column
    assert numbers.y.shape == (3, 1) and numbers.y.dtype == np.float64


def test_text_in_a_regression_target_names_the_column_and_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,kind\n1,2,3\n\n3,4,dog\n")
    with pytest.raises(DataError) as info:
        load_data(path, "kind")
    assert str(info.value).startswith(f"{path}:4:3: could not convert 'dog' to a number; "
                                      "target column 'kind' holds text ('dog' in data row 2)")
    assert "use a classification loss" in str(info.value)


@pytest.mark.parametrize(("text", "weights", "message"), [
    ("a,b,y,w\n1,2,3,-1\n", "w", r"weights column 'w', data row 1: -1.0 is negative"),
    ("a,b,y,weight\n1,2,3,1\n", "weigth", r"unknown weights column 'weigth'; did you mean "
                                            r"'weight'\?"),
    ("a,b,y,w\n1,2,3,1\n", "y", r"column 'y' is both a target and the weights"),
])
def test_weights_column_errors(tmp_path, text, weights, message):
    path = tmp_path / "d.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        load_data(path, "y", weights=weights)


# -- the defaults --------------------------------------------------------------------------------
def test_a_spec_with_only_layers_gets_the_measured_defaults(tmp_path):
    spec = {"input": 2, "layers": [{"units": 1, "activation": "linear"}]}
    net = Network.from_spec(spec)
    assert net.to_spec()["optimizer"] == {"name": "adam", "learning_rate": 0.001}
    run = prepare(spec, (np.ones((10, 2)), np.ones(10)))
    assert (run.epochs, run.batch_size, run.shuffle) == (100, 32, True)
    full = prepare({**spec, "train": {"batch_size": "full"}}, (np.ones((10, 2)), np.ones(10)))
    assert full.batch_size is None
    assert full.net.to_spec()["train"]["batch_size"] == "full"


def test_the_tutorial_specs_keep_their_own_sgd_settings():
    examples = Path(__file__).resolve().parents[1] / "docs" / "examples"
    for name in ("tutorial.toml", "tutorial_sgd.toml", "wide_sgd.toml", "tutorial_parity.toml"):
        spec = npframe.NetworkSpec.from_path(examples / name)
        assert spec.optimizer.name == "sgd", name
    for name in ("tutorial_sgd.toml", "tutorial_adam.toml", "wide_sgd.toml", "wide_adam.toml"):
        assert npframe.NetworkSpec.from_path(examples / name).train.batch_size is None, name


def test_defaults_fit_diabetes_better_than_the_mean():
    bunch = datasets.load_diabetes()
    X, y = bunch.data, bunch.target
    spec = {"input": 10, "seed": 0, "standardize": True,
            "layers": [{"units": 32, "activation": "relu"}, {"units": 1, "activation": "linear"}]}
    net, _ = npframe.train(spec, (X[:330], y[:330]), epochs=50)
    pred = net.predict(X[330:])[:, 0]
    r2 = 1 - np.sum((pred - y[330:]) ** 2) / np.sum((y[330:] - y[:330].mean()) ** 2)
    assert r2 > 0.3


# -- convergence and divergence --------------------------------------------------------------------
def raw_diabetes_net(rate: float) -> tuple[Network, np.ndarray, np.ndarray]:
    bunch = datasets.load_diabetes()
    net = Network.from_spec({"input": 10, "seed": 0, "optimizer": {"name": "adam",
                                                                   "learning_rate": rate},
                             "layers": [{"units": 8, "activation": "relu"},
                                        {"units": 1, "activation": "linear"}]})
    return net, bunch.data, bunch.target


def test_a_regression_no_better_than_the_mean_warns_with_a_hint():
    net, X, y = raw_diabetes_net(1e-4)  # raw targets (mean 152): Adam needs many steps
    with pytest.warns(npframe.ConvergenceWarning) as record:
        net.fit(X, y, epochs=20, batch_size=32)
    (message,) = [str(w.message) for w in record]
    assert re.match(r"fit: after 20 epochs the training loss \(\S+\) is no better than "
                    r"predicting each target's mean \(\S+\): the network has not learned from "
                    r"its inputs; try standardize = true .*, more epochs or a larger learning "
                    r"rate than 0.0001$", message)


def test_a_classifier_no_better_than_the_class_frequencies_warns(cancer):
    X, labels, _ = cancer  # raw inputs (areas in the thousands) saturate the first layer
    net = Network.from_spec(classifier_spec(standardize=False, seed=3))
    with pytest.warns(npframe.ConvergenceWarning) as record:
        net.fit(X[:400], labels[:400], epochs=20, batch_size=32)
    (message,) = [str(w.message) for w in record]
    assert re.match(r"fit: after 20 epochs the training loss \(\S+\) is no better than "
                    r"predicting the class frequencies \(\S+\): .*; try standardize = "
                    r'"inputs", more epochs or another learning rate than 0.001$', message)


def test_a_classifier_on_logits_is_not_judged_against_frequencies(cancer):
    X, labels, _ = cancer
    spec = classifier_spec(standardize=False, seed=3, loss={
        "name": "categorical_crossentropy", "from_logits": True})
    spec["layers"][-1]["activation"] = "linear"
    net = Network.from_spec(spec)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        net.fit(X[:400], labels[:400], epochs=10, batch_size=32)
    assert not any("class frequencies" in str(w.message) for w in record)


def test_the_judgement_weighs_samples_as_training_does():
    """Weighted out, half the samples are noise the loss never sees: the bar is the
    weighted mean's loss, and one class left by the weights sets no bar at all."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = np.where(np.arange(200) < 100, X @ [2.0, -1.0], rng.normal(scale=50.0, size=200))
    weights = (np.arange(200) < 100).astype(float)
    net = Network.from_spec({"input": 2, "seed": 0, "layers": [
        {"units": 8, "activation": "relu"}, {"units": 1, "activation": "linear"}]})
    net.fit(X, y, epochs=30, batch_size=32, sample_weight=weights)  # no warning: it learned
    labels = np.arange(40) % 2
    clf = Network.from_spec(classifier_spec(input=2))
    clf.fit(rng.normal(size=(40, 2)), labels, epochs=20, sample_weight=labels.astype(float))


def test_a_run_continued_one_epoch_per_call_is_not_judged():
    """fit(epochs=1) per step (custom loops, partial_fit) pays no judgement each call;
    the same run in one call of 20 epochs is judged and warns."""
    net, X, y = raw_diabetes_net(1e-4)
    for _ in range(20):
        net.fit(X, y, epochs=1, batch_size=32)  # filterwarnings = error: nothing is raised
    again, X, y = raw_diabetes_net(1e-4)
    with pytest.warns(npframe.ConvergenceWarning):
        again.fit(X, y, epochs=20, batch_size=32)


def test_a_short_run_is_not_judged_yet():
    net, X, y = raw_diabetes_net(1e-4)
    net.fit(X, y, epochs=5, batch_size=32)  # filterwarnings = error: nothing is raised
    assert net.epoch == 5


def test_a_run_that_ends_worse_than_it_started_warns():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 3)), rng.normal(size=(64, 1))
    net = Network.from_spec({"input": 3, "seed": 0, "optimizer": {"name": "sgd",
                                                                  "learning_rate": 0.0},
                             "layers": [{"units": 1, "activation": "linear"}]})
    with pytest.warns(npframe.ConvergenceWarning, match=r"ended no better than it started.*"
                                                         r"a larger learning rate than 0"):
        net.fit(X, y, epochs=3)


def test_divergence_stops_before_overflow_and_keeps_a_finite_state():
    net, X, y = raw_diabetes_net(1.0)
    net = Network.from_spec({**net.to_spec(), "optimizer": {"name": "sgd",
                                                            "learning_rate": 5.0}})
    with pytest.raises(DivergenceError, match=r"^fit: the loss (became|exploded)"):
        net.fit(X, y, epochs=50, batch_size=32)
    assert all(np.isfinite(w).all() for w in net.get_weights())
    assert np.isfinite(net.evaluate(X, y))
    assert max(float(np.abs(w).max()) for w in net.get_weights()) < 1e100


# -- npframe.train's [train] options ---------------------------------------------------------------
def test_early_stopping_from_the_spec(cancer_csv):
    spec = classifier_spec(train={"epochs": 500, "validation_split": 0.2,
                                  "early_stopping": {"patience": 3}})
    run = prepare(spec, cancer_csv / "train.csv", targets="diagnosis")
    history = run.fit()
    stopper = run.early_stopping
    assert stopper.monitor == "val_loss" and stopper.restore_best_weights
    assert stopper.stopped_epoch is not None and len(history.loss) < 500
    no_split = prepare({**spec, "train": {"early_stopping": True}}, cancer_csv / "train.csv",
                       targets="diagnosis")
    assert no_split.early_stopping.monitor == "loss"  # without validation data


def test_a_test_file_relative_to_the_spec_file(cancer_csv, tmp_path):
    spec_file = cancer_csv / "net.json"
    spec = classifier_spec(train={"epochs": 5, "test": "test.csv"})
    import json

    spec_file.write_text(json.dumps(spec))
    run = prepare(spec_file, cancer_csv / "train.csv", targets="diagnosis")
    assert run.test_source == str(cancer_csv / "test.csv") and len(run.test.X) == 119
    run.fit()
    assert set(run.test_results()) == {"loss", "accuracy"}


def test_test_file_problems_are_found_before_training(cancer_csv, tmp_path):
    text = (cancer_csv / "test.csv").read_text()
    (tmp_path / "unknown.csv").write_text(text.replace(",benign\n", ",healthy\n", 1))
    with pytest.raises(DataError, match=r"unknown.csv: target column 'diagnosis', data row "
                                        r"\d+: label 'healthy' was never seen in training"):
        prepare(classifier_spec(), cancer_csv / "train.csv", targets="diagnosis",
                test=tmp_path / "unknown.csv")
    header, rest = text.split("\n", 1)
    (tmp_path / "renamed.csv").write_text(header.replace("mean_radius", "mean_radio") + "\n"
                                          + rest)
    with pytest.raises(DataError, match=r"missing column 'mean_radius'; did you mean "
                                        r"'mean_radio'\?"):
        prepare(classifier_spec(), cancer_csv / "train.csv", targets="diagnosis",
                test=tmp_path / "renamed.csv")


def test_class_weight_from_the_spec_and_its_errors(cancer_csv):
    spec = classifier_spec(train={"epochs": 1, "class_weight": {"malignant": 3.0}})
    run = prepare(spec, cancer_csv / "train.csv", targets="diagnosis")
    assert run.class_weight == {"malignant": 3.0}
    run.fit()
    bad = classifier_spec(train={"class_weight": {"malignent": 3.0}})
    with pytest.raises(SpecError, match=r"^train.class_weight.malignent: 'malignent' is not a "
                                        r"class of the data \(classes: benign, malignant\)"):
        prepare(bad, cancer_csv / "train.csv", targets="diagnosis")
    regression = {"input": 2, "layers": [{"units": 1, "activation": "linear"}],
                  "train": {"class_weight": "balanced"}}
    with pytest.raises(SpecError, match=r"^train.class_weight: needs a classification loss"):
        prepare(regression, (np.ones((4, 2)), np.ones(4)))


def test_early_stopping_on_a_validation_metric_needs_a_split(cancer_csv):
    spec = classifier_spec(train={"early_stopping": {"monitor": "val_accuracy"}})
    with pytest.raises(SpecError, match=r"^train.early_stopping.monitor: 'val_accuracy' needs "
                                        r"validation data"):
        prepare(spec, cancer_csv / "train.csv", targets="diagnosis")


def test_validation_shuffle_from_the_spec_is_a_seeded_draw(cancer):
    X, labels, _ = cancer
    spec = classifier_spec(train={"epochs": 1, "validation_split": 0.25,
                                  "validation_shuffle": True})
    seen = []
    for _ in range(2):
        _, history = npframe.train(spec, (X[:200], labels[:200]))
        seen.append(history.val_loss[0])
    assert seen[0] == seen[1]  # the same draw from the same seed
    _, h2 = npframe.train({**spec, "train": {"epochs": 1, "validation_split": 0.25}},
                                (X[:200], labels[:200]))
    assert h2.val_loss[0] != seen[0]  # the last rows are another validation set


def test_sample_weights_from_a_column(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = X @ np.array([1.0, -1.0])
    w = np.where(np.arange(40) < 20, 0.0, 1.0)
    path = write_csv(tmp_path / "w.csv", ["a", "b", "y", "weight"], [X[:, 0], X[:, 1], y, w])
    spec = {"input": 2, "seed": 0, "optimizer": {"name": "sgd", "learning_rate": 0.0},
            "layers": [{"units": 1, "activation": "linear"}]}
    net, history = npframe.train(spec, path, targets="y", weights="weight", epochs=1,
                                 batch_size="full")
    assert net.feature_names == ["a", "b"]
    per_sample = (Network.from_spec(spec).predict(X)[:, 0] - y) ** 2
    assert history.loss[0] == pytest.approx(per_sample[20:].mean(), rel=1e-12)


# -- surprises from the issue ---------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "message"), [
    ({"input": 2, "layers": [{"units": 1, "activation": "ReLU"}]},
     "layers[0].activation: unknown activation 'ReLU'; did you mean 'relu'?"),
    ({"input": 2, "layers": [{"units": 1, "activation": "linear"}], "loss": "MSE"},
     "loss: unknown loss 'MSE'; did you mean 'mse'?"),
    ({"input": 2, "layers": [{"units": 1, "activation": "linear"}],
      "optimizer": {"name": "sgd", "lr": 0.1}},
     "optimizer: unknown parameter 'lr' for 'sgd'; did you mean 'learning_rate'?"),
    ({"input": 2, "layers": [{"units": 1, "activation": "linear"}],
      "train": {"learning_rate": 0.1}},
     "train.learning_rate: unknown key 'learning_rate': the learning rate belongs to the "
     'optimizer: optimizer = { name = "adam", learning_rate = 0.001 }'),
])
def test_surprising_names_get_suggestions(spec, message):
    with pytest.raises(SpecError) as info:
        Network.from_spec(spec)
    assert str(info.value).startswith(message)


def test_a_1d_sample_gets_the_right_reshape_hint():
    net = Network.from_spec({"input": 2, "layers": [{"units": 1, "activation": "linear"}]})
    with pytest.raises(ValueError, match=re.escape("got (2,) (use X.reshape(1, -1) for one "
                                                   "sample of 2 features)")):
        net.predict(np.array([1.0, 2.0]))
    one = Network.from_spec({"input": 1, "layers": [{"units": 1, "activation": "linear"}]})
    with pytest.raises(ValueError, match=re.escape("(use X.reshape(-1, 1)")):
        one.predict(np.array([1.0, 2.0, 3.0]))


def test_summary_is_the_layer_table():
    net = Network.from_spec({"input": 3, "layers": [{"units": 4, "activation": "relu"},
                                                    {"units": 1, "activation": "linear"}]})
    assert net.summary().splitlines()[0].split() == ["layer", "type", "settings", "output",
                                                      "parameters"]
    assert "21 parameters" in net.summary()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.summary()
