"""Real tables through the command line (issues 10 and 16): the ``npframe`` script in
subprocesses for the flows a user runs, ``cli.main`` in process for the many error cases.

Data: scikit-learn's bundled data sets written to CSV: breast cancer with text labels
``benign`` / ``malignant``, digits with integer labels (and as ten one-hot columns),
diabetes with a named target ``progression``. Specs name only their layers (and a
classifier's loss), so the defaults are what is tested.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import npframe
from npframe import cli
from npframe.data import load_data
from npframe.trainer import prepare

datasets = pytest.importorskip("sklearn.datasets")

CANCER_SPEC = """\
input = 30
seed = 0
loss = "categorical_crossentropy"
standardize = "inputs"

[[layers]]
units = 16
activation = "relu"

[[layers]]
units = 2
activation = "softmax"

[train]
epochs = 30
"""

DIGITS_SPEC = """\
input = 64
seed = 0
loss = "categorical_crossentropy"
standardize = "inputs"

[[layers]]
units = 32
activation = "relu"

[[layers]]
units = 10
activation = "softmax"

[train]
epochs = 10
"""

DIABETES_SPEC = """\
input = 10
seed = 0
standardize = true

[[layers]]
units = 16
activation = "relu"

[[layers]]
units = 1
activation = "linear"

[train]
epochs = 40
"""


def write_csv(path: Path, header: list[str], columns: list[np.ndarray]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in zip(*(c.tolist() for c in columns), strict=True):
            writer.writerow([repr(v) if isinstance(v, float) else v for v in row])
    return path


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NPFRAME_PLUGINS"}
    return subprocess.run([sys.executable, "-m", "npframe.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=env)


def main_in(folder: Path, argv: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    monkeypatch.chdir(folder)
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> Path:
    """The three data sets as CSV files (shuffled, split 75/25), and their specs."""
    root = tmp_path_factory.mktemp("tables")
    rng = np.random.default_rng(0)

    cancer = datasets.load_breast_cancer()
    order = rng.permutation(len(cancer.target))
    X = cancer.data[order]
    labels = np.where(cancer.target[order] == 1, "benign", "malignant")
    names = [n.replace(" ", "_") for n in cancer.feature_names]
    write_csv(root / "cancer.csv", [*names, "diagnosis"], [*X[:427].T, labels[:427]])
    write_csv(root / "cancer_test.csv", [*names, "diagnosis"], [*X[427:].T, labels[427:]])
    (root / "cancer.toml").write_text(CANCER_SPEC)

    digits = datasets.load_digits()
    order = rng.permutation(len(digits.target))
    X, y = digits.data[order], digits.target[order]
    pixels = [f"p{i}" for i in range(64)]
    write_csv(root / "digits.csv", [*pixels, "digit"], [*X[:1347].T, y[:1347]])
    write_csv(root / "digits_test.csv", [*pixels, "digit"], [*X[1347:].T, y[1347:]])
    onehot = np.eye(10)[y]
    write_csv(root / "digits_onehot.csv", [*pixels, *(f"is{k}" for k in range(10))],
              [*X[:1347].T, *onehot[:1347].T])
    (root / "digits.toml").write_text(DIGITS_SPEC)

    diabetes = datasets.load_diabetes()
    order = rng.permutation(len(diabetes.target))
    X, y = diabetes.data[order], diabetes.target[order]
    features = list(diabetes.feature_names)
    write_csv(root / "diabetes.csv", [*features, "progression"], [*X[:331].T, y[:331]])
    write_csv(root / "diabetes_test.csv", [*features, "progression"], [*X[331:].T, y[331:]])
    (root / "diabetes.toml").write_text(DIABETES_SPEC)
    return root


@pytest.fixture(scope="module")
def cancer_model(tables) -> Path:
    result = run("train", "cancer.toml", "--data", "cancer.csv", "--targets", "diagnosis",
                 "--test", "cancer_test.csv", "--out", "cancer.npz", "-q", cwd=tables)
    assert result.returncode == 0, result.stderr
    (tables / "cancer.out").write_text(result.stdout)
    return tables / "cancer.npz"


# -- a text-label classifier, from CSV to predictions ----------------------------------------------
def test_train_reads_the_text_labels_and_reports_the_test_file(tables, cancer_model):
    out = (tables / "cancer.out").read_text()
    assert ("cancer.csv: 427 samples; inputs mean_radius, mean_texture, ... (30 columns) -> "
            "labels diagnosis (2 classes: benign, malignant)") in out
    assert "batch size 32, categorical_crossentropy loss, adam(learning_rate=0.001)" in out
    match = re.search(r"^  test +loss \S+  accuracy (\S+)  \(142 samples of cancer_test.csv\)$",
                      out, re.M)
    assert match and float(match.group(1)) > 0.93
    net = npframe.load(cancer_model)
    assert net.classes.tolist() == ["benign", "malignant"]
    assert net.target_names == ["diagnosis"] and net.feature_names[0] == "mean_radius"


def test_predict_writes_the_label_then_a_probability_per_class(tables, cancer_model):
    result = run("predict", "cancer.npz", "--data", "cancer_test.csv", cwd=tables)
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(result.stdout.splitlines()))
    assert rows[0] == ["diagnosis", "p(benign)", "p(malignant)"]  # the target column ignored
    test = load_data(tables / "cancer_test.csv", "diagnosis", labels=True)
    net = npframe.load(cancer_model)
    assert [r[0] for r in rows[1:]] == net.predict_labels(test.X).tolist()
    probabilities = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_array_equal(probabilities, net.predict(test.X))  # exact text
    assert np.mean(np.array([r[0] for r in rows[1:]]) == test.y) > 0.93


def test_evaluate_compares_by_label(tables, cancer_model):
    result = run("evaluate", "cancer.npz", "--data", "cancer_test.csv", cwd=tables)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "cancer.npz on cancer_test.csv: 142 samples"
    assert re.match(r"^  loss +\S+ +\(categorical_crossentropy\)$", lines[1])
    accuracy = float(re.match(r"^  accuracy +(\S+)$", lines[2]).group(1))
    test = load_data(tables / "cancer_test.csv", "diagnosis", labels=True)
    expected = np.mean(npframe.load(cancer_model).predict_labels(test.X) == test.y)
    assert accuracy == pytest.approx(expected, abs=1e-6)


def test_columns_are_matched_by_name(tables, cancer_model, tmp_path, monkeypatch, capsys):
    header, *rows = list(csv.reader((tables / "cancer_test.csv").read_text().splitlines()))
    net = npframe.load(cancer_model)
    test = load_data(tables / "cancer_test.csv", "diagnosis", labels=True)
    reversed_columns = tmp_path / "reversed.csv"
    with reversed_columns.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([r[::-1] for r in [header, *rows]])
    code, out, err = main_in(tables, ["predict", "cancer.npz", "--data", str(reversed_columns)],
                             monkeypatch, capsys)
    assert code == 0, err
    got = np.array([[float(v) for v in r[1:]] for r in csv.reader(out.splitlines()[1:])])
    np.testing.assert_array_equal(got, net.predict(test.X))

    def variant(name: str, new_header: list[str], drop: int | None = None,
                add: str | None = None) -> str:
        path = tmp_path / name
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            for k, row in enumerate([new_header, *rows]):
                extra = [] if add is None else [add if k == 0 else "1.0"]
                writer.writerow([c for i, c in enumerate(row) if i != drop] + extra)
        return str(path)

    renamed = variant("renamed.csv", [h.replace("mean_radius", "mean_radios") for h in header])
    extra = variant("extra.csv", header, add="age")
    missing = variant("missing.csv", header, drop=3)
    unlabelled = variant("unlabelled.csv", header, drop=30)
    cases = [
        (["predict", "cancer.npz", "--data", renamed],
         f"{renamed}: missing column 'mean_radius'; did you mean 'mean_radios'?"),
        (["predict", "cancer.npz", "--data", extra],
         f"{extra}: unexpected column 'age'; the model was trained on 30 columns: drop it"),
        (["predict", "cancer.npz", "--data", missing],
         f"{missing}: missing column 'mean_area' (the model was trained on 30 columns; the "
         "data has 29 columns)"),
        (["evaluate", "cancer.npz", "--data", unlabelled],
         f"{unlabelled}: missing target column 'diagnosis' (the model's targets: diagnosis); "
         "name the target columns with --targets"),
    ]
    for argv, message in cases:
        code, out, err = main_in(tables, argv, monkeypatch, capsys)
        assert (code, out) == (2, ""), argv
        assert err.startswith(f"npframe: error: {message}"), err
        assert len(err.splitlines()) == 1


def test_a_label_never_seen_in_training_is_an_error(tables, cancer_model, tmp_path,
                                                      monkeypatch, capsys):
    text = (tables / "cancer_test.csv").read_text().replace(",benign\n", ",unsure\n", 1)
    (tmp_path / "unsure.csv").write_text(text)
    code, _, err = main_in(tables, ["evaluate", "cancer.npz", "--data",
                                    str(tmp_path / "unsure.csv")], monkeypatch, capsys)
    assert code == 2
    assert re.match(rf"npframe: error: {re.escape(str(tmp_path))}/unsure.csv: target column "
                    r"'diagnosis', data row \d+: label 'unsure' was never seen in training; "
                    r"the model knows benign, malignant$", err)


# -- integer labels, one-hot columns, a named regression target ------------------------------------
def test_digits_with_integer_labels(tables):
    result = run("train", "digits.toml", "--data", "digits.csv", "--targets", "-1",
                 "--out", "digits.npz", "--validation-split", "0.2", "--validation-shuffle",
                 "-q", cwd=tables)
    assert result.returncode == 0, result.stderr
    assert ("digits.csv: 1347 samples (269 held out for validation, a stratified random "
            "draw); inputs p0, p1, ... (64 columns) -> labels digit (10 classes: 0, 1, 2, 3, "
            "4, ...)") in result.stdout
    net = npframe.load(tables / "digits.npz")
    assert net.classes.tolist() == list(range(10))
    result = run("predict", "digits.npz", "--data", "digits_test.csv", cwd=tables)
    rows = list(csv.reader(result.stdout.splitlines()))
    assert rows[0] == ["digit", *(f"p({k})" for k in range(10))]
    truth = np.loadtxt(tables / "digits_test.csv", delimiter=",", skiprows=1)[:, -1]
    assert np.mean(np.array([int(r[0]) for r in rows[1:]]) == truth) > 0.9


def test_digits_as_one_hot_columns_by_range(tables, monkeypatch, capsys):
    code, out, err = main_in(tables, ["train", "digits.toml", "--data", "digits_onehot.csv",
                                      "--targets", "64:74", "--epochs", "3", "--out",
                                      "onehot.npz", "-q"], monkeypatch, capsys)
    assert code == 0, err
    assert "-> targets is0, is1, ... (10 columns)" in out
    net = npframe.load(tables / "onehot.npz")
    assert net.classes is None and net.target_names == [f"is{k}" for k in range(10)]
    code, out, err = main_in(tables, ["predict", "onehot.npz", "--data", "digits_test.csv",
                                      "--targets", "digit"], monkeypatch, capsys)
    assert code == 0, err
    header = out.splitlines()[0].split(",")
    assert header == ["label", *(f"p(is{k})" for k in range(10))]
    assert out.splitlines()[1].split(",")[0].startswith("is")


def test_diabetes_with_a_named_target_and_the_defaults(tables):
    result = run("train", "diabetes.toml", "--data", "diabetes.csv", "--targets", "progression",
                 "--test", "diabetes_test.csv", "--out", "diabetes.npz", "-q", cwd=tables)
    assert result.returncode == 0, result.stderr
    r2 = float(re.search(r"^  test +loss \S+  r2 (\S+)", result.stdout, re.M).group(1))
    assert r2 > 0.3
    result = run("predict", "diabetes.npz", "--data", "diabetes_test.csv", cwd=tables)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "progression"
    assert len(result.stdout.splitlines()) == 1 + 111


def test_text_in_a_regression_target_is_an_error_naming_the_column(tables, monkeypatch, capsys):
    (tables / "cancer_mse.toml").write_text(CANCER_SPEC.replace("categorical_crossentropy",
                                                                "mse"))
    code, out, err = main_in(tables, ["train", "cancer_mse.toml", "--data", "cancer.csv",
                                      "--targets", "diagnosis", "-q"], monkeypatch, capsys)
    assert (code, out) == (2, "")
    assert re.match(r"npframe: error: cancer.csv:2:31: could not convert '\w+' to a number; "
                    r"target column 'diagnosis' holds text \('\w+' in data row 1\), which a "
                    r"regression loss cannot take", err)


# -- [train] options and flags ------------------------------------------------------------------
def test_weights_column_test_in_the_spec_and_early_stopping(tables, tmp_path, monkeypatch,
                                                            capsys):
    data = np.loadtxt(tables / "diabetes.csv", delimiter=",", skiprows=1)
    header = (tables / "diabetes.csv").read_text().splitlines()[0].split(",")
    folder = tmp_path / "spec"
    folder.mkdir()
    write_csv(tmp_path / "weighted.csv", [*header, "w"],
              [*data.T, np.linspace(0.5, 1.5, len(data))])
    shutil.copy(tables / "diabetes_test.csv", folder / "held_out.csv")
    (folder / "net.toml").write_text(DIABETES_SPEC.replace("epochs = 40", (
        'epochs = 500\nvalidation_split = 0.2\nearly_stopping = { patience = 5 }\n'
        'test = "held_out.csv"')))
    code, out, err = main_in(tmp_path, ["train", "spec/net.toml", "--data", "weighted.csv",
                                        "--targets", "progression", "--weights", "w",
                                        "--out", "w.npz", "-q"], monkeypatch, capsys)
    assert code == 0, err
    assert "331 samples (66 held out for validation), weighted" in out
    assert re.search(r"^  stopped +early after epoch (\d+): val_loss had not improved for 5 "
                     r"epochs \(best val_loss \S+ in epoch \d+, weights of that epoch kept\)$",
                     out, re.M)
    assert re.search(r"^  test +loss \S+  r2 \S+  \(111 samples of spec/held_out.csv\)$", out,
                     re.M)
    assert npframe.load(tmp_path / "w.npz").feature_names == header[:-1]  # not the weights


@pytest.mark.parametrize(("argv", "message"), [
    (["evaluate", "cancer.npz", "--data", "cancer_test.csv", "--metrics", "mae,,r2"],
     "--metrics: empty metric name in 'mae,,r2'"),
    (["train", "cancer.toml", "--targets", "diagnosis"],
     "--targets chooses columns of a --data file; give --data too"),
    (["train", "cancer.toml", "--data", "cancer.csv", "--targets", "diagnosis", "--weights",
      "wieght"], "cancer.csv: unknown weights column 'wieght'"),
    (["train", "cancer.toml", "--data", "cancer.csv", "--targets", "diagnosis", "--test",
      "nope.csv"], "nope.csv: no such file"),
    (["train", "cancer.toml", "--data", "cancer.csv", "--targets", "99:"],
     "cancer.csv: target columns '99:' select no column; the file has 31 columns"),
])
def test_bad_options_are_one_line(tables, cancer_model, monkeypatch, capsys, argv, message):
    code, out, err = main_in(tables, [*argv, "--out" if argv[0] == "train" else "--targets",
                                      "unused.npz" if argv[0] == "train" else "diagnosis"],
                             monkeypatch, capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"npframe: error: {message}") and len(err.splitlines()) == 1
    assert not (tables / "unused.npz").exists()


def test_checkpoint_every_saves_during_training(tables, monkeypatch, capsys):
    saved = []
    original = npframe.Network.save

    def save(net, path):
        saved.append(net.epoch)
        original(net, path)

    monkeypatch.setattr(npframe.Network, "save", save)
    code, _, err = main_in(tables, ["train", "diabetes.toml", "--data", "diabetes.csv",
                                    "--targets", "progression", "--epochs", "7",
                                    "--checkpoint-every", "3", "--out", "ck.npz", "-q"],
                           monkeypatch, capsys)
    assert code == 0, err
    assert saved == [3, 6, 7]  # two checkpoints, then the final save


# -- signals: divergence, convergence --------------------------------------------------------------
def test_divergence_exits_2_and_saves_nothing(tables):
    spec = tables / "hot.toml"
    spec.write_text(DIABETES_SPEC.replace("standardize = true",
                                          'optimizer = { name = "sgd", learning_rate = 5.0 }'))
    result = run("train", spec, "--data", "diabetes.csv", "--targets", "progression",
                 "--out", "hot.npz", "-q", cwd=tables)
    assert result.returncode == 2
    assert re.match(r"npframe: error: fit: the loss (became|exploded) .* try a smaller one",
                    result.stderr)
    assert len(result.stderr.splitlines()) == 1
    assert not (tables / "hot.npz").exists()


def test_a_run_that_did_not_converge_says_so(tables):
    spec = tables / "slow.toml"
    spec.write_text(DIABETES_SPEC.replace("standardize = true",
                                          'optimizer = { name = "adam", learning_rate = 1e-5 }')
                    .replace("epochs = 40", "epochs = 12"))
    result = run("train", spec, "--data", "diabetes.csv", "--targets", "progression",
                 "--out", "slow.npz", "-q", cwd=tables)
    assert result.returncode == 0, result.stderr
    (line,) = result.stderr.splitlines()
    assert re.match(r"npframe: warning: fit: after 12 epochs the training loss \(\S+\) is no "
                    r"better than predicting each target's mean \(\S+\): .*; try standardize "
                    r"= true", line)
    assert re.search(r"^  converged +no: training did not converge", result.stdout, re.M)


# -- interrupted and failed saves (issue 16) -------------------------------------------------------
def test_ctrl_c_saves_the_last_consistent_state_which_resumes_exactly(tables):
    spec = tables / "long.toml"
    spec.write_text(DIGITS_SPEC.replace("epochs = 10", "epochs = 100000"))
    env = {k: v for k, v in os.environ.items() if k != "NPFRAME_PLUGINS"}
    process = subprocess.Popen(
        [sys.executable, "-m", "npframe.cli", "train", str(spec), "--data", "digits.csv",
         "--targets", "digit", "--out", "long.npz"],
        cwd=tables, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    timer = threading.Timer(120, process.kill)  # never hang the suite
    timer.start()
    try:
        first = process.stderr.readline()  # the first epoch's progress line: training runs
        assert first.startswith("epoch 1/100000"), first
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, err
    message = err.strip().splitlines()[-1]
    match = re.match(r"npframe: interrupted (after epoch (\d+)|in epoch (\d+), after \d+ "
                     r"batch(es)? of it) \(step (\d+)\); saved that state to long.npz", message)
    assert match, message
    assert out == ""
    net = npframe.load(tables / "long.npz")
    assert net.loop.position.step == int(match.group(5))
    assert net.classes.tolist() == list(range(10))
    # resume: finishing this epoch equals an uninterrupted run of as many epochs
    target = net.epoch + 1
    net.fit(*_digits(tables), epochs=1, batch_size=32)
    reference = prepare(spec, tables / "digits.csv", targets="digit", epochs=target)
    reference.fit()
    assert net.epoch == reference.net.epoch == target
    for a, b in zip(net.get_weights(), reference.net.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def _digits(tables: Path) -> tuple[np.ndarray, np.ndarray]:
    data = load_data(tables / "digits.csv", "digit", labels=True)
    return data.X, data.y


@contextlib.contextmanager
def read_only(folder: Path):
    """A folder that refuses new files, also to root (``chattr +i``) when possible."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(folder)],
                                        capture_output=True).returncode != 0:
        pytest.skip("running as root without chattr +i: a folder cannot refuse root")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)


def test_a_read_only_out_folder_fails_before_training(tables, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    with read_only(folder):
        result = run("train", "diabetes.toml", "--data", "diabetes.csv", "--targets",
                     "progression", "--epochs", "100000", "--out", folder / "m.npz", "-q",
                     cwd=tables)
    assert result.returncode == 2
    assert re.match(rf"npframe: error: {re.escape(str(folder))}/m.npz: cannot save model: "
                    r"(Operation not permitted|Permission denied)$", result.stderr.strip())
    assert result.stdout == ""  # nothing trained: 100,000 epochs would take minutes


@pytest.mark.parametrize(("code", "reason"), [(errno.ENOSPC, "No space left on device"),
                                              (errno.EFBIG, "File too large"),
                                              (errno.EACCES, "Permission denied")])
def test_a_failed_save_is_one_line_naming_the_model(tables, monkeypatch, capsys, code, reason):
    import npframe.io

    def full(path, arrays, mode):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(npframe.io, "_write_atomically", full)
    status, out, err = main_in(tables, ["train", "diabetes.toml", "--data", "diabetes.csv",
                                        "--targets", "progression", "--epochs", "2",
                                        "--out", "full.npz", "-q"], monkeypatch, capsys)
    assert (status, out) == (2, "")
    assert err == f"npframe: error: full.npz: cannot save model: {reason}\n"
