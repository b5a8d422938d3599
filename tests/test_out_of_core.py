"""Training on data that is not in memory: memory maps and Dask arrays, streamed.

The streamed path must train exactly as in memory (the same weights, bit for bit, for
memory maps: the statistics pass and the shuffle depend on the data, not on how it is
stored), resume exactly, and keep peak memory bounded by the batch and window sizes,
which a subprocess with a data-size limit far below the file's size proves.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import npframe

SPEC = {"input": 6, "seed": 3, "standardize": True,
        "optimizer": {"name": "adam", "learning_rate": 0.01},
        "layers": [{"units": 16, "activation": "relu"}, {"type": "dropout", "rate": 0.1},
                   {"units": 2, "activation": "linear"}]}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(3000, 6))
    Y = np.stack([X.sum(1), X[:, 0] * X[:, 1]], 1)
    folder = tmp_path_factory.mktemp("ooc")
    np.save(folder / "X.npy", X)
    np.save(folder / "Y.npy", Y)
    return folder, X, Y


def mapped(folder):
    return (np.load(folder / "X.npy", mmap_mode="r"), np.load(folder / "Y.npy", mmap_mode="r"))


def same(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.get_weights(), b.get_weights(),
                                                    strict=True))


@pytest.mark.parametrize("kwargs", [
    {"shuffle_window": 700}, {"shuffle_window": 5000}, {"shuffle": False},
    {"shuffle_window": 700, "validation_split": 0.2}, {"batch_size": None, "shuffle": False},
])
def test_a_memory_map_trains_exactly_like_the_array(files, kwargs):
    folder, X, Y = files
    kwargs = {"batch_size": 64, **kwargs}
    in_memory = npframe.Network.from_spec(SPEC)
    h1 = in_memory.fit(X, Y, epochs=3, **kwargs)
    streamed = npframe.Network.from_spec(SPEC)
    h2 = streamed.fit(*mapped(folder), epochs=3, **kwargs)
    assert h1.loss == h2.loss and h1.val_loss == h2.val_loss
    assert same(in_memory, streamed)
    for key, value in in_memory.scaler.state_dict().items():
        np.testing.assert_array_equal(value, streamed.scaler.state_dict()[key])


def test_a_streamed_shuffle_is_a_shuffle(files):
    """Windows visited in a random order, rows within a window too: epochs differ."""
    folder, X, _Y = files
    net = npframe.Network.from_spec(SPEC)
    batches = npframe.training.StreamedBatches(
        net.loop, *map(npframe.sources.as_source, mapped(folder)), None, 64, True, 700,
        None, None)
    first = batches.plan(np.random.default_rng(1))
    second = batches.plan(np.random.default_rng(2))
    assert sorted(first[0]) == list(range(len(batches.windows)))
    assert list(first[0]) != list(second[0])
    x, _, _ = batches.fetch(0, first)
    rows = {tuple(r) for r in X.astype(np.float64)}
    assert all(tuple(r) in rows for r in x)
    assert not np.array_equal(x, X[:64])


def test_a_stopped_streamed_epoch_resumes_exactly(files, tmp_path):
    folder, _X, _Y = files
    once = npframe.Network.from_spec(SPEC)
    once.fit(*mapped(folder), epochs=3, batch_size=64, shuffle_window=700)

    class Stop:
        def on_batch_end(self, step, logs):
            if step == 60:
                raise KeyboardInterrupt

    cut = npframe.Network.from_spec(SPEC)
    with pytest.raises(KeyboardInterrupt):
        cut.fit(*mapped(folder), epochs=3, batch_size=64, shuffle_window=700,
                callbacks=[Stop()])
    cut.save(tmp_path / "m.npz")
    resumed = npframe.load(tmp_path / "m.npz")
    resumed.fit(*mapped(folder), epochs=3 - resumed.epoch, batch_size=64, shuffle_window=700)
    assert same(once, resumed)


def test_non_finite_values_in_a_memory_map_are_found_with_their_row(tmp_path):
    X = np.ones((500, 6))
    X[321, 4] = np.nan
    np.save(tmp_path / "X.npy", X)
    net = npframe.Network.from_spec(SPEC)
    with pytest.raises(ValueError, match=r"fit X: row 321, column 4 holds nan"):
        net.fit(np.load(tmp_path / "X.npy", mmap_mode="r"), np.ones((500, 2)), epochs=1)
    assert net.scaler is None and net.epoch == 0


def test_streamed_data_is_checked_before_anything_changes(files):
    folder, _X, _Y = files
    Xm, Ym = mapped(folder)
    net = npframe.Network.from_spec(SPEC)
    for call, pattern in [
        (lambda: net.fit(Xm[:, :5], Ym), r"expected X of shape \(n_samples, 6\)"),
        (lambda: net.fit(Xm, Ym[:10]), r"X has 3000 samples but y has 10"),
        (lambda: net.fit(Xm, Ym, class_weight="balanced"), r"class_weight .* need data in"),
        (lambda: net.fit(Xm, Ym, shuffle_window=0), r"shuffle_window must be a number of rows"),
    ]:
        with pytest.raises(ValueError, match=pattern):
            call()
    assert net.epoch == 0 and net.scaler is None


def test_dask_arrays_stream_and_their_statistics_run_on_the_scheduler(files):
    da = pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    _folder, X, Y = files
    in_memory = npframe.Network.from_spec(SPEC)
    in_memory.fit(X, Y, epochs=2, batch_size=64, shuffle_window=700)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        net = npframe.Network.from_spec(SPEC)
        net.fit(da.from_array(X, chunks=(500, 6)), da.from_array(Y, chunks=(500, 2)),
                epochs=2, batch_size=64, shuffle_window=700)
    # Dask reduces in its own order: the statistics agree to rounding, not bit for bit
    for a, b in zip(in_memory.get_weights(), net.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


CHILD = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    import npframe
    from npframe.cli import main
    folder, limit, how, spec_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    XY = np.load(folder + "/XY.npy", mmap_mode="r")
    X, Y = XY[:, :-1], XY[:, -1:]
    if how == "memory":  # the reference: the same training on the arrays in memory
        X, Y = np.array(X), np.array(Y)
    if limit:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    if how == "cli":  # npframe train maps the file itself (it is larger than MMAP_BYTES)
        code = main(["train", spec_path, "--data", folder + "/XY.npy", "--epochs", "1",
                     "--batch-size", "512", "--out", folder + "/cli.npz", "--quiet"])
        assert code == 0, code
        weights = npframe.load(folder + "/cli.npz").get_weights()
    else:
        net = npframe.Network.from_spec(spec_path)
        window = 4096 if how in ("mapped", "memory") else None
        net.fit(X, Y, epochs=1, batch_size=512, shuffle_window=window)
        weights = net.get_weights()
    np.savez(f"{folder}/weights-{how}.npz", *weights)
    status = open("/proc/self/status").read().split("\\n")
    print(json.dumps({line.split(":")[0]: line.split(":")[1].strip() for line in status
                      if line.startswith(("VmHWM", "RssAnon", "VmData"))}))
""")

#: RLIMIT_DATA for the children that map the file: under half of the file's size.
LIMIT = 150 * 2**20


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """A 320 MB float64 file: 80,000 rows of 500 inputs and one target."""
    folder = tmp_path_factory.mktemp("large")
    rng = np.random.default_rng(5)
    n, width = 80_000, 500
    XY = np.lib.format.open_memmap(folder / "XY.npy", mode="w+", dtype=np.float64,
                                   shape=(n, width + 1))
    for start in range(0, n, 10_000):
        block = rng.normal(size=(10_000, width))
        XY[start:start + 10_000, :width] = block
        XY[start:start + 10_000, width] = block[:, :3].sum(axis=1) + 0.1
    XY.flush()
    assert XY.nbytes > 2 * LIMIT
    spec = {"input": width, "seed": 1, "standardize": "inputs",
            "optimizer": {"name": "sgd", "learning_rate": 0.01},
            "layers": [{"units": 8, "activation": "relu"}, {"units": 1, "activation": "linear"}]}
    (folder / "spec.json").write_text(json.dumps(spec))
    del XY
    return folder


def train_in_child(folder, how: str, limit: int) -> list[np.ndarray]:
    """Train in a child process (one BLAS configuration for every variant, so only where
    the data lives differs) and return its weights."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}  # each BLAS thread's buffers count against the limit
    result = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(limit), how,
                             str(folder / "spec.json")], capture_output=True, text=True,
                            timeout=600, check=False, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    saved = np.load(folder / f"weights-{how}.npz")
    return [saved[f"arr_{i}"] for i in range(len(saved.files))]


def test_training_on_a_memory_map_larger_than_the_memory_limit(large):
    """The file trains under a data-size limit of less than half its size (RLIMIT_DATA
    counts the process's own memory, not the file mapping), to the weights training in
    memory gives."""
    mapped = train_in_child(large, "mapped", LIMIT)
    in_memory = train_in_child(large, "memory", 0)
    for a, b in zip(mapped, in_memory, strict=True):
        np.testing.assert_array_equal(a, b)


def test_npframe_train_maps_a_large_npy_file_and_stays_within_the_limit(large):
    """``npframe train --data big.npy`` maps the file (larger than MMAP_BYTES) and trains
    as ``fit`` does on the mapped arrays, under the same limit."""
    by_command = train_in_child(large, "cli", LIMIT)
    by_fit = train_in_child(large, "fit", 0)
    for a, b in zip(by_command, by_fit, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_large_npy_file_is_mapped_not_read(large):
    dataset = npframe.data.load_data(large / "XY.npy", n_features=500)
    assert isinstance(dataset.X, np.memmap) and isinstance(dataset.y, np.memmap)
    assert dataset.X.shape == (80_000, 500) and dataset.y.shape == (80_000, 1)


# -- mapped .npy files: load_data(mmap=True) ------------------------------------------------
@pytest.fixture
def table_file(tmp_path):
    rng = np.random.default_rng(2)
    table = np.c_[rng.normal(size=(500, 4)), rng.uniform(0.5, 2.0, 500), rng.normal(size=500)]
    np.save(tmp_path / "table.npy", table)
    return tmp_path / "table.npy", table


def test_a_mapped_block_pickles_as_its_path_and_a_slice_as_its_data(table_file):
    path, table = table_file
    dataset = npframe.data.load_data(path, targets="5", weights=4, mmap=True)
    assert isinstance(dataset.X, npframe.mapped.MappedColumns)
    assert len(pickle.dumps(dataset.X)) < 500 < table.nbytes  # (path, 0, 4): no data
    again = pickle.loads(pickle.dumps(dataset.X))
    assert isinstance(again, np.memmap) and again.reopen == (str(path), 0, 4)
    np.testing.assert_array_equal(again, table[:, :4])
    np.testing.assert_array_equal(dataset.y, table[:, 5:])
    np.testing.assert_array_equal(dataset.sample_weight, table[:, 4])
    rows = pickle.loads(pickle.dumps(dataset.X[10:20]))  # a slice is ordinary data
    assert not isinstance(rows, np.memmap)
    np.testing.assert_array_equal(rows, table[10:20, :4])


def test_mapped_inputs_and_targets_must_be_adjacent_columns(table_file):
    path, _ = table_file
    with pytest.raises(npframe.DataError, match=r"table\.npy: the file is memory-mapped, so "
                       r"its inputs must be adjacent columns, in order \(got columns "
                       r"\[0, 1, 3, 4\]\); write the file with them side by side"):
        npframe.data.load_data(path, targets="2,5", mmap=True)


def test_a_mapped_file_trains_as_the_same_rows_in_memory(table_file):
    path, _ = table_file
    spec = {"input": 4, "seed": 0, "standardize": True,
            "layers": [{"units": 8, "activation": "relu"}, {"units": 1, "activation": "linear"}]}
    nets = []
    for mmap in (True, False):
        dataset = npframe.data.load_data(path, targets="5", weights=4, mmap=mmap)
        net = npframe.Network.from_spec(spec)
        net.fit(dataset.X, dataset.y, epochs=3, batch_size=50, shuffle_window=200,
                sample_weight=dataset.sample_weight)
        nets.append(net)
    assert same(*nets)
