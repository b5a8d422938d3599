"""The header of a ``.npy`` array, parsed and checked before the array is allocated.

Only plain data is accepted: bool, integers, floats, complex numbers and unicode text,
never Python objects (reading those means unpickling, which can run any code), record
(structured) or subarray dtypes, datetimes or raw bytes. The dtype string is matched
against that list *before* NumPy interprets it, so an unknown one (from a newer NumPy
or npframe) is reported as unknown rather than guessed at. The header is at most 64
KiB and is evaluated with ``ast.literal_eval``, which builds literals and runs nothing.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable

import numpy as np
from attrs import field, frozen

from npframe.memory import format_bytes

__all__ = ["HeaderError", "NpyHeader", "check_values", "read_header"]

MAGIC = b"\x93NUMPY"
MAX_HEADER = 1 << 16
_MAX_NDIM = 64  # NumPy's own limit
_PLAIN = re.compile(r"[<>|=]?(?:b1|\?|[iu][1248]|f(?:2|4|8|12|16)|c(?:8|16|24|32)|U[1-9]\d{0,9})")
_OBJECT = re.compile(r"[<>|=]?O\d*")
_VERSIONS = {(1, 0): (2, "latin1"), (2, 0): (4, "latin1"), (3, 0): (4, "utf-8")}
_CHUNK = 1 << 24  # elements checked at a time by check_values


class HeaderError(Exception):
    """The header is unusable; the message is a verb phrase ("is truncated ...")."""


@frozen
class NpyHeader:
    """What a ``.npy`` header declares; ``size`` is the header's own length in bytes."""

    shape: tuple[int, ...]
    dtype: np.dtype = field(eq=False)
    fortran_order: bool
    size: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def describe(self) -> str:
        """``'shape (3, 4) of float64 = 96 bytes'``."""
        return f"shape {self.shape} of {self.dtype} = {format_bytes(self.nbytes)}"

    def array(self, flat: np.ndarray) -> np.ndarray:
        """The array whose bytes are ``flat`` (uint8, ``nbytes`` long), without copying."""
        return flat.view(self.dtype).reshape(self.shape, order="F" if self.fortran_order else "C")


def read_header(read: Callable[[int], bytes]) -> NpyHeader:
    """Parse a header from ``read(n)``, which returns fewer than n bytes only at the end."""
    prefix = read(len(MAGIC) + 2)
    if not prefix.startswith(MAGIC):
        if MAGIC.startswith(prefix) and prefix:
            raise HeaderError("is truncated inside its .npy header")
        raise HeaderError(_not_npy(prefix))
    if len(prefix) < len(MAGIC) + 2:
        raise HeaderError("is truncated inside its .npy header")
    version = (prefix[-2], prefix[-1])
    if version not in _VERSIONS:
        msg = (f"uses .npy format version {version[0]}.{version[1]}, which this npframe does "
               "not read (written by a newer NumPy?)")
        raise HeaderError(msg)
    width, encoding = _VERSIONS[version]
    length_bytes = read(width)
    if len(length_bytes) < width:
        raise HeaderError("is truncated inside its .npy header")
    length = int.from_bytes(length_bytes, "little")
    if length > MAX_HEADER:
        msg = (f"declares a {length}-byte .npy header; real ones are far under "
               f"{MAX_HEADER} bytes, so the data is corrupt or crafted")
        raise HeaderError(msg)
    text = read(length)
    if len(text) < length:
        raise HeaderError("is truncated inside its .npy header")
    try:
        decoded = text.decode(encoding)
    except UnicodeDecodeError:
        raise HeaderError(f"has a malformed .npy header (not {encoding} text)") from None
    shape, dtype, fortran = _parse(decoded)
    header = NpyHeader(shape=shape, dtype=dtype, fortran_order=fortran,
                       size=len(prefix) + width + length)
    if header.nbytes >= 1 << 63:
        msg = f"declares shape {shape} of {dtype}, more than any machine can address"
        raise HeaderError(msg)
    return header


def _not_npy(prefix: bytes) -> str:
    if not prefix:
        return "is empty"
    if prefix.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "is a zip archive (.npz, np.savez), not a single .npy array"
    if prefix[:1] == b"\x80":
        return ("looks like a Python pickle, which npframe never loads (unpickling can run "
                "arbitrary code)")
    return f"is not an .npy array (it starts with {prefix!r}, not {MAGIC!r})"


def _parse(text: str) -> tuple[tuple[int, ...], np.dtype, bool]:
    try:
        header = ast.literal_eval(text)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        raise HeaderError("has a malformed .npy header (not a Python literal)") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        keys = sorted(map(repr, header)) if isinstance(header, dict) else type(header).__name__
        msg = (f"has a malformed .npy header (expected the keys 'descr', 'fortran_order' and "
               f"'shape', got {keys})")
        raise HeaderError(msg)
    shape = header["shape"]
    if (not isinstance(shape, tuple) or len(shape) > _MAX_NDIM
            or not all(type(n) is int and n >= 0 for n in shape)):
        msg = f"has a malformed .npy header (shape must be a tuple of sizes >= 0, got {shape!r})"
        raise HeaderError(msg)
    fortran = header["fortran_order"]
    if type(fortran) is not bool:
        msg = f"has a malformed .npy header (fortran_order must be True or False, got {fortran!r})"
        raise HeaderError(msg)
    return shape, _dtype(header["descr"]), fortran


def _dtype(descr: object) -> np.dtype:
    if isinstance(descr, list):
        raise HeaderError("holds a structured (record) array; only plain numeric, bool and "
                          "unicode arrays are read")
    if not isinstance(descr, str):
        raise HeaderError(f"has a malformed .npy header (descr {descr!r} is not a dtype string)")
    if _OBJECT.fullmatch(descr):
        raise HeaderError("holds Python objects (dtype object), which can only be read by "
                          "unpickling, and unpickling can run arbitrary code; npframe never "
                          "does it")
    if _PLAIN.fullmatch(descr):
        try:
            return np.dtype(descr)
        except TypeError:  # e.g. 'f16' where long double is 8 bytes
            pass
    msg = (f"has dtype {descr!r}, which npframe does not read: only plain numeric, bool "
           "and unicode arrays (a newer NumPy or npframe may have written it)")
    raise HeaderError(msg)


def check_values(flat: np.ndarray, dtype: np.dtype) -> str | None:
    """Why the bytes ``flat`` (uint8) are not valid ``dtype`` values, or None.

    A bool byte other than 0 or 1 and a code point beyond U+10FFFF are representable in a
    file but not valid data; they are checked in chunks, so no full-size temporary.
    """
    if dtype.kind == "b":
        values, bad, what = flat, 1, "bool values other than 0 and 1"
    elif dtype.kind == "U":
        values = flat.view(dtype.byteorder.replace("|", "=") + "u4")
        bad, what = 0x10FFFF, "characters beyond U+10FFFF, which are not Unicode"
    else:
        return None
    for start in range(0, values.size, _CHUNK):
        if values[start:start + _CHUNK].max(initial=0) > bad:
            return f"holds {what}"
    return None
