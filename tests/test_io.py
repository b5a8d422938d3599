"""Model files: round trips, exact resume, refusal of unsafe or broken files, safe saving."""

from __future__ import annotations

import errno
import io
import json
import os
import pathlib
import pickle
import zipfile

import numpy as np
import pytest
from attrs import define, field

import npframe
from npframe import io as npio
from npframe.errors import ModelFileError, SpecError
from npframe.registry import Registry

# Resume tests train small nets for a few epochs on noise; whether such a run improves is
# not what they check (test_network.py checks the ConvergenceWarning itself).
pytestmark = pytest.mark.filterwarnings("ignore::npframe.ConvergenceWarning")

N_FEATURES, N_OUTPUTS = 3, 2


# -- test components: a stateful optimizer and a schedule, registered in-process -------------
@define
class StepMomentum(npframe.Optimizer):
    """Momentum whose step size also depends on a step count: state that must round-trip."""

    learning_rate: float = field(default=0.05, converter=float)
    beta: float = field(default=0.9, converter=float)
    _velocity: list = field(factory=list, init=False, repr=False)
    _steps: int = field(default=0, init=False)

    def step(self, params, grads):
        if not self._velocity:
            self._velocity = [np.zeros_like(p) for p in params]
        self._steps += 1
        scale = self.learning_rate / (1.0 + 0.1 * self._steps)
        for p, g, v in zip(params, grads, self._velocity, strict=True):
            v *= self.beta
            v += g
            p -= scale * v

    def state_dict(self):
        state = {f"velocity.{i}": v for i, v in enumerate(self._velocity)}
        state["steps"] = np.array(self._steps, dtype=np.int64)
        return state

    def load_state_dict(self, state):
        state = dict(state)
        self._steps = int(state.pop("steps"))
        self._velocity = [np.array(state.pop(f"velocity.{i}")) for i in range(len(state))]


class Halving(npframe.Schedule):
    """Halve the learning rate every two epochs: wrong if ``epoch`` is not restored."""

    def __call__(self, epoch):
        return 0.5 ** (epoch // 2)


class Swish(npframe.Activation):
    def forward(self, z):
        return z / (1.0 + np.exp(-z))

    def backward(self, z, a, grad_a):
        s = 1.0 / (1.0 + np.exp(-z))
        return grad_a * (s + z * s * (1.0 - s))


@pytest.fixture(scope="module")
def reg() -> Registry:
    """Built-ins plus this module's test components."""
    registry = Registry()
    registry.register("optimizer", "test_momentum", StepMomentum)
    registry.register("schedule", "test_halving", Halving)
    return registry


OPTIMIZERS = [*npframe.registry.names("optimizer"), "test_momentum"]


def make_spec(dtype="float64", optimizer="sgd", standardize=False, schedule=None, seed=7):
    spec = {
        "input": N_FEATURES,
        "seed": seed,
        "dtype": dtype,
        "standardize": standardize,
        "optimizer": optimizer,
        "layers": [
            {"units": 5, "activation": "relu"},
            {"units": 4, "activation": "sigmoid"},
            {"units": N_OUTPUTS, "activation": "linear"},
        ],
    }
    if schedule is not None:
        spec["schedule"] = schedule
    return spec


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(2024)
    X = rng.normal(3.0, 2.0, size=(23, N_FEATURES))
    y = np.stack([X.sum(axis=1), X[:, 0] * X[:, 1]], axis=1) + rng.normal(size=(23, 2))
    return X, y


def trained(reg, data, epochs=3, **spec_kwargs) -> npframe.Network:
    net = npframe.Network.from_spec(make_spec(**spec_kwargs), registry=reg)
    net.fit(*data, epochs=epochs, batch_size=6)
    return net


def members(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def write_members(path, arrays) -> None:
    with open(path, "wb") as f:
        np.savez(f, **arrays)


# -- round trips -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("standardize", [False, True])
def test_round_trip_keeps_everything(reg, data, tmp_path, dtype, standardize):
    net = trained(reg, data, dtype=dtype, standardize=standardize, optimizer="test_momentum")
    path = tmp_path / "model.npz"
    net.save(path)
    loaded = npframe.load(path, registry=reg)

    assert loaded.to_spec() == net.to_spec()
    assert loaded.epoch == net.epoch == 3
    assert loaded.dtype == np.dtype(dtype)
    for a, b in zip(loaded.get_weights(), net.get_weights(), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict(data[0]), net.predict(data[0]))
    assert loaded.scaler == net.scaler
    assert (loaded.scaler is not None) == standardize
    assert loaded.loop.shuffle_rng.bit_generator.state == net.loop.shuffle_rng.bit_generator.state
    assert loaded.optimizer.state_dict().keys() == net.optimizer.state_dict().keys()


def test_round_trip_of_untrained_net_and_str_path(reg, tmp_path):
    net = npframe.Network.from_spec(make_spec(standardize=True), registry=reg)
    net.save(str(tmp_path / "fresh.npz"))
    loaded = npframe.load(str(tmp_path / "fresh.npz"), registry=reg)
    assert loaded.epoch == 0 and loaded.scaler is None
    for a, b in zip(loaded.get_weights(), net.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_default_registry_round_trip(tmp_path, data):
    net = npframe.Network.from_spec(make_spec())
    net.fit(*data, epochs=2)
    net.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(npframe.load(tmp_path / "m.npz").predict(data[0]),
                                  net.predict(data[0]))


def test_file_holds_only_plain_arrays(reg, data, tmp_path):
    net = trained(reg, data, standardize=True, optimizer="test_momentum")
    net.save(tmp_path / "m.npz")
    arrays = members(tmp_path / "m.npz")
    assert {a.dtype.kind for a in arrays.values()} <= set("biufU")
    assert arrays["spec"].dtype.kind == "U"
    assert json.loads(str(arrays["spec"])) == net.to_spec()
    assert int(arrays["format_version"]) == npio.FORMAT_VERSION
    assert str(arrays["npframe_version"]) == npframe.__version__
    assert int(arrays["training/epoch"]) == 3
    assert {"scaler/x_mean", "scaler/y_std", "weights/3/W", "weights/3/b",
            "optimizer/steps", "optimizer/velocity.0", "training/shuffle_rng",
            "training/noise_rng", "components"} <= arrays.keys()
    assert json.loads(str(arrays["components"]))[0] == {
        "kind": "layer", "path": "layers[0].type", "name": "dense",
        "qualified": "npframe:dense", "distribution": "npframe",
        "version": npframe.registry.default_registry().entry("layer", "dense").version}
    with zipfile.ZipFile(tmp_path / "m.npz") as zf:  # written uncompressed, on purpose
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}


# -- exact resume -------------------------------------------------------------------------------
def _fit_twice_vs_once(reg, data, tmp_path, *, n, m, batch_size, shuffle, spec):
    once = npframe.Network.from_spec(spec, registry=reg)
    h_once = once.fit(*data, epochs=n + m, batch_size=batch_size, shuffle=shuffle)

    first = npframe.Network.from_spec(spec, registry=reg)
    first.fit(*data, epochs=n, batch_size=batch_size, shuffle=shuffle)
    first.save(tmp_path / "half.npz")
    del first
    resumed = npframe.load(tmp_path / "half.npz", registry=reg)
    h_resumed = resumed.fit(*data, epochs=m, batch_size=batch_size, shuffle=shuffle)

    assert resumed.epoch == once.epoch == n + m
    assert h_resumed.loss == h_once.loss[n:]
    assert h_resumed.epochs == h_once.epochs[n:]
    for a, b in zip(resumed.get_weights(), once.get_weights(), strict=True):
        assert a.dtype == np.dtype(spec["dtype"])
        assert np.array_equal(a, b)
    for key, value in once.optimizer.state_dict().items():
        assert np.array_equal(resumed.optimizer.state_dict()[key], value)
    np.testing.assert_array_equal(resumed.predict(data[0]), once.predict(data[0]))


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
# full batch never draws a permutation, so shuffle=True covers full batch without it too
@pytest.mark.parametrize(("batch_size", "shuffle"), [(None, True), (6, True), (6, False)])
@pytest.mark.parametrize(("standardize", "schedule"), [(False, None), (True, "test_halving")])
def test_resume_equals_uninterrupted(reg, data, tmp_path, optimizer, dtype, batch_size, shuffle,
                                     standardize, schedule):
    spec = make_spec(dtype=dtype, optimizer=optimizer, standardize=standardize,
                     schedule=schedule)
    _fit_twice_vs_once(reg, data, tmp_path, n=3, m=4, batch_size=batch_size, shuffle=shuffle,
                       spec=spec)


# one_cycle's length is fixed with total_steps: planned by the run, fit(3) then fit(4)
# would plan 3 epochs, then 7 (documented; tests/test_step_schedules.py resumes it by plan).
SCHEDULE_PARAMS = {"step": {"step_size": 2, "gamma": 0.5}, "exponential": {"gamma": 0.8},
                   "cosine": {"epochs": 7, "warmup": 2}, "constant": {"factor": 0.5},
                   "one_cycle": {"total_steps": 30}, "warmup": {"steps": 10}}


@pytest.mark.parametrize("schedule", npframe.registry.names("schedule"))
@pytest.mark.parametrize("optimizer", ["sgd", "test_momentum"])
def test_resume_with_builtin_schedules(reg, data, tmp_path, schedule, optimizer):
    ref = {"name": schedule, **SCHEDULE_PARAMS.get(schedule, {})}
    spec = make_spec(optimizer=optimizer, standardize=True, schedule=ref)
    _fit_twice_vs_once(reg, data, tmp_path, n=3, m=4, batch_size=6, shuffle=True, spec=spec)


def test_resume_twice_across_several_files(reg, data, tmp_path):
    spec = make_spec(optimizer="test_momentum", standardize=True, schedule="test_halving")
    once = npframe.Network.from_spec(spec, registry=reg)
    once.fit(*data, epochs=6, batch_size=5)
    net = npframe.Network.from_spec(spec, registry=reg)
    for i in range(3):
        net.fit(*data, epochs=2, batch_size=5)
        net.save(tmp_path / f"step{i}.npz")
        net = npframe.load(tmp_path / f"step{i}.npz", registry=reg)
    for a, b in zip(net.get_weights(), once.get_weights(), strict=True):
        assert np.array_equal(a, b)


def test_schedule_sees_restored_epoch(reg, data, tmp_path):
    net = trained(reg, data, epochs=5, schedule="test_halving")
    net.save(tmp_path / "m.npz")
    loaded = npframe.load(tmp_path / "m.npz", registry=reg)
    seen = []

    class Spy(npframe.Callback):
        def on_epoch_begin(self, epoch, logs):
            seen.append((epoch, self.network.optimizer.learning_rate))

    loaded.fit(*data, epochs=1, callbacks=[Spy()])
    assert seen == [(5, 0.01 * 0.25)]


# -- loading never executes code ------------------------------------------------------------------
class Payload:
    """Unpickling this creates ``marker``: proof that code ran."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.write_text, (self.marker, "pwned"))


def _object_array(marker) -> np.ndarray:
    array = np.empty(1, dtype=object)
    array[0] = Payload(marker)
    return array


def test_payload_is_live_when_unpickled(tmp_path):
    """The control: the payload really does create its file when numpy is allowed to unpickle."""
    marker = tmp_path / "control"
    path = tmp_path / "evil.npz"
    with open(path, "wb") as f:
        np.savez(f, x=_object_array(marker))
    with np.load(path, allow_pickle=True) as npz:
        npz["x"]
    assert marker.read_text() == "pwned"


@pytest.mark.parametrize("member", ["weights/1/W", "spec", "training/shuffle_rng", "extra"])
def test_pickled_object_array_is_refused_and_never_run(reg, data, tmp_path, member):
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "evil.npz"
    trained(reg, data).save(path)
    arrays = members(path)
    arrays[member] = _object_array(marker)
    write_members(path, arrays)

    # a member the network reads is refused for its dtype; one it does not is refused
    # unread (never decompressed at all)
    pattern = (r"evil\.npz: (member '[\w/]+' holds Python objects \(dtype object\), which can "
               r"only be read by unpickling.*npframe never does it|unexpected member 'extra')")
    with pytest.raises(ModelFileError, match=pattern):
        npframe.load(path, registry=reg)
    assert not marker.exists()


def test_single_object_npy_member_as_only_content(tmp_path):
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "evil.npz"
    with zipfile.ZipFile(path, "w") as zf, zf.open("format_version.npy", "w") as f:
        np.lib.format.write_array(f, _object_array(marker), allow_pickle=True)
    with pytest.raises(ModelFileError, match="Python objects"):
        npframe.load(path)
    assert not marker.exists()


def test_raw_pickle_renamed_npz_is_refused(tmp_path):
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ModelFileError, match=r"model\.npz: .*pickle"):
        npframe.load(path)
    assert not marker.exists()


def test_npy_file_renamed_npz_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    with open(path, "wb") as f:
        np.save(f, np.ones(3))
    with pytest.raises(ModelFileError, match=r"model\.npz: .*single \.npy array"):
        npframe.load(path)


def test_non_npy_member_is_refused(reg, data, tmp_path):
    path = tmp_path / "m.npz"
    trained(reg, data).save(path)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("notes.txt", "hello")
    with pytest.raises(ModelFileError, match=r"member 'notes\.txt' is not a NumPy array"):
        npframe.load(path, registry=reg)


@pytest.mark.parametrize("dtype", ["S5", "datetime64[s]", [("a", "<f8"), ("b", "<i4")]])
def test_non_plain_dtypes_are_refused(reg, data, tmp_path, dtype):
    path = tmp_path / "m.npz"
    trained(reg, data).save(path)
    arrays = members(path)
    arrays["optimizer/odd"] = np.zeros(2, dtype=dtype)
    write_members(path, arrays)
    with pytest.raises(ModelFileError, match="plain numeric, bool and unicode"):
        npframe.load(path, registry=reg)


def replace_member(path, name, write) -> None:
    """Rewrite ``path`` with member ``name`` (``.npy``) written by ``write(file)``."""
    old = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(old)) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            if info.filename == f"{name}.npy":
                with dst.open(info.filename, "w") as f:
                    write(f)
            else:
                dst.writestr(info, src.read(info))


def test_header_that_lies_about_its_size_is_refused(reg, data, tmp_path):
    """A tiny member claiming a huge shape must not make load allocate it."""
    path = tmp_path / "m.npz"
    trained(reg, data).save(path)

    def lie(f):
        header = {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
        np.lib.format.write_array_header_1_0(f, header)
        f.write(b"\0" * 16)

    replace_member(path, "optimizer/huge", lie)
    with zipfile.ZipFile(path, "a") as zf, zf.open("optimizer/huge.npy", "w") as f:
        lie(f)
    with pytest.raises(ModelFileError, match=r"'optimizer/huge' is truncated: its header declares "
                                             r"shape \(1000000000000,\) of float64"):
        npframe.load(path, registry=reg)
    replace_member(path, "weights/1/W", lie)
    with pytest.raises(ModelFileError, match=r"'weights/1/W' is truncated: its header declares "
                                             r"shape \(1000000000000,\)"):
        npframe.load(path, registry=reg)


def test_deflated_archives_from_other_tools_load(reg, data, tmp_path):
    path = tmp_path / "m.npz"
    net = trained(reg, data, optimizer="test_momentum")
    net.save(path)
    arrays = members(path)
    np.savez_compressed(path, **arrays)
    np.testing.assert_array_equal(npframe.load(path, registry=reg).predict(data[0]),
                                  net.predict(data[0]))


def test_other_compression_methods_are_refused(tmp_path):
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_BZIP2) as zf, \
            zf.open("epoch.npy", "w") as f:
        np.lib.format.write_array(f, np.array(3))
    with pytest.raises(ModelFileError, match="compression method 12"):
        npframe.load(path)


def test_impossible_decompressed_size_is_refused(tmp_path):
    """A deflated member whose directory entry claims 1 GB from ~100 bytes."""
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf, \
            zf.open("epoch.npy", "w") as f:
        np.lib.format.write_array(f, np.zeros(1000))
    raw = bytearray(path.read_bytes())
    central = raw.index(b"PK\x01\x02")
    raw[central + 24:central + 28] = (10**9).to_bytes(4, "little")  # uncompressed size
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match=r"claims 953\.7 MiB \(1000000000 bytes\) "
                                             r"uncompressed from \d+ bytes of deflated data"):
        npframe.load(path)


def test_encrypted_member_is_refused(reg, data, tmp_path):
    path = tmp_path / "m.npz"
    trained(reg, data).save(path)
    raw = bytearray(path.read_bytes())
    central = raw.index(b"PK\x01\x02")
    raw[central + 8] |= 0x1  # general purpose flag: encrypted
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="is encrypted"):
        npframe.load(path, registry=reg)


# -- broken files -------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file") as info:
        npframe.load(tmp_path / "nope.npz")
    assert info.value.filename == str(tmp_path / "nope.npz")
    assert info.value.errno == errno.ENOENT


def test_missing_file_suggests_the_npz_name(reg, data, tmp_path):
    trained(reg, data).save(tmp_path / "model.npz")
    with pytest.raises(FileNotFoundError, match=r"did you mean 'model\.npz'"):
        npframe.load(tmp_path / "model", registry=reg)


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(IsADirectoryError):
        npframe.load(tmp_path)


@pytest.mark.parametrize("content", [b"", b"hello world, not a model",
                                     bytes(range(256)) * 4, b"PK\x03\x04garbage"])
def test_garbage_files(tmp_path, content):
    path = tmp_path / "junk.npz"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=r"junk\.npz: "):
        npframe.load(path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999, -1])
def test_truncated_files(reg, data, tmp_path, keep):
    path = tmp_path / "cut.npz"
    trained(reg, data).save(path)
    raw = path.read_bytes()
    path.write_bytes(raw[:keep] if keep == -1 else raw[: int(len(raw) * keep)])
    with pytest.raises(ModelFileError, match=r"cut\.npz: .*(truncated|corrupt)"):
        npframe.load(path, registry=reg)


def test_corrupted_bytes_only_ever_raise_model_file_error(reg, data, tmp_path):
    """Flip bytes all over a good file: it loads unchanged, or fails with a ModelFileError."""
    good = tmp_path / "good.npz"
    trained(reg, data, standardize=True, optimizer="test_momentum").save(good)
    raw = good.read_bytes()
    path = tmp_path / "flipped.npz"
    failures = 0
    for offset in range(0, len(raw), max(1, len(raw) // 97)):
        path.write_bytes(raw[:offset] + bytes([raw[offset] ^ 0xFF]) + raw[offset + 1:])
        try:
            npframe.load(path, registry=reg)
        except ModelFileError as exc:
            assert str(exc).startswith(str(path))
            failures += 1
    assert failures > 50  # most flips land in checked data


def test_missing_member(reg, data, tmp_path):
    path = tmp_path / "m.npz"
    trained(reg, data).save(path)
    for name in ["training/shuffle_rng", "weights/2/b", "spec", "training/epoch"]:
        arrays = members(path)
        del arrays[name]
        write_members(tmp_path / "partial.npz", arrays)
        with pytest.raises(ModelFileError, match=rf"partial\.npz: member '{name}' is missing"):
            npframe.load(tmp_path / "partial.npz", registry=reg)


def test_partial_scaler_is_a_missing_member(reg, data, tmp_path):
    path = tmp_path / "m.npz"
    trained(reg, data, standardize=True).save(path)
    arrays = members(path)
    del arrays["scaler/y_std"]
    write_members(path, arrays)
    with pytest.raises(ModelFileError, match="member 'scaler/y_std' is missing"):
        npframe.load(path, registry=reg)


def test_newer_format_version_says_upgrade(tmp_path):
    path = tmp_path / "future.npz"
    # a future layout may hold nothing else we know: the version is checked first
    write_members(path, {"format_version": np.array(npio.FORMAT_VERSION + 1),
                         "npframe_version": np.array("9.0.0"), "tensors": np.ones(2)})
    with pytest.raises(ModelFileError,
                       match=r"future\.npz: written by npframe 9\.0\.0 .*Upgrade npframe"):
        npframe.load(path)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("weights/1/W", np.zeros((N_FEATURES, 6)), r"'weights/1/W' is \(3, 6\) float64, but the "
                                               r"spec needs \(3, 5\) float64"),
    ("weights/3/b", np.zeros((1, N_OUTPUTS)), r"'weights/3/b' is \(1, 2\) float64"),
    ("weights/2/W", np.zeros((5, 4), np.float32), r"'weights/2/W' is \(5, 4\) float32, but the "
                                                  r"spec needs \(5, 4\) float64"),
    ("weights/2/W", np.full((5, 4), np.nan),
     "weights/2/W holds nan at \\(0, 0\\); weights must be"),
    ("weights/9/W", np.zeros((2, 2)), "unexpected member 'weights/9/W' for the network its spec"),
    ("format_version", np.array(0), "format_version must be >= 1"),
    ("format_version", np.array(1.0), "'format_version' must be an integer scalar"),
    ("training/epoch", np.array(-1), r"'training/epoch' must be in \[0, 2\*\*53\]"),
    ("training/epoch", np.array(2**63 - 1), r"'training/epoch' must be in \[0, 2\*\*53\]"),
    ("training/step", np.array(1.5), "'training/step' must be an integer scalar"),
    ("spec", np.array("{not json"), "'spec' is not valid JSON"),
    ("spec", np.array(3), "'spec' must be a unicode string"),
    ("spec", np.array('{"input": 3}'), "stored spec is invalid: layers: required key"),
    ("training/shuffle_rng", np.array('{"bit_generator": "MT19937"}'),
     "'training/shuffle_rng' must be the state of a PCG64 generator"),
    ("training/shuffle_rng", np.array("[1, 2]"), "'training/shuffle_rng' must be the state of"),
    ("training/noise_rng", np.array('{"bit_generator": "PCG64", "state": {"state": 1.5, '
                                    '"inc": 3}, "has_uint32": 0, "uinteger": 0}'),
     r"state\.state must be an integer in \[0, 2\*\*128\)"),
    ("training/noise_rng", np.array('{"bit_generator": "PCG64", "state": {"state": '
                                    + str(2**200) + ', "inc": 3}, "has_uint32": 0, '
                                    '"uinteger": 0}'),
     r"state\.state must be an integer in \[0, 2\*\*128\)"),
    ("optimizer/velocity", np.full(3, np.nan), r"'optimizer/velocity' holds NaN or inf"),
    ("scaler/x_mean", np.zeros(N_FEATURES), "scaler statistics but the spec has standardize"),
    ("classes", np.array(["b", "a"]), "must hold distinct labels, sorted"),
    ("names/features", np.array(["a", "b"]), r"'names/features' must be 3 strings"),
    ("surprise", np.zeros(1), "unexpected member.*'surprise'"),
    ("optimizer/velocity", np.zeros(3), "optimizer 'sgd' rejected the saved state"),
])
def test_bad_members(reg, data, tmp_path, name, value, message):
    path = tmp_path / "bad.npz"
    trained(reg, data).save(path)
    arrays = members(path)
    arrays[name] = value
    write_members(path, arrays)
    with pytest.raises(ModelFileError, match=message) as info:
        npframe.load(path, registry=reg)
    assert str(info.value).startswith(f"{path}: ")


def test_optimizer_mismatch_is_a_model_file_error(reg, data, tmp_path):
    path = tmp_path / "m.npz"
    trained(reg, data, optimizer="test_momentum").save(path)
    other = Registry()
    other.register("optimizer", "test_momentum", npframe.registry.get("optimizer", "sgd"))
    with pytest.raises(ModelFileError, match=r"rejected the saved state.*stateless"):
        npframe.load(path, registry=other)


def test_missing_plugin_component(tmp_path, data):
    with_plugin = Registry()
    with_plugin.register("activation", "test_swish", Swish)
    spec = make_spec()
    spec["layers"][1]["activation"] = "test_swish"
    net = npframe.Network.from_spec(spec, registry=with_plugin)
    net.fit(*data, epochs=1)
    path = tmp_path / "plugin.npz"
    net.save(path)

    with pytest.raises(SpecError) as info:
        npframe.load(path, registry=Registry())
    message = str(info.value)
    assert message.startswith("layers[1].activation: unknown activation 'test_swish'")
    assert "plugin providing it must be installed" in message
    assert str(path) in message
    assert isinstance(info.value, npframe.UnknownComponentError)
    # with the plugin present it loads
    loaded = npframe.load(path, registry=with_plugin)
    np.testing.assert_array_equal(loaded.predict(data[0]), net.predict(data[0]))


def test_every_missing_component_is_named(tmp_path, reg, data):
    path = tmp_path / "m.npz"
    trained(reg, data, optimizer="test_momentum", schedule="test_halving").save(path)
    with pytest.raises(SpecError, match=r"^optimizer: .*'test_momentum'.*also missing: "
                                        r"schedule 'test_halving' \(schedule\)"):
        npframe.load(path, registry=Registry())


def test_parameter_the_installed_component_lacks(reg, data, tmp_path):
    path = tmp_path / "m.npz"
    spec = make_spec(optimizer={"name": "test_momentum", "beta": 0.5})
    npframe.Network.from_spec(spec, registry=reg).save(path)
    older = Registry()
    older.register("optimizer", "test_momentum", npframe.registry.get("optimizer", "sgd"))
    with pytest.raises(SpecError, match=r"^optimizer: unknown parameter 'beta' for "
                                        r"'test_momentum'.*\(in the spec stored in .*m\.npz\)"):
        npframe.load(path, registry=older)


def test_training_dataset_plugin_is_not_needed_to_load(reg, data, tmp_path):
    spec = make_spec()
    spec["train"] = {"dataset": "tutorial", "epochs": 3}
    net = npframe.Network.from_spec(spec, registry=reg)
    net.save(tmp_path / "m.npz")
    no_datasets = Registry()
    no_datasets.unregister("dataset", "tutorial")
    assert npframe.load(tmp_path / "m.npz", registry=no_datasets).to_spec() == net.to_spec()


def test_load_rejects_non_paths():
    with pytest.raises(TypeError, match=r"path must be a non-empty str or os\.PathLike"):
        npframe.load(3)


# -- saving never destroys a good file ------------------------------------------------------------
@pytest.fixture
def saved(reg, data, tmp_path):
    """A net and a good file on disk, with its bytes."""
    net = trained(reg, data)
    path = tmp_path / "model.npz"
    net.save(path)
    net.fit(*data, epochs=1)  # now differs from the file
    return net, path, path.read_bytes()


def _assert_untouched(path, raw):
    assert path.read_bytes() == raw
    assert sorted(os.listdir(path.parent)) == [path.name]  # no temporary left behind


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"),
                                   KeyboardInterrupt()])
def test_failure_while_writing_keeps_old_file(saved, monkeypatch, error):
    net, path, raw = saved
    real_savez = np.savez

    def broken(file, **arrays):
        real_savez(file, **dict(list(arrays.items())[:3]))  # part of the archive
        raise error

    monkeypatch.setattr(npio, "_savez", broken)
    with pytest.raises(type(error)):
        net.save(path)
    monkeypatch.undo()
    _assert_untouched(path, raw)


@pytest.mark.parametrize("target", ["replace", "fsync"])
def test_failure_at_rename_or_fsync_keeps_old_file(saved, monkeypatch, target):
    net, path, raw = saved

    def fail(*args):
        raise PermissionError(errno.EACCES, f"{target} refused")

    monkeypatch.setattr(npio.os, target, fail)
    with pytest.raises(PermissionError, match="refused"):
        net.save(path)
    monkeypatch.undo()
    _assert_untouched(path, raw)


def test_invalid_state_is_refused_before_writing(saved, monkeypatch):
    net, path, raw = saved
    monkeypatch.setattr(net.optimizer, "state_dict", lambda: {"bad": np.array([None])},
                        raising=False)
    with pytest.raises(ModelFileError, match=r"model\.npz: refusing to save: optimizer SGD "
                                             r"state 'bad' has dtype object"):
        net.save(path)
    _assert_untouched(path, raw)


def test_non_finite_weights_are_refused_before_writing(saved):
    net, path, raw = saved
    net.loop.params[0]["W"][0, 0] = np.inf
    with pytest.raises(ModelFileError, match="refusing to save: weights/1/W holds NaN or inf"):
        net.save(path)
    _assert_untouched(path, raw)


def test_successful_save_replaces_the_file(saved, reg):
    net, path, raw = saved
    net.save(path)
    assert path.read_bytes() != raw
    assert npframe.load(path, registry=reg).epoch == 4
    assert sorted(os.listdir(path.parent)) == [path.name]


def test_saved_file_mode_follows_umask(saved):
    net, path, _ = saved
    old = os.umask(0o027)
    try:
        net.save(path.with_name("umask.npz"))
    finally:
        os.umask(old)
    assert path.with_name("umask.npz").stat().st_mode & 0o777 == 0o640


def test_missing_folder_is_an_error_not_a_mkdir(saved, tmp_path):
    net, *_ = saved
    target = tmp_path / "not" / "there" / "m.npz"
    with pytest.raises(FileNotFoundError, match=r"folder '.*not/there' does not exist"):
        net.save(target)
    assert not (tmp_path / "not").exists()


def test_file_as_folder_is_refused(saved, tmp_path):
    net, path, _ = saved
    with pytest.raises(NotADirectoryError, match=r"model\.npz' is not a folder"):
        net.save(path / "inner.npz")


def test_folder_path_is_refused(saved, tmp_path):
    net, *_ = saved
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(IsADirectoryError):
        net.save(tmp_path / "dir.npz")


@pytest.mark.parametrize("name", ["model", "model.pkl", "model.npz.bak"])
def test_suffix_is_required_and_nothing_is_written(saved, name):
    net, path, raw = saved
    with pytest.raises(ValueError, match=rf"model files must end in \.npz.*'{name}\.npz'"):
        net.save(path.with_name(name))
    _assert_untouched(path, raw)


def test_save_rejects_non_networks_and_non_paths(saved, tmp_path):
    net, *_ = saved
    with pytest.raises(ModelFileError, match=r"refusing to save: weights has dtype object"):
        npio.write_model(tmp_path / "x.npz", {"spec": {}}, {"weights": object()})
    with pytest.raises(TypeError, match="path must be"):
        net.save(None)


def test_bytes_round_trip_is_a_model_file(reg, data):
    net = trained(reg, data, standardize=True, optimizer="test_momentum")
    raw = net.to_bytes()
    assert raw[:4] == b"PK\x03\x04"
    again = npframe.from_bytes(raw, registry=reg)
    np.testing.assert_array_equal(again.predict(data[0]), net.predict(data[0]))
    assert again.to_bytes() == raw or again.state_dict().keys() == net.state_dict().keys()
    with pytest.raises(ModelFileError, match=r"^<bytes>: not an npframe model file"):
        npframe.from_bytes(b"not a model", registry=reg)
