"""Running sweeps: the same table serially, on a process pool and on Dask; resuming;
failed trials; workers that die; the best model; cross-validation; the command line."""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from distributed import Client, LocalCluster
from sweep_callbacks import CrashOnce, InterruptAt

import npframe
from npframe.cli import main
from npframe.errors import SweepIncompleteError
from npframe.sweeps import process_pool
from npframe.sweeps.executors import BLAS_THREAD_VARIABLES, worker_info
from npframe.sweeps.trial import TrialTask, fold_slices

ROOT = Path(__file__).resolve().parent.parent
DOCS_SWEEP = ROOT / "docs" / "examples" / "sweep" / "sweep.toml"

NET = """\
input = 2
seed = 5
standardize = true
optimizer = { name = "adam", learning_rate = 0.01 }
metrics = ["mae"]

[[layers]]
units = 8
activation = "relu"

[[layers]]
units = 1
activation = "linear"

[train]
batch_size = 16
"""

HEAD = """\
spec = "net.toml"
data = "data.csv"
targets = "t"
epochs = 15
"""

GRID = HEAD + """\
validation_split = 0.25
[grid]
"optimizer.learning_rate" = [0.003, 0.03]
"layers[0].units" = [4, 16]
"""

RANDOM = HEAD + """\
validation_split = 0.25
rank = "val_mae"
seed = 4
[random]
trials = 4
"optimizer.learning_rate" = { loguniform = [0.001, 0.1] }
"layers[0].units" = { randint = [2, 12] }
optimizer = { choice = ["adam", "rmsprop"] }
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """net.toml and data.csv (120 rows, t = a * b + a / 2) for the sweeps here."""
    folder = tmp_path_factory.mktemp("sweep")
    (folder / "net.toml").write_text(NET)
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (120, 2))
    table = np.c_[X, X[:, 0] * X[:, 1] + X[:, 0] / 2]
    np.savetxt(folder / "data.csv", table, delimiter=",", header="a,b,t", comments="")
    return folder


@pytest.fixture(scope="module")
def cluster():
    """A two-worker LocalCluster (one thread each), closed when the module's tests end."""
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def write(folder: Path, text: str, name: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def without_seconds(rows):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def csv_without_seconds(path: Path):
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    drop = rows[0].index("seconds")
    return [row[:drop] + row[drop + 1:] for row in rows]


# -- the same table everywhere -------------------------------------------------------------
@pytest.mark.parametrize("space", ["grid", "random"])
def test_the_same_table_serially_on_processes_and_on_dask(folder, tmp_path, cluster, space):
    path = write(folder, GRID if space == "grid" else RANDOM, f"{space}.toml")
    serial = npframe.sweep(path, out=tmp_path / "serial.csv")
    pool = npframe.sweep(path, workers=2, out=tmp_path / "pool.csv")
    dask = npframe.sweep(path, cluster.get_executor(), out=tmp_path / "dask.csv")
    assert len(serial.rows) == 4 and all(row["status"] == "ok" for row in serial.rows)
    assert without_seconds(pool.rows) == without_seconds(serial.rows)
    assert without_seconds(dask.rows) == without_seconds(serial.rows)
    reference = csv_without_seconds(tmp_path / "serial.csv")
    assert csv_without_seconds(tmp_path / "pool.csv") == reference
    assert csv_without_seconds(tmp_path / "dask.csv") == reference
    assert len({row["layers[0].units"] for row in serial.rows}) > 1  # trials differ
    # the best model files hold the same network
    weights = [npframe.load(r.best_model).get_weights() for r in (serial, pool, dask)]
    for other in weights[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(weights[0], other, strict=True))


def test_pool_workers_run_blas_on_one_thread_and_the_parent_is_left_as_it_was(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    with process_pool(2) as pool:
        infos = [pool.submit(worker_info).result() for _ in range(4)]
    for info in infos:
        assert all(info[name] == "1" for name in BLAS_THREAD_VARIABLES), info
    assert os.environ["OMP_NUM_THREADS"] == "7"
    assert "OPENBLAS_NUM_THREADS" not in os.environ


# -- interruptions and failures ------------------------------------------------------------
def test_an_interrupted_sweep_resumes_with_only_the_missing_trials(folder, tmp_path):
    path = write(folder, GRID, "grid.toml")
    out = tmp_path / "results.csv"
    with pytest.raises(KeyboardInterrupt):
        npframe.sweep(path, out=out, callbacks=[InterruptAt(3)])
    saved = json.loads(out.with_suffix(".json").read_text())["trials"]
    assert [row["trial"] for row in saved] == [0, 1]
    assert len(csv_without_seconds(out)) == 1 + 2
    resumed = npframe.sweep(path, out=out)
    assert (resumed.ran, resumed.resumed) == (2, 2)
    fresh = npframe.sweep(path)
    assert without_seconds(resumed.rows) == without_seconds(fresh.rows)
    again = npframe.sweep(path, out=out)
    assert (again.ran, again.resumed) == (0, 4)


def test_a_random_search_grown_runs_only_the_new_trials(folder, tmp_path):
    out = tmp_path / "results.csv"
    first = npframe.sweep(write(folder, RANDOM, "random.toml"), out=out)
    grown = npframe.sweep(write(folder, RANDOM.replace("trials = 4", "trials = 6"),
                                "random6.toml"), out=out)
    assert (grown.ran, grown.resumed) == (2, 4)
    assert without_seconds(grown.rows[:4]) == without_seconds(first.rows)


def test_failing_trials_are_recorded_and_the_rest_complete(folder, tmp_path):
    path = write(folder, HEAD + """\
        validation_split = 0.25
        [grid]
        optimizer = ["momentum", "adam"]
        "optimizer.learning_rate" = [0.01, 1e5]
        "optimizer.momentum" = [0.9]
        """, "failing.toml")
    result = npframe.sweep(path, out=tmp_path / "results.csv")
    status = {(r["optimizer"], r["optimizer.learning_rate"]): r for r in result.rows}
    assert status["momentum", 0.01]["status"] == "ok"
    assert status["momentum", 1e5]["status"] == "failed"
    assert status["momentum", 1e5]["error"].startswith("DivergenceError: fit: the loss ")
    assert status["momentum", 1e5]["val_loss"] is None
    for lr in (0.01, 1e5):  # adam takes no momentum: a bad combination
        assert status["adam", lr]["status"] == "failed"
        assert status["adam", lr]["error"].startswith(
            "SpecError: optimizer: unknown parameter 'momentum' for 'adam'")
    assert result.best["trial"] == 0
    with (tmp_path / "results.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["status"] for row in rows] == ["ok", "failed", "failed", "failed"]
    assert rows[1]["val_loss"] == "" and rows[1]["error"].startswith("DivergenceError")


def test_a_worker_killed_mid_sweep_loses_and_duplicates_nothing(folder, tmp_path):
    path = write(folder, GRID, "grid.toml")
    marker = tmp_path / "crashed"
    result = npframe.sweep(path, workers=2, out=tmp_path / "results.csv",
                           callbacks=[CrashOnce(str(marker))])
    assert marker.exists()  # a worker did die
    assert [row["trial"] for row in result.rows] == [0, 1, 2, 3]
    assert without_seconds(result.rows) == without_seconds(npframe.sweep(path).rows)
    assert len(csv_without_seconds(tmp_path / "results.csv")) == 1 + 4


def test_a_worker_killed_on_dask_is_rerun_elsewhere(folder, tmp_path, cluster):
    path = write(folder, GRID, "grid.toml")
    marker = tmp_path / "crashed"
    executor = cluster.get_executor(retries=2, pure=False)
    result = npframe.sweep(path, executor, out=tmp_path / "results.csv",
                           callbacks=[CrashOnce(str(marker))])
    assert marker.exists()
    assert [row["trial"] for row in result.rows] == [0, 1, 2, 3]
    assert without_seconds(result.rows) == without_seconds(npframe.sweep(path).rows)
    cluster.wait_for_workers(2, timeout=30)  # the nanny restarted the dead one


def test_trials_lost_with_a_broken_executor_are_left_for_the_next_run(folder, tmp_path):
    path = write(folder, GRID, "grid.toml")
    out = tmp_path / "results.csv"
    marker = tmp_path / "crashed"
    lost = r"of 4 trials did not finish \(BrokenProcessPool"
    pool = concurrent.futures.ProcessPoolExecutor(1)  # a user's pool: not rebuilt
    with pool, pytest.raises(SweepIncompleteError, match=lost) as caught:
        npframe.sweep(path, pool, out=out, callbacks=[CrashOnce(str(marker))])
    finished = caught.value.result.rows
    assert len(finished) < 4 and caught.value.result.missing
    rerun = npframe.sweep(path, out=out)
    assert rerun.ran == 4 - len(finished) and not rerun.missing
    assert without_seconds(rerun.rows) == without_seconds(npframe.sweep(path).rows)


# -- the best model, cross-validation -------------------------------------------------------
def test_the_best_trials_model_is_saved_beside_the_results(folder, tmp_path):
    result = npframe.sweep(write(folder, GRID, "grid.toml"), out=tmp_path / "results.csv")
    assert result.best_model == tmp_path / "results.best.npz"
    net = npframe.load(result.best_model)
    spec = net.to_spec()
    assert spec["optimizer"]["learning_rate"] == result.best["optimizer.learning_rate"]
    assert spec["layers"][0]["units"] == result.best["layers[0].units"]
    data = np.loadtxt(folder / "data.csv", delimiter=",", skiprows=1)
    X_val, y_val = data[-30:, :2], data[-30:, 2:]
    assert net.evaluate(X_val, y_val) == pytest.approx(result.best["val_loss"], rel=1e-12)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["best_model"]["trial"] == result.best["trial"]


def test_cross_validation_averages_the_folds_and_refits_the_best_on_every_row(folder,
                                                                              tmp_path):
    path = write(folder, HEAD + """\
        folds = 3
        [grid]
        "optimizer.learning_rate" = [0.003, 0.03]
        """, "folds.toml")
    result = npframe.sweep(path, out=tmp_path / "results.csv")
    assert "val_loss_std" in result.columns
    data = np.loadtxt(folder / "data.csv", delimiter=",", skiprows=1)
    X, y = data[:, :2], data[:, 2:]
    spec = npframe.sweeps.load_sweep(path).spec
    spec["optimizer"]["learning_rate"] = 0.003
    losses = []
    for block in fold_slices(len(X), 3):
        keep = np.ones(len(X), dtype=bool)
        keep[block] = False
        net = npframe.Network.from_spec(spec)
        history = net.fit(X[keep], y[keep], epochs=15, batch_size=16,
                          validation_data=(X[block], y[block]))
        losses.append(history.val_loss[-1])
    row = result.rows[0]
    assert row["val_loss"] == pytest.approx(np.mean(losses), rel=1e-12)
    assert row["val_loss_std"] == pytest.approx(np.std(losses), rel=1e-9)
    # the best model is trained on all 120 rows with the best trial's values
    best_spec = npframe.sweeps.load_sweep(path).spec
    best_spec["optimizer"]["learning_rate"] = result.best["optimizer.learning_rate"]
    refit = npframe.Network.from_spec(best_spec)
    refit.fit(X, y, epochs=15, batch_size=16)
    saved = npframe.load(result.best_model)
    assert all(np.array_equal(a, b) for a, b in
               zip(saved.get_weights(), refit.get_weights(), strict=True))


# -- the command line ------------------------------------------------------------------------
def test_the_command_prints_a_summary_and_writes_both_files(folder, tmp_path, capsys):
    out = tmp_path / "results.csv"
    assert main(["sweep", str(write(folder, GRID, "grid.toml")), "--out", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "4 trials (4 run now), 0 failed; ranked by val_loss (lower is better)" in text
    assert f"best model: {tmp_path / 'results.best.npz'}" in text
    assert out.exists() and out.with_suffix(".json").exists()


def test_a_bad_sweep_file_is_one_line_and_exit_code_2(folder, tmp_path, capsys):
    path = write(folder, GRID.replace('"layers[0].units"', '"layers[0].unit"'), "bad.toml")
    assert main(["sweep", str(path), "--out", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'npframe: error: {path}: grid."layers[0].unit": not a path in the spec')
    assert err.count("\n") == 1
    assert not (tmp_path / "r.csv").exists()


def test_the_command_runs_on_a_dask_scheduler(folder, tmp_path, cluster):
    path = write(folder, GRID, "grid.toml")
    npframe.sweep(path, out=tmp_path / "serial.csv")
    address = cluster.scheduler.address
    assert main(["sweep", str(path), "--out", str(tmp_path / "dask.csv"), "--scheduler",
                 address, "-q"]) == 0
    assert csv_without_seconds(tmp_path / "dask.csv") == csv_without_seconds(
        tmp_path / "serial.csv")


def test_without_dask_the_dask_options_name_the_extra(folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    path = write(folder, GRID, "grid.toml")
    for option in (["--dask-local", "2"], ["--scheduler", "tcp://127.0.0.1:8786"]):
        assert main(["sweep", str(path), "--out", str(tmp_path / "r.csv"), *option]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"npframe: error: {option[0]} needs Dask's distributed scheduler,"
                              " which is not installed")
        assert err.rstrip().endswith('install the dask extra: pip install "npframe[dask]"')


def test_an_unreachable_scheduler_is_one_line(folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("npframe.sweeps.executors.CONNECT_TIMEOUT", "0.5s")
    path = write(folder, GRID, "grid.toml")
    assert main(["sweep", str(path), "--out", str(tmp_path / "r.csv"), "--scheduler",
                 "tcp://127.0.0.1:9"]) == 2
    assert capsys.readouterr().err.startswith(
        "npframe: error: --scheduler tcp://127.0.0.1:9: cannot connect:")


@pytest.mark.parametrize(("sig", "option"), [(signal.SIGINT, []),
                                             (signal.SIGTERM, ["--workers", "2"])])
def test_ctrl_c_saves_the_finished_trials_stops_the_workers_and_exits_130(folder, tmp_path,
                                                                          sig, option):
    path = write(folder, GRID.replace("epochs = 15", "epochs = 300"), "slow.toml")
    out = tmp_path / "results.csv"
    process = subprocess.Popen([sys.executable, "-m", "npframe", "sweep", str(path), "--out",
                                str(out), "-q", *option], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not out.with_suffix(".json").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        children = psutil.Process(process.pid).children(recursive=True)
        process.send_signal(sig)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    saved = len(json.loads(out.with_suffix(".json").read_text())["trials"])
    assert 1 <= saved < 4
    assert (f"npframe: sweep interrupted: {saved} of 4 trials are saved in {out}; run the same "
            f"command again to run the other {4 - saved}") in err
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"left behind: {[p.cmdline() for p in alive]}"
    rerun = npframe.sweep(path, out=out)
    assert (rerun.ran, rerun.resumed) == (4 - saved, saved)


# -- the documented example ------------------------------------------------------------------
def _ranking(text: str) -> list[list[str]]:
    """The summary's header line and ranking rows, without the seconds column."""
    lines = [line.split() for line in text.splitlines()
             if line.startswith("swept ") or line[:3].strip().isdigit()]
    return [line if line[0] == "swept" else line[:-1] for line in lines]


def test_the_documented_sweep_runs_as_shown_on_one_process_a_pool_and_a_local_cluster(
        tmp_path, capsys, monkeypatch):
    """docs/sweeps.md's command, as written; --dask-local closes its cluster."""
    monkeypatch.chdir(ROOT)
    own = psutil.Process()
    before = _workers(own)
    tables = []
    for name, option in (("serial", []), ("pool", ["--workers", "2"]),
                         ("dask", ["--dask-local", "2"])):
        out = tmp_path / f"{name}.csv"
        assert main(["sweep", "docs/examples/sweep/sweep.toml", "--out", str(out), "-q",
                     *option]) == 0
        tables.append(csv_without_seconds(out))
        if name == "serial":
            shown = (ROOT / "docs" / "sweeps.md").read_text().split(
                "$ npframe sweep docs/examples/sweep/sweep.toml --out results.csv\n")[1]
            assert _ranking(capsys.readouterr().out) == _ranking(shown.split("```")[0])
    assert tables[0] == tables[1] == tables[2]
    assert len(tables[0]) == 1 + 6
    # trial 0 (learning rate 0.001, 4 units) learns nothing in 40 epochs: ok, ranked,
    # its ConvergenceWarning in the row (on all three, never on the terminal or raised)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "dask.csv").read_text())))
    assert rows[0]["status"] == "ok" and rows[0]["val_mae"]
    assert rows[0]["warning"].startswith("fit: after 40 epochs the training loss")
    assert not any(row["warning"] for row in rows[1:])
    left = _workers(own) - before
    assert not left, "the sweep left worker processes behind"


def _workers(process: psutil.Process) -> set[int]:
    """Live child processes, except multiprocessing's resource tracker (it lives on)."""
    pids = set()
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.is_running() and "resource_tracker" not in " ".join(child.cmdline()):
                pids.add(child.pid)
    return pids


# -- data larger than memory ---------------------------------------------------------------------
def test_a_mapped_data_file_goes_to_workers_by_path_with_the_same_table_everywhere(
        folder, tmp_path, cluster, monkeypatch):
    """A .npy file over MMAP_BYTES (0 here) stays mapped: trials receive its path, not
    its rows, and map it themselves; serial, pool and Dask agree."""
    monkeypatch.setattr(npframe.data, "MMAP_BYTES", 0)
    table = np.loadtxt(folder / "data.csv", delimiter=",", skiprows=1)
    np.save(tmp_path / "data.npy", table)
    sweep_file = GRID.replace('spec = "net.toml"', f'spec = "{folder / "net.toml"}"')
    sweep_file = sweep_file.replace('data = "data.csv"\ntargets = "t"', 'data = "data.npy"')
    plan = npframe.sweeps.load_sweep(write(tmp_path, sweep_file, "mapped.toml"))
    assert isinstance(plan.X, np.memmap) and isinstance(plan.y, np.memmap)
    task = pickle.dumps(TrialTask(index=0, params=plan.params(0), base_spec=plan.spec,
                                  X=plan.X, y=plan.y, validation_split=plan.validation_split))
    assert table[:, :2].tobytes() not in task and table[:, 2:].tobytes() not in task
    assert str(tmp_path / "data.npy").encode() in task
    serial = npframe.sweep(plan, out=tmp_path / "serial.csv")
    pool = npframe.sweep(plan, workers=2, out=tmp_path / "pool.csv")
    dask = npframe.sweep(plan, cluster.get_executor(), out=tmp_path / "dask.csv")
    assert all(row["status"] == "ok" for row in serial.rows)
    assert without_seconds(pool.rows) == without_seconds(serial.rows)
    assert without_seconds(dask.rows) == without_seconds(serial.rows)


def test_cross_validation_on_a_mapped_file_is_refused_with_the_way_out(folder, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setattr(npframe.data, "MMAP_BYTES", 0)
    np.save(tmp_path / "data.npy", np.loadtxt(folder / "data.csv", delimiter=",", skiprows=1))
    path = write(tmp_path, f"""\
        spec = "{folder / 'net.toml'}"
        data = "data.npy"
        folds = 3
        [grid]
        "layers[0].units" = [4, 8]
        """, "folds.toml")
    with pytest.raises(npframe.SpecError, match=r"folds\.toml: folds: .*data\.npy is "
                       r"memory-mapped .*cross-validation needs the rows in memory: use "
                       "validation_split"):
        npframe.sweeps.load_sweep(path)
