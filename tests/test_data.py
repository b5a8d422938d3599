"""npframe.data.load_data: CSV / .npy / .npz, target selection, errors with file:line:col."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

import npframe
from npframe.data import load_data, parse_targets
from npframe.errors import DataError

ROWS = [[1.5, 2.0, 3.5, -0.5], [4.0, 5.0, 9.0, -1.0], [7.0, 8.25, 15.25, -1.25]]


def write(tmp_path, text: str, name: str = "data.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


@pytest.fixture
def csv_file(tmp_path):
    lines = ["a,b,sum,diff"] + [",".join(map(str, row)) for row in ROWS]
    return write(tmp_path, "\n".join(lines) + "\n")


# -- CSV: target selection ---------------------------------------------------------------
@pytest.mark.parametrize("targets", ["sum,diff", "2,3", ["sum", -1], [2, 3], "  sum , -1 "])
def test_csv_targets_by_name_or_index(csv_file, targets):
    data = load_data(csv_file, targets)
    assert isinstance(data, npframe.Dataset)
    np.testing.assert_array_equal(data.X, np.array(ROWS)[:, :2])
    np.testing.assert_array_equal(data.y, np.array(ROWS)[:, 2:])
    assert data.X.dtype == np.float64
    assert data.feature_names == ("a", "b")
    assert data.target_names == ("sum", "diff")


def test_targets_keep_the_order_given_and_may_sit_anywhere(csv_file):
    data = load_data(csv_file, "diff,a")
    np.testing.assert_array_equal(data.y, np.array(ROWS)[:, [3, 0]])
    assert data.feature_names == ("b", "sum")
    assert data.target_names == ("diff", "a")


def test_default_targets_are_the_columns_after_the_inputs(csv_file):
    data = load_data(csv_file, n_features=3)
    assert data.feature_names == ("a", "b", "sum")
    assert data.target_names == ("diff",)
    assert data.y.shape == (3, 1)


def test_without_targets_or_n_features_every_column_is_an_input(csv_file):
    data = load_data(csv_file)
    assert data.X.shape == (3, 4)
    assert data.y.shape == (3, 0)


def test_csv_tolerates_spaces_blank_lines_quotes_and_a_bom(tmp_path):
    text = '\ufeff"a", b ,"y"\r\n\r\n 1 , 2.5e1,"-3"\r\n\r\n4,5,6\r\n\r\n'
    data = load_data(write(tmp_path, text), "y")
    np.testing.assert_array_equal(data.X, [[1, 25], [4, 5]])
    np.testing.assert_array_equal(data.y, [[-3], [6]])
    assert data.feature_names == ("a", "b")


def test_a_number_named_column_is_matched_by_name_first(tmp_path):
    data = load_data(write(tmp_path, "x,2,z\n1,2,3\n"), "2")
    assert data.target_names == ("2",)
    np.testing.assert_array_equal(data.y, [[2]])


# -- CSV: errors name the file, line and column -------------------------------------------
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b,y\n1,2,3\n4,abc,6\n", ":3:2: could not convert 'abc' to a number"),
        ("a,b,y\n1,2,3\n\n\n4,5,x\n", ":5:3: could not convert 'x' to a number"),
        ("a,b,y\n1,2\n", ":2:3: row has 2 cells but the header has 3 columns"),
        ("a,b,y\n1,2,3\n1,2,3,4\n", ":3:4: row has 4 cells but the header has 3 columns"),
        ("a,b,y\n1,,3\n", ":2:2: empty cell; every cell must hold a number"),
        ("a,b,y\n1,2,nan\n", ":2:3: 'nan' is not a finite number"),
        ("a,b,y\n1,-inf,2\n", ":2:2: '-inf' is not a finite number"),
        ("", ": empty file; expected a header row and rows of numbers"),
        ("\n\n", ": empty file"),
        ("a,b,y\n", ": no data rows after the header (line 1)"),
        ("1,2,3\n4,5,6\n", ":1: the first row holds numbers, not column names"),
        ("a,b,a\n1,2,3\n", ":1:3: duplicate column name 'a' (also column 1)"),
        ("a,,y\n1,2,3\n", ":1:2: empty column name in the header"),
        ('a,b,y\n1,"2,3\n', ":2: malformed CSV"),
    ],
)
def test_csv_errors_point_at_the_cell(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(DataError) as info:
        load_data(path, "y")
    assert str(info.value).startswith(str(path) + message.split(" ")[0].rstrip(";"))
    assert message in str(info.value)


def test_error_is_a_value_error_and_an_npframe_error(tmp_path):
    with pytest.raises(ValueError, match="could not convert"):
        load_data(write(tmp_path, "a,y\nz,1\n"), "y")
    assert issubclass(DataError, npframe.NpframeError)


@pytest.mark.parametrize(
    ("targets", "n_features", "message"),
    [
        ("sun", None, "unknown target column 'sun'; did you mean 'sum'? columns: a, b, diff, sum"),
        ("7", None, "target column index 7 is out of range; the file has 4 columns"),
        (-5, None, "target column index -5 is out of range"),
        ("sum,2", None, "target column 'sum' is chosen twice"),
        ("a,b,sum,diff", None, "every column is a target; no input columns are left"),
        ("diff", 2, "3 input columns (a, b, sum) but the network takes 2"),
        (None, 5, "the file has 4 columns but the network takes 5 inputs"),
        ("sum,,diff", None, "targets: empty column name"),
        ([1.5], None, "targets: each entry must be a column name or an index"),
        ({"a"}, None, "targets must be column names or indices"),
    ],
)
def test_target_selection_errors(csv_file, targets, n_features, message):
    with pytest.raises(DataError, match=re.escape(message)):
        load_data(csv_file, targets, n_features=n_features)


def test_file_errors(tmp_path):
    with pytest.raises(DataError, match=r"missing\.csv: no such file"):
        load_data(tmp_path / "missing.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataError, match=r"dir\.csv: is a directory"):
        load_data(tmp_path / "dir.csv")
    with pytest.raises(DataError, match=r"data\.txt: unsupported data file type '\.txt'"):
        load_data(write(tmp_path, "a\n1\n", "data.txt"))
    path = tmp_path / "latin.csv"
    path.write_bytes("a,é\n1,2\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin\.csv:1: not UTF-8 text \(invalid continuation "
                       r"byte: 0xe9 at byte offset 2\)"):
        load_data(path)


def test_parse_targets():
    assert parse_targets(None) is None
    assert parse_targets("a, 2 ,-1") == ["a", "2", "-1"]
    assert parse_targets(3) == [3]
    assert parse_targets([np.int64(1), "b"]) == [1, "b"]
    with pytest.raises(DataError, match="no columns given"):
        parse_targets([])


# -- .npy and .npz ------------------------------------------------------------------------
def test_npy_columns_chosen_by_index(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.array(ROWS, dtype=np.float32))
    data = load_data(path, "-1")
    np.testing.assert_array_equal(data.y, np.array(ROWS, dtype=np.float32)[:, 3:])
    assert data.X.shape == (3, 3)
    assert data.X.dtype == np.float64
    assert data.feature_names == () and data.target_names == ()
    assert load_data(path, n_features=2).y.shape == (3, 2)


def test_npy_errors(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.arange(3.0))
    with pytest.raises(DataError, match=r"expected a 2-D array .* got shape \(3,\)"):
        load_data(path)
    np.save(path, np.array([[1.0, np.nan]]))
    with pytest.raises(DataError, match=r"row 0, column 1: nan is not a finite number"):
        load_data(path)
    np.save(path, np.array([[1, "x"]], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="holds Python objects"):
        load_data(path)
    np.save(path, np.array([["a", "b"]]))
    with pytest.raises(DataError, match="must hold real numbers"):
        load_data(path)


def test_npz_with_X_and_y(tmp_path):
    path = tmp_path / "data.npz"
    X, y = np.array(ROWS)[:, :2], np.array(ROWS)[:, 2]
    np.savez(path, X=X, y=y)
    data = load_data(path, n_features=2)
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(data.y, y.reshape(-1, 1))
    np.savez(path, X=X)
    assert load_data(path).y.shape == (3, 0)


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"A": np.ones((2, 2))}, "missing member 'X' (members: A)"),
        ({"X": np.ones(2)}, "member 'X' must be 2-D"),
        ({"X": np.ones((2, 2)), "y": np.ones(3)}, "member 'y' must be (samples,) or"),
        ({"X": np.array([[1, None]], dtype=object)}, "holds Python objects"),
        ({"X": np.ones((2, 2)), "y": np.array([np.inf, 1])}, "inf is not a finite number"),
    ],
)
def test_npz_errors(tmp_path, members, message):
    path = tmp_path / "data.npz"
    np.savez(path, **members)
    with pytest.raises(DataError, match=re.escape(message)):
        load_data(path)


def test_npz_rejects_targets_and_garbage(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=np.ones((2, 2)))
    with pytest.raises(DataError, match="holds its targets in its 'y' member"):
        load_data(path, "0")
    path.write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match=r"data\.npz: not a valid \.npz file"):
        load_data(path)
    with pytest.raises(DataError, match=r"expected 2 inputs|takes 2"):
        np.savez(path, X=np.ones((2, 3)))
        load_data(path, n_features=2)


# -- hostile files (issue 16): every one a DataError naming the file --------------------------
def test_npz_with_a_crc_error_or_holding_one_npy(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=np.ones((2, 2)))
    raw = bytearray(path.read_bytes())
    raw[raw.index(b"\x93NUMPY") + 130] ^= 0xFF  # a data byte of X
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"data\.npz: member 'X' fails its CRC check"):
        load_data(path)
    np.save(tmp_path / "x.npy", np.ones((2, 2)))
    (tmp_path / "x.npy").rename(path)
    with pytest.raises(DataError, match=r"data\.npz: not a valid \.npz file: it is a single "
                       r"\.npy array \(np\.save\)"):
        load_data(path)


def test_npy_header_declaring_terabytes(tmp_path):
    path = tmp_path / "data.npy"
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 1), }"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
                     + header.encode() + bytes(16))
    with pytest.raises(DataError, match=r"data\.npy: the header declares shape "
                       r"\(1099511627776, 1\) of float64 = 8\.0 TiB .* but 16 bytes follow it"):
        load_data(path)


def test_the_float64_copy_counts_against_the_budget(tmp_path, monkeypatch):
    monkeypatch.setattr("npframe.data.memory_budget", lambda: 10_000)
    np.save(tmp_path / "small.npy", np.ones((100, 10), dtype=np.int8))  # 1 KB, 8 KB as float64
    assert load_data(tmp_path / "small.npy").X.shape == (100, 10)
    np.save(tmp_path / "big.npy", np.ones((200, 10), dtype=np.int8))
    with pytest.raises(DataError, match=r"big\.npy: the array \(shape \(200, 10\) of int8\) "
                       r"needs 17\.6 KiB \(18000 bytes\) as float64 data, more than the 9\.8 "
                       r"KiB \(10000 bytes\) a data file may take here"):
        load_data(tmp_path / "big.npy")
    np.savez(tmp_path / "big.npz", X=np.ones((100, 10), dtype=np.int8), y=np.ones((100, 3)))
    with pytest.raises(DataError, match=r"big\.npz: member .y. \(shape \(100, 3\) of float64\)"):
        load_data(tmp_path / "big.npz")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("name", ["data.csv", "data.npy", "data.npz"])
def test_a_named_pipe_is_refused_without_blocking(tmp_path, name):
    os.mkfifo(tmp_path / name)
    with pytest.raises(DataError, match=re.escape(name) + r": is a named pipe \(FIFO\)"):
        load_data(tmp_path / name)
