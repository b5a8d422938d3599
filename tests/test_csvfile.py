"""npframe.csvfile.read_csv: fast when the file is plain, exact about where it is not.

Every behaviour is checked through both passes: ``read_csv`` (fast pass, falling back)
and the exact pass alone; Hypothesis then throws tricky cells at both and demands the
same table or the same message.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npframe import csvfile
from npframe.csvfile import CsvTable, read_csv
from npframe.data import load_data
from npframe.errors import DataError


def exact(path: Path, text_columns=()) -> CsvTable:
    """The exact pass alone, as ``read_csv`` runs it when the fast pass gives up."""
    with path.open("rb") as raw:
        return csvfile._Exact(path, raw, ",", list(text_columns)).read()


def both(path: Path, text_columns=()) -> CsvTable:
    """``read_csv``, after checking the exact pass agrees with it."""
    table = read_csv(path, text_columns=text_columns)
    assert_same(table, exact(path, text_columns))
    return table


def assert_same(a: CsvTable, b: CsvTable) -> None:
    assert a.header == b.header and a.number_columns == b.number_columns
    assert a.numbers.dtype == b.numbers.dtype == np.float64
    np.testing.assert_array_equal(a.numbers, b.numbers, strict=True)
    assert a.text.keys() == b.text.keys()
    for name in a.text:
        np.testing.assert_array_equal(a.text[name], b.text[name], strict=True)


def write(tmp_path: Path, text: str | bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.fixture
def no_exact_pass(monkeypatch):
    """Prove the fast pass alone read the file."""
    def refuse(self):
        raise AssertionError("the exact pass ran")

    monkeypatch.setattr(csvfile._Exact, "read", refuse)


# -- reading ---------------------------------------------------------------------------------
def test_numbers_and_text_columns(tmp_path, no_exact_pass):
    path = write(tmp_path, "radius,texture,diagnosis\n1.5,2,benign\n3,4e1,malignant\n")
    table = read_csv(path, text_columns=["diagnosis"])
    assert table.header == ("radius", "texture", "diagnosis")
    assert table.number_columns == ("radius", "texture")
    np.testing.assert_array_equal(table.numbers, [[1.5, 2.0], [3.0, 40.0]])
    assert table.text["diagnosis"].dtype.kind == "U"
    assert table.text["diagnosis"].tolist() == ["benign", "malignant"]
    assert table.n_rows == 2


def test_a_plain_file_takes_the_fast_pass(tmp_path, no_exact_pass):
    rows = "\n".join(f"{i},{i * 0.5},{-i}" for i in range(1000))
    table = read_csv(write(tmp_path, "a,b,c\r\n" + rows.replace("\n", "\r\n") + "\r\n"))
    assert table.numbers.shape == (1000, 3)
    assert table.numbers[999].tolist() == [999.0, 499.5, -999.0]


def test_text_columns_in_the_middle_and_every_column_text(tmp_path):
    path = write(tmp_path, "a,label,b,kind\n1,x,2,p\n3,y,4,q\n")
    table = both(path, ["kind", "label"])
    assert table.number_columns == ("a", "b")
    np.testing.assert_array_equal(table.numbers, [[1, 2], [3, 4]])
    assert list(table.text) == ["label", "kind"]  # file order
    table = both(write(tmp_path, "k\nx\ny\n"), ["k"])
    assert table.numbers.shape == (2, 0) and table.text["k"].tolist() == ["x", "y"]


@pytest.mark.parametrize(
    "text",
    [
        '\ufeff"a", b ,"y"\r\n\r\n 1 , 2.5e1,"-3"\r\n\r\n4,5,6\r\n\r\n',  # BOM, quotes, CRLF
        "a,b,y\r1,25,-3\r4,5,6\r",  # old Mac line ends
        "a,b,y\n1,25,-3\n  \n,,\n\t\n4,5,6",  # blank-looking rows, no final newline
        "\n\na,b,y\n1,25,-3\n4,5,6\n",  # blank lines before the header
        "a,b,y\n1,25\x1c,-3\x1f\n\x1d4,\x1e5,6\n",  # information separators are whitespace
        "a,b,y\n1,25,-3\n4,5,6\n\n\n",
    ],
)
def test_tolerated_layouts(tmp_path, text):
    table = both(write(tmp_path, text))
    assert table.header == ("a", "b", "y")
    np.testing.assert_array_equal(table.numbers, [[1, 25, -3], [4, 5, 6]])


def test_quoted_text_cells(tmp_path):
    table = both(write(tmp_path, 'x,label\n1,"benign, mostly"\n2," a ""b"" "\n'), ["label"])
    assert table.text["label"].tolist() == ["benign, mostly", 'a "b"']


# -- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b,y\n1,2,3\n4,abc,6\n", ":3:2: could not convert 'abc' to a number"),
        ("a,b,y\n1,2,3\n\n\n4,5,x\n", ":5:3: could not convert 'x' to a number"),
        ("a,b,y\n1,2\n", ":2:3: row has 2 cells but the header has 3 columns"),
        ("a,b,y\n1,2,3\n1,2,3,4\n", ":3:4: row has 4 cells but the header has 3 columns"),
        ("a,b,y\n1,2,3,\n", ":2:4: row has 4 cells but the header has 3 columns"),
        ("a,b,y\n1,,3\n", ":2:2: empty cell; every cell must hold a number"),
        ("a,b,y\n1,2,nan\n", ":2:3: 'nan' is not a finite number; remove or impute it"),
        ("a,b,y\n1,-inf,2\n", ":2:2: '-inf' is not a finite number"),
        ("a,b,y\n1,1e999,2\n", ":2:2: '1e999' is not a finite number"),
        ("", ": empty file; expected a header row and rows of numbers"),
        ("\n\n", ": empty file"),
        ("a,b,y\n", ": no data rows after the header (line 1)"),
        ("a,b,y\n\n,,\n", ": no data rows after the header (line 1)"),
        ("1,2,3\n4,5,6\n", ":1: the first row holds numbers, not column names"),
        ("a,b,a\n1,2,3\n", ":1:3: duplicate column name 'a' (also column 1)"),
        ("a,,y\n1,2,3\n", ":1:2: empty column name in the header"),
        ('a,b,y\n1,"2,3\n', ":2: malformed CSV"),
        ('a,b,y\n1,"2"x,3\n', ":2: malformed CSV"),
        ("a,b,y\n1,2\x003,4\n", ":2:2: could not convert '2\\x003' to a number"),
        ("a,b,y\n1,2\x1c3,4\n", ":2:2: could not convert '2\\x1c3' to a number"),
        ("a,b,y\n1,2\u20283,4\n", ":2:2: could not convert '2\\u20283' to a number"),
        ("a,b,y\n1,2\x853,4\n", ":2:2: could not convert '2\\x853' to a number"),
        ("a,b,y\n1,1_000,4\n", ":2:2: could not convert '1_000' to a number"),
        ("a,b,y\n1,\u0661,4\n", ":2:2: could not convert '\u0661' to a number"),
        ("a,b,y\n1,0x10,4\n", ":2:2: could not convert '0x10' to a number"),
        ("a,b,y\n1,'2',4\n", ":2:2: could not convert \"'2'\" to a number"),
        ("a,b,y\n\x001,2,3\n", ":2:1: could not convert '\\x001' to a number"),
    ],
)
def test_errors_point_at_the_cell_in_both_passes(tmp_path, text, message):
    path = write(tmp_path, text)
    for reader in (read_csv, exact):
        with pytest.raises(DataError) as info:
            reader(path)
        assert str(info.value).startswith(str(path) + message.split(" ")[0].rstrip(";"))
        assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x,label\n1,\n", ":2:2: empty cell; every cell must hold a value"),
        ("x,label\n1,be\x01nign\n", ":2:2: text 'be\\x01nign' holds a control character"),
        ("x,label\n1,be\x1cnign\n", ":2:2: text 'be\\x1cnign' holds a control character"),
        ("x,label\nz,benign\n", ":2:1: could not convert 'z' to a number"),
    ],
)
def test_text_cell_errors(tmp_path, text, message):
    path = write(tmp_path, text)
    for reader in (read_csv, exact):
        with pytest.raises(DataError, match=re.escape(message)):
            reader(path, text_columns=["label"])


def test_unknown_text_column(tmp_path):
    path = write(tmp_path, "x,label\n1,a\n")
    with pytest.raises(DataError, match=r"unknown text column 'lable'; did you mean 'label'\? "
                       r"columns: label, x"):
        read_csv(path, text_columns=["lable"])


def test_not_utf8_gives_the_true_byte_offset_and_line(tmp_path):
    """The offset is counted from the start of the file, however far in the byte is."""
    lines = ["a,b"] + [f"{i},{i}.5" for i in range(3000)]
    body = ("\n".join(lines) + "\n").encode()
    bad = 30010
    line = body.count(b"\n", 0, bad) + 1
    path = write(tmp_path, body[:bad] + b"\xff" + body[bad + 1:])
    for reader in (read_csv, exact):
        with pytest.raises(DataError) as info:
            reader(path)
        assert str(info.value) == (f"{path}:{line}: not UTF-8 text (invalid start byte: 0xff "
                                   f"at byte offset {bad}); save it as UTF-8 CSV")
    path = write(tmp_path, b"\xef\xbb\xbfa,b\n1,\xc3\n", "cut.csv")  # BOM counted; cut sequence
    with pytest.raises(DataError, match=r"cut\.csv:2: not UTF-8 text \(invalid continuation "
                       r"byte: 0xc3 at byte offset 9\)"):
        read_csv(path)


def test_pipes_and_folders_are_refused_without_blocking(tmp_path):
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.csv")
        with pytest.raises(DataError, match=r"pipe\.csv: is a named pipe \(FIFO\)"):
            read_csv(tmp_path / "pipe.csv")
        with pytest.raises(DataError, match=r"pipe\.csv: is a named pipe \(FIFO\)"):
            load_data(tmp_path / "pipe.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataError, match=r"dir\.csv: is a folder, not a file"):
        read_csv(tmp_path / "dir.csv")
    with pytest.raises(DataError, match=r"delimiter must be one character"):
        read_csv(tmp_path / "dir.csv", delimiter=";;")


@pytest.mark.parametrize("char", ["\x1c", "\x1d", "\x1e", "\x1f", "\x0b", "\x0c", "\x85",
                                  "\u2028", "\u2029"])
def test_characters_str_splitlines_breaks_at_never_crash_load_data(tmp_path, char):
    """Issue 16: a cell holding \\x1c crashed with AttributeError."""
    for text in (f"a,b,y\n1,2{char},3\n", f"a,b,y\n1,{char}2,3\n", f"a,b,y\n1,2{char}3,3\n",
                 f"a,b,y{char}\n1,2,3\n"):
        path = write(tmp_path, text)
        try:
            data = load_data(path, "y")
        except DataError as exc:
            assert re.match(re.escape(str(path)) + r":\d+(:\d+)?: ", str(exc)), exc
        else:
            np.testing.assert_array_equal(data.X, [[1, 2]])


# -- both passes agree on anything ------------------------------------------------------------
_CELL = st.one_of(
    st.text(alphabet=list("0123456789.eE+- \t\x1c\x1f\xa0_\"'ainfINF\x00\r\u0661,"), max_size=6),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**20, 10**20).map(str),
    st.sampled_from(["benign", "  x  ", '"q"', '"a,b"', "", "1e5", ".5", "5.", "-0"]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(_CELL, min_size=2, max_size=4), min_size=1, max_size=4),
       newline=st.sampled_from(["\n", "\r\n", "\r"]), text_label=st.booleans())
def test_fast_and_exact_passes_agree(rows, newline, text_label):
    body = newline.join(",".join(row) for row in rows)
    text = newline.join(["a,b,label", body, ""])
    columns = ["label"] if text_label else []
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), text)
        try:
            expected = exact(path, columns)
        except DataError as exc:
            with pytest.raises(DataError) as info:
                read_csv(path, text_columns=columns)
            assert str(info.value) == str(exc)
        else:
            assert_same(read_csv(path, text_columns=columns), expected)
