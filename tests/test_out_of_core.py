"""Training on data that is not in memory: memory maps and Dask arrays, streamed.

The streamed path must train exactly as in memory (the same weights, bit for bit, for
memory maps: the statistics pass and the shuffle depend on the data, not on how it is
stored), resume exactly, and keep peak memory bounded by the batch and window sizes,
which a subprocess with a data-size limit far below the file's size proves.
"""

from __future__ import annotations

import json
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
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    X = np.load(sys.argv[1] + "/X.npy", mmap_mode="r")
    Y = np.load(sys.argv[1] + "/Y.npy", mmap_mode="r")
    spec = json.loads(sys.argv[3])
    net = npframe.Network.from_spec(spec)
    net.fit(X, Y, epochs=1, batch_size=512, shuffle_window=4096)
    np.savez(sys.argv[1] + "/weights.npz", *net.get_weights())
    status = open("/proc/self/status").read().split("\\n")
    print(json.dumps({line.split(":")[0]: line.split(":")[1].strip() for line in status
                      if line.startswith(("VmHWM", "RssAnon", "VmData"))}))
""")


def test_training_on_a_memory_map_larger_than_the_memory_limit(tmp_path):
    """A 320 MB float64 data set trains under a 150 MB data-size limit (RLIMIT_DATA
    counts the process's own memory, not the file mapping), to the weights training in
    memory gives."""
    rng = np.random.default_rng(5)
    n, width = 80_000, 500
    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float64,
                                  shape=(n, width))
    for start in range(0, n, 10_000):
        X[start:start + 10_000] = rng.normal(size=(10_000, width))
    Y = X[:, :3].sum(axis=1, keepdims=True) + 0.1
    np.save(tmp_path / "Y.npy", Y)
    X.flush()
    spec = {"input": width, "seed": 1, "standardize": "inputs",
            "optimizer": {"name": "sgd", "learning_rate": 0.01},
            "layers": [{"units": 8, "activation": "relu"}, {"units": 1, "activation": "linear"}]}
    limit = 150 * 2**20
    assert X.nbytes > 2 * limit
    result = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), str(limit),
                             json.dumps(spec)], capture_output=True, text=True, timeout=600,
                            check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    child = np.load(tmp_path / "weights.npz")
    net = npframe.Network.from_spec(spec)
    net.fit(np.asarray(X), Y, epochs=1, batch_size=512, shuffle_window=4096)
    for i, w in enumerate(net.get_weights()):
        np.testing.assert_array_equal(child[f"arr_{i}"], w)
