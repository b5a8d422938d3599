"""The ``npframe`` command, driven through its entry point, and ``npframe.train``.

Subprocess tests run ``python -m npframe.cli`` (and once the installed ``npframe``
script) exactly as a user would; the many small error cases call ``main(argv)`` in
process, which is the same code path without the interpreter start-up.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import npframe
from npframe import cli
from npframe.data import load_data
from npframe.errors import DataError, SpecError

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "examples" / "tutorial.toml"
ERROR_LINE = re.compile(r"^npframe: error: \S.*$")


def run(*args: str, cwd: Path | None = None, env: dict | None = None,
        ) -> subprocess.CompletedProcess:
    """``python -m npframe.cli ARGS`` with stderr a pipe, hence not a terminal."""
    full_env = {k: v for k, v in os.environ.items() if k != "NPFRAME_PLUGINS"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "npframe.cli", *map(str, args)],
        capture_output=True, text=True, timeout=120, cwd=cwd, env=full_env,
    )


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def write_csv(path: Path, header: list[str], rows: np.ndarray) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows([repr(v) for v in row] for row in rows.tolist())
    return path


SMALL_SPEC = """\
input = 2
seed = 7
standardize = true
optimizer = { name = "sgd", learning_rate = 0.05 }

[[layers]]
units = 8
activation = "relu"

[[layers]]
units = 2
activation = "linear"

[train]
epochs = 40
batch_size = 16
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A spec, a CSV with columns a, b, sum, diff and a model trained on it by the CLI."""
    root = tmp_path_factory.mktemp("cli")
    (root / "net.toml").write_text(SMALL_SPEC)
    rng = np.random.default_rng(3)
    X = rng.uniform(-5, 5, size=(120, 2))
    table = np.column_stack([X, X.sum(axis=1), X[:, 0] - X[:, 1]])
    write_csv(root / "data.csv", ["a", "b", "sum", "diff"], table)
    result = run("train", "net.toml", "--data", "data.csv", "--targets", "sum,diff",
                 "--validation-split", "0.25", "--out", "model.npz", "--quiet", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # --quiet: no progress
    (root / "train.out").write_text(result.stdout)
    return root


# -- train ---------------------------------------------------------------------------------
def test_train_the_tutorial_end_to_end(tmp_path):
    result = run("train", TUTORIAL, "--epochs", "3", "--plot", "loss.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"trained {TUTORIAL}\n")
    assert "2 -> 4 relu -> 4 relu -> 3 linear  (47 parameters, float64, standardized, seed 42)" \
        in out
    assert "dataset 'tutorial': 7000 samples, 3000 test samples" in out
    # the spec's metrics = ["mae"], on the training data and on the test split
    assert re.search(r"^  final +loss \S+  mae \S+$", out, re.M)
    assert re.search(r"^  test +loss \S+  mae \S+$", out, re.M)
    assert "(losses on the standardized scale, metrics on the raw scale)" in out
    assert re.search(r"^  model +tutorial\.npz$", out, re.M)  # default: SPEC's name, here
    # the tutorial's four queries, answered on the raw scale
    assert re.search(r"^ +a +b +-> +a\+b +a-b +\|a-b\|$", out, re.M)
    assert re.search(r"^ +888 +122 +-> +-?\d+\.\d\d +-?\d+\.\d\d +-?\d+\.\d\d$", out, re.M)
    # stderr is a pipe, so progress comes as plain lines: first and last epoch
    progress = result.stderr.splitlines()
    assert progress[0].startswith("epoch 1/3  loss=")
    assert re.match(r"epoch 3/3  loss=\S+ mae=\S+  \[[\d.]+ epoch/s, \S+ total\]$", progress[-1])
    assert "\r" not in result.stderr
    assert png_size(tmp_path / "loss.png") == (800, 500)
    net = npframe.load(tmp_path / "tutorial.npz")
    assert net.epoch == 3 and net.scaler is not None


def test_train_summary_for_a_csv(workdir):
    out = (workdir / "train.out").read_text()
    assert ("data.csv: 120 samples (30 held out for validation); "
            "inputs a, b -> targets sum, diff") in out
    assert "40 epochs in" in out and "batch size 16" in out  # from the spec's [train] table
    assert re.search(r"^  final +loss \S+  val_loss \S+$", out, re.M)
    assert "test" not in out  # a CSV has no test split
    assert npframe.load(workdir / "model.npz").epoch == 40


# -- predict and evaluate --------------------------------------------------------------------
def test_predictions_read_back_equal_net_predict(workdir):
    net = npframe.load(workdir / "model.npz")
    X = load_data(workdir / "data.csv", "sum,diff").X
    expected = net.predict(X)

    result = run("predict", "model.npz", "--data", "data.csv", "--out", "pred.csv", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "wrote 120 predictions (sum, diff) to pred.csv\n"
    with (workdir / "pred.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["sum", "diff"]  # the target names, from the data file's header
    got = np.array([[float(v) for v in row] for row in rows[1:]])
    np.testing.assert_array_equal(got, expected)  # exact: the text round-trips

    # to standard output, from a file holding only the inputs: the model knows its targets
    write_csv(workdir / "inputs.csv", ["a", "b"], X[:5])
    result = run("predict", "model.npz", "--data", "inputs.csv", cwd=workdir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "sum,diff"
    np.testing.assert_array_equal(np.loadtxt(lines[1:], delimiter=","), expected[:5])


def test_evaluate_prints_the_loss_and_metrics(workdir):
    result = run("evaluate", "model.npz", "--data", "data.csv", cwd=workdir)
    assert result.returncode == 0, result.stderr
    net = npframe.load(workdir / "model.npz")
    data = load_data(workdir / "data.csv", n_features=2)
    lines = result.stdout.splitlines()
    assert lines[0] == "model.npz on data.csv: 120 samples"
    match = re.match(r"^  loss +(\S+) +\(mse, standardized scale\)$", lines[1])
    assert match and float(match.group(1)) == pytest.approx(net.evaluate(data.X, data.y),
                                                            rel=1e-5)


def test_evaluate_with_more_metrics_in_process(workdir, capsys, monkeypatch):
    from npframe.interfaces import Metric

    class MaxError(Metric):
        greater_is_better = False

        def __call__(self, y_true, y_pred):
            return float(np.max(np.abs(y_true - y_pred)))

    npframe.registry.register("metric", "cli_test_max_error", MaxError)
    try:
        monkeypatch.chdir(workdir)
        code = cli.main(["evaluate", "model.npz", "--data", "data.csv",
                         "--metrics", "cli_test_max_error"])
    finally:
        npframe.registry.default_registry().unregister("metric", "cli_test_max_error")
    out = capsys.readouterr().out
    net = npframe.load(workdir / "model.npz")
    data = load_data(workdir / "data.csv", n_features=2)
    value = float(re.search(r"^  cli_test_max_error +(\S+)", out, re.M).group(1))
    assert code == 0
    assert value == pytest.approx(np.max(np.abs(net.predict(data.X) - data.y)), rel=1e-5)


# -- check -----------------------------------------------------------------------------------
def test_check_prints_layers_parameters_and_providers():
    result = run("check", TUTORIAL)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    provider = f"npframe {npframe.__version__}"
    assert out.startswith(f"{TUTORIAL}: ok\n")
    assert re.search(r"^ +0 +dense +relu +4 +12  W\(2, 4\) b\(4,\)$", out, re.M)
    assert re.search(r"^ +2 +dense +linear +3 +15  W\(4, 3\) b\(3,\)$", out, re.M)
    assert "47 parameters, float64, 3 layers\n  standardize = true, seed 42" in out
    assert re.search(rf"^  optimizer +sgd\(learning_rate=0.01\) +{provider}$", out, re.M)
    assert re.search(rf"^  dataset +tutorial +{provider}$", out, re.M)
    assert "train: dataset tutorial, 200 epochs, batch size 32, shuffled" in out


# -- errors: one line, exit 2 ----------------------------------------------------------------
def test_bad_spec_is_one_line_with_the_spec_path(tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text(SMALL_SPEC.replace('activation = "relu"', 'activation = "rleu"'))
    result = run("check", spec)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(
        f"npframe: error: {spec}: layers[0].activation: unknown activation 'rleu'; "
        "did you mean 'relu'?")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


def test_bad_csv_is_one_line_with_line_and_column(workdir, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,sum,diff\n1,2,3,-1\n4,abc,9,-1\n")
    result = run("train", workdir / "net.toml", "--data", bad, "--out", tmp_path / "m.npz")
    assert result.returncode == 2
    assert result.stderr == f"npframe: error: {bad}:3:2: could not convert 'abc' to a number\n"
    assert not (tmp_path / "m.npz").exists()


def test_usage_error_exits_2(workdir):
    result = run("train", "net.toml", "--epochs", "many", cwd=workdir)
    assert result.returncode == 2
    assert "usage: npframe train" in result.stderr
    assert "argument --epochs: epochs must be an int (got 'many')" in result.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["predict", "missing.npz", "--data", "data.csv"], "missing.npz: no such model file"),
        (["predict", "net.toml", "--data", "data.csv"], "net.toml: not an npframe model file"),
        (["predict", "model.npz", "--data", "nope.csv"], "nope.csv: no such file"),
        (["evaluate", "model.npz", "--data", "inputs2.csv"],
         "inputs2.csv: missing target column 'sum' (the model's targets: sum, diff)"),
        (["predict", "model.npz", "--data", "data3.csv"],
         "data3.csv: unexpected column 'c'; the model was trained on a, b"),
        (["evaluate", "model.npz", "--data", "data.csv", "--metrics", "maxerr"],
         "--metrics: unknown metric 'maxerr'"),
        (["train", "net.toml", "--data", "inputs2.csv"],
         "inputs2.csv: no target columns; the network has 2 outputs"),
        (["train", "net.toml"], "no data: pass --data FILE, or name a dataset in net.toml's "
                                "[train] table"),
        (["train", "net.toml", "--targets", "sum"], "--targets chooses columns of a --data file"),
        (["train", "net.toml", "--data", "data.csv", "--targets", "sum,diff", "--out", "m.zip"],
         "--out m.zip: the file name must end in .npz"),
        (["train", "net.toml", "--data", "data.csv", "--targets", "sum,diff", "--out",
          "no/such/m.npz"], "--out no/such/m.npz: folder 'no/such' does not exist"),
        (["train", "net.toml", "--data", "data.csv", "--targets", "sum,diff", "--plot",
          "loss.jpg"], "--plot loss.jpg: the file name must end in .png"),
        (["train", "net.toml", "--data", "data.csv", "--targets", "sum,diff", "--validation-split",
          "0.001"], "validation_split=0.001 of 120 samples leaves an empty training or "),
        (["check", "missing.toml"], "missing.toml: no such file"),
    ],
)
def test_bad_input_in_process(workdir, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(workdir)
    if not (workdir / "inputs2.csv").exists():
        write_csv(workdir / "inputs2.csv", ["a", "b"], np.ones((3, 2)))
        write_csv(workdir / "data3.csv", ["a", "b", "c"], np.ones((3, 3)))
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1 and ERROR_LINE.match(captured.err)
    assert message in captured.err
    assert not (workdir / "m.npz").exists()
    assert not (workdir / "net.npz").exists()  # nothing trained, nothing saved


def test_divergence_is_bad_input_not_a_crash(workdir, tmp_path, monkeypatch, capsys):
    spec = tmp_path / "hot.toml"
    spec.write_text(SMALL_SPEC.replace("0.05", "1e6").replace("standardize = true", ""))
    monkeypatch.chdir(workdir)
    code = cli.main(["train", str(spec), "--data", "data.csv", "--targets", "sum,diff", "-q",
                     "--out", str(tmp_path / "m.npz")])
    assert code == 2
    assert re.search(r"the loss (became|exploded)", capsys.readouterr().err)


def test_zero_epochs_save_the_untrained_model_and_draw_no_plot(workdir, tmp_path, monkeypatch,
                                                               capsys):
    monkeypatch.chdir(workdir)
    code = cli.main(["train", "net.toml", "--data", "data.csv", "--epochs", "0", "--seed", "5",
                     "--plot", str(tmp_path / "p.png"), "--out", str(tmp_path / "m.npz")])
    assert code == 0
    assert re.search(r"^  plot +none: no epochs trained$", capsys.readouterr().out, re.M)
    assert not (tmp_path / "p.png").exists()
    net = npframe.load(tmp_path / "m.npz")
    assert (net.epoch, net.spec.seed) == (0, 5)


def test_missing_matplotlib_is_reported_before_training(workdir, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.chdir(workdir)
    code = cli.main(["train", "net.toml", "--data", "data.csv", "--targets", "sum,diff",
                     "--plot", "loss.png", "--out", "unused.npz"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("npframe: error: --plot: plotting needs matplotlib")
    assert 'pip install "npframe[plot]"' in err
    assert not (workdir / "unused.npz").exists()


# -- help, version, usage ------------------------------------------------------------------------
@pytest.mark.parametrize("command", [[], ["train"], ["predict"], ["evaluate"], ["check"],
                                     ["plugins"]])
def test_help_everywhere(command, capsys):
    assert cli.main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: npframe {' '.join(command)}".rstrip())
    if not command:
        assert "exit codes: 0 ok, 2 usage error or bad input" in out


def test_version_and_missing_command(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"npframe {npframe.__version__}\n"
    assert cli.main([]) == 2
    assert "the following arguments are required: COMMAND" in capsys.readouterr().err


def test_the_installed_script():
    script = shutil.which("npframe")
    if script is None:
        pytest.skip("the npframe console script is not on PATH (package not installed)")
    result = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (0, f"npframe {npframe.__version__}\n")


# -- plugins, and an unexpected error: exit 1 with a traceback ------------------------------------
PLUGIN = '''
import npframe

class Explode(npframe.Activation):
    def forward(self, z):
        raise RuntimeError("boom")

    def backward(self, z, a, grad_a):
        return grad_a

@npframe.hookimpl
def npframe_register(registry):
    registry.register("activation", "explode", Explode)
'''


def fake_distribution(site: Path, name: str, version: str, entry_points: str) -> None:
    """A ``.dist-info`` folder: what ``pip install`` leaves, minus the files."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[npframe]\n{entry_points}\n")


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """Two installed-looking plugins on PYTHONPATH: one works, one fails to import."""
    site = tmp_path_factory.mktemp("site")
    fake_distribution(site, "npframe-cli-explode", "0.3", "explode = npframe_cli_explode")
    (site / "npframe_cli_explode.py").write_text(textwrap.dedent(PLUGIN))
    fake_distribution(site, "npframe-cli-broken", "0.1", "broken = npframe_cli_no_such_module")
    return site


def test_plugins_lists_components_and_failures(plugin_site):
    result = run("plugins", env={"PYTHONPATH": str(plugin_site)})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    version = npframe.__version__
    assert re.search(r"^  npframe-cli-explode 0.3 +loaded +1 components +"
                     r"explode = npframe_cli_explode$", out, re.M)
    assert re.search(r"^activation \(\d+\)\n(  .*\n)*  explode +npframe-cli-explode 0.3 +"
                     r"npframe_cli_explode.Explode$", out, re.M)
    assert re.search(rf"^optimizer \(\d+\)\n(  .*\n)*  sgd +npframe {version} ", out, re.M)
    assert re.search(r"^Failed plugins \(1\)\n  npframe plugin 'broken' \(npframe-cli-broken "
                     r"0.1\) failed to load: ModuleNotFoundError: No module named "
                     r"'npframe_cli_no_such_module'$", out, re.M)
    assert result.stderr == ""  # listed, so not warned about as well


def test_plugins_json_and_kind(capsys):
    assert cli.main(["plugins", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    sgd = next(c for c in report["components"]["optimizer"] if c["name"] == "sgd")
    assert (sgd["distribution"], sgd["version"]) == ("npframe", npframe.__version__)
    assert cli.main(["plugins", "--kind", "dataset"]) == 0
    out = capsys.readouterr().out
    assert "dataset (" in out and "tutorial" in out and "activation (" not in out
    assert cli.main(["plugins", "--kind", "widget"]) == 2


def test_unexpected_error_exits_1_with_a_traceback(workdir, plugin_site, tmp_path):
    spec = tmp_path / "explode.json"
    spec.write_text(json.dumps({"input": 2, "layers": [{"units": 2, "activation": "explode"}]}))
    result = run("train", spec, "--data", "data.csv", "--out", tmp_path / "m.npz",
                 cwd=workdir, env={"PYTHONPATH": str(plugin_site)})
    assert result.returncode == 1
    err = result.stderr
    # the broken plugin is a short warning, not Python's two-line format
    assert err.splitlines()[0] == (
        "npframe: warning: npframe plugin 'broken' (npframe-cli-broken 0.1) failed to load: "
        "ModuleNotFoundError: No module named 'npframe_cli_no_such_module'")
    assert "Traceback (most recent call last)" in err
    assert "RuntimeError: boom" in err
    assert err.rstrip().endswith("please report it with the traceback above")


# -- npframe.train, the Python side of `npframe train` ---------------------------------------------
def test_train_function_uses_the_spec_train_table(workdir):
    net, history = npframe.train(workdir / "net.toml", workdir / "data.csv", targets="sum,diff")
    assert isinstance(net, npframe.Network) and len(history.loss) == 40
    net2, history2 = npframe.train(workdir / "net.toml", workdir / "data.csv", epochs=3,
                                   batch_size="full", validation_split=0.5)
    assert len(history2.loss) == len(history2.val_loss) == 3
    np.testing.assert_array_equal(  # same seed, same init, whatever the data
        npframe.Network.from_spec(workdir / "net.toml").get_weights()[0],
        npframe.train(workdir / "net.toml", workdir / "data.csv", epochs=0)[0].get_weights()[0])
    reseeded, _ = npframe.train(workdir / "net.toml", workdir / "data.csv", epochs=0, seed=8)
    assert reseeded.spec.seed == 8
    assert not np.array_equal(reseeded.get_weights()[0], net2.get_weights()[0])


def test_train_function_accepts_arrays_and_datasets(tutorial_spec):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 2)), rng.normal(size=(20, 3))
    _, history = npframe.train(tutorial_spec, (X, y), epochs=2)
    assert len(history.loss) == 2
    _, history = npframe.train(tutorial_spec, npframe.Dataset(X=X, y=y), epochs=1)
    assert len(history.loss) == 1
    tutorial_spec["train"] = {"dataset": {"name": "tutorial", "n_samples": 50}, "epochs": 2}
    _, history = npframe.train(tutorial_spec)
    assert len(history.loss) == 2


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "message"),
    [
        (None, {}, DataError, "no training data"),
        ((np.ones((4, 3)), np.ones((4, 3))), {}, DataError,
         "data: X has shape (4, 3), but the network takes 2 inputs"),
        ((np.ones((4, 2)), np.ones((4, 2))), {}, DataError,
         "data: y has shape (4, 2), but the network has 3 outputs"),
        ((np.ones((4, 2)), np.ones((4, 3))), {"targets": "a"}, DataError,
         "targets choose columns of a data file"),
        ((np.ones((4, 2)), np.ones((4, 3))), {"seed": -1}, SpecError, "seed: must be an int"),
        ("x", {}, DataError, "unsupported data file type"),
        (42, {}, DataError, "data must be a file path, an npframe.Dataset or an (X, y) pair"),
    ],
)
def test_train_function_errors(tutorial_spec, data, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        npframe.train(tutorial_spec, data, **kwargs)
