"""npframe.archive: bounded, pickle-free reading of .npz and .npy, with messages that say what.

Every file ``tests/hostile.py`` generates is read twice: here in process (with a 256 MiB
budget, for readable tracebacks) and all together in one subprocess whose address space
is capped at 1 GiB (``RLIMIT_AS``), with the default budget or none at all, so a reader
that allocated what a file claims would die of ``MemoryError`` instead of refusing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import hostile
import numpy as np
import pytest

from npframe.archive import list_npz, read_npy, read_npz
from npframe.errors import DataError, ModelFileError
from npframe.memory import available_memory, format_bytes, memory_budget

BUDGET = 256 << 20  # in process
LIMIT = 1 << 30  # address space of the subprocess

ARRAYS = {
    "f64": np.arange(12.0).reshape(3, 4),
    "f32": np.linspace(-1, 1, 7, dtype=np.float32),
    "f16": np.array([1.5, -2.0], dtype=np.float16),
    "i8": np.array([-(2**63), 2**63 - 1]),
    "u1": np.arange(256, dtype=np.uint8),
    "bool": np.array([[True, False], [False, True]]),
    "c128": np.array([1 + 2j, -3j]),
    "text": np.array(["relu", "sigmoïde", ""]),
    "scalar": np.array(7, dtype=np.int64),
    "json": np.array('{"a": [1, 2]}'),
    "empty": np.empty((0, 5)),
    "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    "big_endian": np.arange(4, dtype=">i4"),
    "weights/W1": np.ones((2, 3), dtype=np.float32),
    "big": np.arange(300_000.0),  # several read chunks
}


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_reads_what_numpy_writes(tmp_path, save):
    path = tmp_path / "a.npz"
    save(path, **ARRAYS)
    arrays = read_npz(path, error=DataError, max_total_bytes=BUDGET)
    assert list(arrays) == list(ARRAYS)
    for name, expected in ARRAYS.items():
        got = arrays[name]
        assert got.dtype == expected.dtype and got.shape == expected.shape, name
        np.testing.assert_array_equal(got, expected)
        assert got.flags.f_contiguous == expected.flags.f_contiguous, name
        assert got.flags.writeable, name
    members = {m.name: m for m in list_npz(path, error=DataError)}
    assert list(members) == list(ARRAYS)
    assert members["big"].compressed is (save is np.savez_compressed)
    assert members["big"].size == 300_000 * 8 + 128


def test_read_npy_plain_and_mmap(tmp_path):
    path = tmp_path / "a.npy"
    for name in ("f64", "fortran", "bool", "text", "scalar", "empty", "big_endian"):
        np.save(path, ARRAYS[name])
        for mmap in (False, True):
            got = read_npy(path, error=DataError, max_bytes=BUDGET, mmap=mmap)
            np.testing.assert_array_equal(got, ARRAYS[name])
            assert got.dtype == ARRAYS[name].dtype and got.shape == ARRAYS[name].shape
    np.save(path, ARRAYS["big"])
    view = read_npy(path, error=DataError, max_bytes=None, mmap=True)
    assert isinstance(view, np.memmap) and not view.flags.writeable
    np.testing.assert_array_equal(view, ARRAYS["big"])
    del view


def test_unwanted_members_are_never_decompressed(tmp_path):
    """A corrupt and a bomb member sit beside X; reading only X succeeds."""
    kernel = hostile.zero_kernel(hostile.GIB)
    members = [
        hostile.Member("X.npy", hostile.npy_bytes(ARRAYS["f64"]), method=hostile.DEFLATED),
        hostile.Member("corrupt.npy", payload=b"\xff" * 64, method=hostile.DEFLATED,
                       size=100),
        hostile.Member("bomb.npy", method=hostile.DEFLATED, payload=kernel.stream,
                       size=kernel.size, crc=kernel.crc),
    ]
    path = tmp_path / "mixed.npz"
    path.write_bytes(hostile.build_zip(members))
    arrays = read_npz(path, error=DataError, max_total_bytes=BUDGET, member_ok={"X"}.__contains__)
    assert list(arrays) == ["X"]
    np.testing.assert_array_equal(arrays["X"], ARRAYS["f64"])
    assert [m.name for m in list_npz(path, error=DataError)] == ["X", "corrupt", "bomb"]
    with pytest.raises(DataError, match=r"'bomb' declares 1\.0 GiB"):
        read_npz(path, error=DataError, max_total_bytes=BUDGET)


def test_limits_are_checked_before_decompressing(tmp_path):
    path = tmp_path / "a.npz"
    np.savez_compressed(path, a=np.zeros(1000), b=np.zeros(1000))  # 8128 bytes each
    with pytest.raises(ModelFileError, match=r"a\.npz: member 'a' declares 7\.9 KiB \(8128 "
                       r"bytes\) uncompressed, more than the 7\.8 KiB \(8000 bytes\) a member"):
        read_npz(path, error=ModelFileError, max_total_bytes=10**6, max_member_bytes=8000)
    with pytest.raises(ModelFileError, match=r"members declare 15\.9 KiB \(16256 bytes\) "
                       r"uncompressed in all, more than the 9\.8 KiB \(10000 bytes\)"):
        read_npz(path, error=ModelFileError, max_total_bytes=10_000)
    assert read_npz(path, error=ModelFileError, max_total_bytes=16256).keys() == {"a", "b"}
    with pytest.raises(ModelFileError, match="it holds 2 members, more than the 1 allowed"):
        read_npz(path, error=ModelFileError, max_total_bytes=10**6, max_members=1)
    np.save(tmp_path / "a.npy", np.zeros(1000))
    with pytest.raises(ModelFileError, match=r"larger than the 7\.8 KiB \(7999 bytes\)"):
        read_npy(tmp_path / "a.npy", error=ModelFileError, max_bytes=7999)
    assert read_npy(tmp_path / "a.npy", error=ModelFileError, max_bytes=8000).size == 1000


def test_check_header_sees_shape_and_dtype_before_allocation(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, X=np.zeros((2, 3), np.float32), y=np.zeros(2))
    seen = []

    def check(name, shape, dtype):
        seen.append((name, shape, dtype))
        if name == "y":
            raise ModelFileError(f"{path}: member 'y' is not wanted")

    with pytest.raises(ModelFileError, match="'y' is not wanted"):
        read_npz(path, error=ModelFileError, max_total_bytes=BUDGET, check_header=check)
    assert seen == [("X", (2, 3), np.dtype(np.float32)), ("y", (2,), np.dtype(np.float64))]


def test_a_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_npz(tmp_path / "missing.npz", error=DataError, max_total_bytes=BUDGET)
    with pytest.raises(FileNotFoundError):
        read_npy(tmp_path / "missing.npy", error=DataError, max_bytes=BUDGET)


# -- the hostile files ---------------------------------------------------------------------
def _read(case: hostile.Case, path: Path, budget: int) -> None:
    if case.read.startswith("npz"):
        read_npz(path, error=DataError, max_total_bytes=budget)
    else:
        read_npy(path, error=DataError, max_bytes=budget, mmap=case.read == "npy_mmap")


@pytest.mark.parametrize("case", [c for c in hostile.CASES if c.available()],
                         ids=lambda c: c.name)
def test_hostile_file_is_refused_with_a_true_message(tmp_path, case):
    path = case.write(case.path_in(tmp_path))
    with pytest.raises(DataError) as info:
        _read(case, path, BUDGET)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert case.expect in message, message


CHILD = r"""
import json, resource, sys
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from npframe.archive import read_npy, read_npz
from npframe.errors import DataError
from npframe.memory import memory_budget
results = {}
for item in json.loads(open(sys.argv[1]).read()):
    budget = item["budget"] or memory_budget()
    try:
        if item["read"].startswith("npz"):
            read_npz(item["path"], error=DataError, max_total_bytes=budget)
        else:
            read_npy(item["path"], error=DataError, max_bytes=budget,
                     mmap=item["read"] == "npy_mmap")
        results[item["name"]] = ["accepted", ""]
    except DataError as exc:
        results[item["name"]] = ["refused", str(exc)]
    except BaseException as exc:
        results[item["name"]] = ["crashed", repr(exc)]
results["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def under_memory_limit(tmp_path_factory):
    """Every hostile file read in one subprocess limited to 1 GiB of address space."""
    pytest.importorskip("resource")
    folder = tmp_path_factory.mktemp("hostile")
    manifest = [
        {"name": c.name, "path": str(path), "read": c.read,
         "budget": hostile.UNLIMITED if c.read == "npz_all" else None}
        for c, path in hostile.write_cases(folder)
    ]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder / "manifest.json"), str(LIMIT)],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("case", [c for c in hostile.CASES if c.available()],
                         ids=lambda c: c.name)
def test_hostile_file_is_refused_within_1_gib(under_memory_limit, case):
    outcome, message = under_memory_limit[case.name]
    assert outcome == "refused", message
    assert case.expect in message, message


def test_the_subprocess_stayed_small(under_memory_limit):
    assert under_memory_limit["peak_rss_kib"] < 400 * 1024


def test_the_suite_tries_many_hostile_files():
    assert len(hostile.CASES) >= 80
    assert len({c.name for c in hostile.CASES}) == len(hostile.CASES)


# -- the generator itself ------------------------------------------------------------------
def test_deflate_zeros_inflates_to_what_it_claims():
    header = hostile.header_for((1 + 258 * 50,))
    stream = hostile.deflate_zeros(header, 50)
    inflater = zlib.decompressobj(-15)
    assert inflater.decompress(stream) == header + bytes(1 + 258 * 50)
    assert inflater.eof
    kernel = hostile.zero_kernel(hostile.GIB)
    assert 1025 < kernel.size / len(kernel.stream) <= 1032


def test_crc32_zeros_matches_zlib():
    for start, count in ((0, 0), (0, 1), (zlib.crc32(b"abc"), 1000), (123, 65537)):
        assert hostile.crc32_zeros(start, count) == zlib.crc32(bytes(count), start)


def test_bomb_kernels_are_valid_deflate_with_the_right_crc():
    kernel = hostile.zero_kernel(5_000_000)
    data = zlib.decompressobj(-15).decompress(kernel.stream)
    assert len(data) == kernel.size and zlib.crc32(data) == kernel.crc


# -- memory ----------------------------------------------------------------------------------
def test_memory_budget_is_a_fraction_of_what_is_available():
    available = available_memory()
    assert available > 0
    assert memory_budget() <= available // 2 + 1
    assert memory_budget(1.0) <= available
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\] \(got 0\)"):
        memory_budget(0)


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 bytes"), (1, "1 byte"), (1023, "1023 bytes"), (1024, "1.0 KiB (1024 bytes)"),
     (8 << 40, "8.0 TiB (8796093022208 bytes)")],
)
def test_format_bytes(n, text):
    assert format_bytes(n) == text
