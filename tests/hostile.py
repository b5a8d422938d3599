"""A generator of hostile ``.npz`` and ``.npy`` files: every way a file can try to hurt a reader.

Each ``@case`` writes one file (or names a FIFO, a device, a folder) and says how it
must be read and which fragment the refusal must contain. ``CASES`` lists them all;
``write_cases(folder)`` writes them. The zip files are assembled byte by byte
(``build_zip``), so the central directory can lie in any way; the bombs use a
hand-made deflate stream (``deflate_zeros``) that inflates 1032:1 and is built in
microseconds, with a correct CRC (``crc32_zeros``), so they are valid zip files that
only the size and overlap checks can stop.

Readers: ``npz`` (``read_npz``), ``npz_all`` (``read_npz`` with a budget of 1 PiB
(``UNLIMITED``) under the memory limit, so only the structural checks can stop it),
``npy`` and ``npy_mmap`` (``read_npy``).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import textwrap
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from attrs import define, field, frozen

STORED, DEFLATED = 0, 8
GIB = 1 << 30
TIB = 1 << 40
UNLIMITED = 1 << 50


# -- building blocks -----------------------------------------------------------------------
def npy_bytes(array: np.ndarray) -> bytes:
    """What ``np.save`` writes for ``array``."""
    out = io.BytesIO()
    np.lib.format.write_array(out, array, allow_pickle=True)
    return out.getvalue()


def npy_header(header: str | bytes, version: tuple[int, int] = (1, 0)) -> bytes:
    """A ``.npy`` header around any dict text (lies included), padded like NumPy's."""
    text = header.encode("latin1") if isinstance(header, str) else header
    width = 2 if version == (1, 0) else 4
    pad = -(6 + 2 + width + len(text) + 1) % 64
    text = text + b" " * pad + b"\n"
    return b"\x93NUMPY" + bytes(version) + len(text).to_bytes(width, "little") + text


def header_for(shape: tuple[int, ...], descr: str = "|u1") -> bytes:
    return npy_header(f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}")


class _Bits:
    """A deflate bit stream: data elements LSB first, Huffman codes MSB first."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.n = 0

    def put(self, value: int, width: int) -> None:
        for i in range(width):
            self._bit((value >> i) & 1)

    def code(self, code: int, length: int) -> None:
        for i in reversed(range(length)):
            self._bit((code >> i) & 1)

    def zeros(self, count: int) -> None:
        self.n += count
        self.buf.extend(bytes((self.n + 7) // 8 - len(self.buf)))

    def _bit(self, bit: int) -> None:
        if self.n // 8 >= len(self.buf):
            self.buf.append(0)
        self.buf[self.n // 8] |= bit << (self.n % 8)
        self.n += 1


def deflate_zeros(prefix: bytes, matches: int) -> bytes:
    """A raw deflate stream of ``prefix``, one zero byte, then ``258 * matches`` zero bytes.

    One dynamic-Huffman block whose codes are: length-258 match 1 bit, distance 1 one
    bit, end-of-block 2 bits, every literal 10 bits. Each match costs 2 bits for 258
    bytes, deflate's best ratio (1032:1), and the middle of the stream is zero bytes.
    """
    bits = _Bits()
    bits.put(1, 1)  # BFINAL
    bits.put(2, 2)  # dynamic Huffman
    bits.put(286 - 257, 5)  # HLIT: literal/length codes 0..285
    bits.put(0, 5)  # HDIST: one distance code
    bits.put(18 - 4, 4)  # HCLEN: code-length codes in the first 18 positions of ORDER
    order = (16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1)
    cl_code = {0: 0b00, 1: 0b01, 2: 0b10, 10: 0b11}  # canonical: all four of length 2
    for symbol in order:
        bits.put(2 if symbol in cl_code else 0, 3)
    lengths = [10] * 256 + [2] + [0] * 28 + [1] + [1]  # lit/len 0..285, then distance 0
    for length in lengths:
        bits.code(cl_code[length], 2)
    # canonical codes: 285 -> '0', 256 -> '10', literal b -> 768 + b (10 bits)
    for byte in prefix + b"\0":
        bits.code(768 + byte, 10)
    bits.zeros(2 * matches)  # each: length 258 ('0') + distance 1 ('0')
    bits.code(0b10, 2)  # end of block
    return bytes(bits.buf)


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, i = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def crc32_zeros(crc: int, count: int) -> int:
    """``zlib.crc32(bytes(count), crc)`` in O(log count) (zlib's crc32_combine operator)."""
    operator = [0xEDB88320] + [1 << i for i in range(31)]  # one zero bit
    for _ in range(3):  # one zero byte
        operator = [_gf2_times(operator, row) for row in operator]
    register = crc ^ 0xFFFFFFFF
    while count:
        if count & 1:
            register = _gf2_times(operator, register)
        operator = [_gf2_times(operator, row) for row in operator]
        count >>= 1
    return register ^ 0xFFFFFFFF


@frozen
class Kernel:
    """A deflated ``.npy``: its stream, its uncompressed size and CRC."""

    stream: bytes
    size: int
    crc: int


def zero_kernel(shape_bytes: int, *, declared: tuple[int, ...] | None = None) -> Kernel:
    """A deflated uint8 ``.npy`` of about ``shape_bytes`` zeros (rounded to 1 + 258k)."""
    matches = max(shape_bytes - 1, 0) // 258
    n = 1 + 258 * matches
    header = header_for(declared if declared is not None else (n,))
    crc = crc32_zeros(zlib.crc32(header), n)
    return Kernel(deflate_zeros(header, matches), len(header) + n, crc)


@define
class Member:
    """One zip member as written; every field a directory can lie about is overridable."""

    name: str | bytes
    data: bytes = b""
    method: int = STORED
    payload: bytes | None = None  # bytes after the local header; default: data, deflated if asked
    size: int | None = None  # declared uncompressed size
    crc: int | None = None
    compressed_size: int | None = None  # declared in the directory
    header_offset: int | None = None  # declared in the directory
    flags: int = 0
    local_name: bytes | None = None
    local_method: int | None = None
    local_extra: bytes = b""
    raw: bytes = field(init=False, default=b"")

    def __attrs_post_init__(self) -> None:
        self.raw = self.name.encode() if isinstance(self.name, str) else self.name
        if self.payload is None:
            if self.method == DEFLATED:
                c = zlib.compressobj(6, zlib.DEFLATED, -15)
                self.payload = c.compress(self.data) + c.flush()
            else:
                self.payload = self.data
        if self.size is None:
            self.size = len(self.data)
        if self.crc is None:
            self.crc = zlib.crc32(self.data)


def local_header(m: Member) -> bytes:
    name = m.raw if m.local_name is None else m.local_name
    method = m.method if m.local_method is None else m.local_method
    assert m.payload is not None and m.size is not None and m.crc is not None
    return struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, m.flags, method, 0, 0x21,
                       m.crc, min(len(m.payload), 0xFFFFFFFF), min(m.size, 0xFFFFFFFF),
                       len(name), len(m.local_extra)) + name + m.local_extra


def central_entry(m: Member, offset: int) -> bytes:
    assert m.payload is not None and m.size is not None and m.crc is not None
    size = m.size
    compressed = len(m.payload) if m.compressed_size is None else m.compressed_size
    offset = offset if m.header_offset is None else m.header_offset
    extra = b""
    fields = []
    for value in (size, compressed, offset):
        if value >= 0xFFFFFFFF:
            fields.append(value)
    if fields:
        extra = struct.pack("<HH", 1, 8 * len(fields)) + b"".join(
            v.to_bytes(8, "little") for v in fields)
    big = [v >= 0xFFFFFFFF for v in (size, compressed, offset)]
    return struct.pack(
        "<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, m.flags, m.method, 0, 0x21, m.crc,
        0xFFFFFFFF if big[1] else compressed, 0xFFFFFFFF if big[0] else size,
        len(m.raw), len(extra), 0, 0, 0, 0, 0xFFFFFFFF if big[2] else offset,
    ) + m.raw + extra


def end_record(count: int, cd_size: int, cd_offset: int, *, disk: int = 0,
               comment: bytes = b"") -> bytes:
    return struct.pack("<4s4H2LH", b"PK\x05\x06", disk, 0, count, count, cd_size, cd_offset,
                       len(comment)) + comment


def build_zip(members: list[Member], *, count: int | None = None, prepend: bytes = b"",
              append: bytes = b"", disk: int = 0) -> bytes:
    out = bytearray(prepend)
    offsets = []
    for m in members:
        offsets.append(len(out))
        assert m.payload is not None
        out += local_header(m) + m.payload
    cd_offset = len(out)
    for m, offset in zip(members, offsets, strict=True):
        out += central_entry(m, offset)
    cd_size = len(out) - cd_offset
    out += append + end_record(len(members) if count is None else count, cd_size, cd_offset,
                               disk=disk)
    return bytes(out)


def shared_block_bomb(n: int, kernel: Kernel, names: list[str] | None = None) -> bytes:
    """``n`` members whose data all start at the same byte: one kernel, ``n`` arrays.

    Local header i sits inside the extra field of header i - 1, and every extra field
    ends where the kernel begins, so each member is a valid, CRC-correct ``.npy``.
    ``names`` (without ``.npy``) default to ``m000``, ``m001``, ...
    """
    raw = [f"{name}.npy".encode() for name in (names or [f"m{i:03d}" for i in range(n)])]
    assert len(raw) == n
    offsets = [0]
    for name in raw:
        offsets.append(offsets[-1] + 30 + len(name))
    data_at = offsets.pop()
    out = bytearray()
    for offset, name in zip(offsets, raw, strict=True):
        out += struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, 0, DEFLATED, 0, 0x21,
                           kernel.crc, len(kernel.stream), kernel.size, len(name),
                           data_at - offset - 30 - len(name)) + name
    out += kernel.stream
    cd_offset = len(out)
    for offset, name in zip(offsets, raw, strict=True):
        out += struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, DEFLATED, 0,
                           0x21, kernel.crc, len(kernel.stream), kernel.size, len(name), 0, 0,
                           0, 0, 0, offset) + name
    return bytes(out + end_record(n, len(out) - cd_offset, cd_offset))


def quoted_overlap_bomb(n: int, kernel: Kernel, names: list[str] | None = None) -> bytes:
    """David Fifield's construction: member i's data is a stored deflate block quoting
    local header i + 1, then runs on through every later member into the shared kernel."""
    names = [f"{name}.npy".encode() for name in (names or [f"q{i:03d}" for i in range(n)])]
    quotes, headers = [b""] * n, [b""] * n
    sizes, compressed = [kernel.size] * n, [0] * n
    for i in reversed(range(n)):  # back to front: each header quotes the next one
        if i < n - 1:
            quotes[i] = b"\x00" + struct.pack("<HH", len(headers[i + 1]),
                                               len(headers[i + 1]) ^ 0xFFFF)
            sizes[i] = len(headers[i + 1]) + sizes[i + 1]
        compressed[i] = len(quotes[i]) + sum(len(headers[j]) + len(quotes[j])
                                             for j in range(i + 1, n)) + len(kernel.stream)
        headers[i] = struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, 0, DEFLATED, 0, 0x21,
                                 0, compressed[i], sizes[i], len(names[i]), 0) + names[i]
    out, offsets = bytearray(), []
    for i in range(n):
        offsets.append(len(out))
        out += headers[i] + quotes[i]
    out += kernel.stream
    cd_offset = len(out)
    for i in range(n):
        out += struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, DEFLATED, 0, 0x21,
                           0, compressed[i], sizes[i], len(names[i]), 0, 0, 0, 0, 0,
                           offsets[i]) + names[i]
    return bytes(out + end_record(n, len(out) - cd_offset, cd_offset))


# -- the cases -----------------------------------------------------------------------------
@frozen
class Case:
    name: str
    read: str  # npz | npz_all | npy | npy_mmap
    expect: str  # a fragment the error message must contain
    write: Callable[[Path], Path]
    needs: str = ""  # "fifo" or "dev_zero": what the platform must offer

    def available(self) -> bool:
        return {"": True, "fifo": hasattr(os, "mkfifo"),
                "dev_zero": Path("/dev/zero").exists()}[self.needs]

    def path_in(self, folder: Path) -> Path:
        return folder / f"{self.name}{'.npy' if self.read.startswith('npy') else '.npz'}"


CASES: list[Case] = []


def case(read: str, expect: str, needs: str = ""):
    def register(write: Callable[[Path], bytes | Path]) -> Callable[[Path], bytes | Path]:
        def to_path(path: Path) -> Path:
            made = write(path)
            if isinstance(made, Path):
                return made
            path.write_bytes(made)
            return path

        CASES.append(Case(write.__name__, read, expect, to_path, needs))
        return write

    return register


def write_cases(folder: Path) -> list[tuple[Case, Path]]:
    """Write every case the platform supports into ``folder``."""
    return [(c, c.write(c.path_in(folder))) for c in CASES if c.available()]


def _npz(**arrays: np.ndarray) -> list[Member]:
    return [Member(f"{k}.npy", npy_bytes(v)) for k, v in arrays.items()]


_X = np.arange(12.0).reshape(3, 4)
_KERNEL_205MB = 205_000_000
_TEXT = b"a,b,c\n1,2,3\n4,5,6\n"


# zip bombs ---------------------------------------------------------------------------------
@case("npz_all", "overlap")
def bomb_shared_block_213kb(path: Path) -> bytes:  # 40 x 205 MB from ~200 KB
    return shared_block_bomb(40, zero_kernel(_KERNEL_205MB))


@case("npz", "overlap")
def bomb_shared_block_default_budget(path: Path) -> bytes:
    return shared_block_bomb(40, zero_kernel(_KERNEL_205MB))


@case("npz_all", "overlap")
def bomb_quoted_overlap(path: Path) -> bytes:
    return quoted_overlap_bomb(20, zero_kernel(50_000_000))


@case("npz_all", "overlap")
def bomb_same_offset_same_name(path: Path) -> bytes:
    """Ten directory entries for one local header: ten arrays from one block."""
    k = zero_kernel(100_000_000)
    m = Member("a.npy", method=DEFLATED, payload=k.stream, size=k.size, crc=k.crc)
    local = local_header(m) + k.stream
    entries = b"".join(central_entry(m, 0) for _ in range(10))
    return local + entries + end_record(10, len(entries), len(local))


@case("npz", "a member may take")
def bomb_four_deflated_gib_members(path: Path) -> bytes:  # ~4 MB file, 4 GiB declared
    k = zero_kernel(GIB)
    return build_zip([Member(f"w{i}.npy", method=DEFLATED, payload=k.stream, size=k.size,
                             crc=k.crc) for i in range(4)])


@case("npz", "uncompressed in all")
def bomb_many_deflated_members_over_total(path: Path) -> bytes:  # each fits, the sum does not
    k = zero_kernel(120_000_000)
    return build_zip([Member(f"w{i}.npy", method=DEFLATED, payload=k.stream, size=k.size,
                             crc=k.crc) for i in range(12)])


@case("npz_all", "decompresses to more than")
def bomb_directory_understates_size(path: Path) -> bytes:
    """The header and the directory agree on 9 bytes; the stream goes on for 1 GiB."""
    stream = deflate_zeros(header_for((9,)), GIB // 258)
    declared = len(header_for((9,))) + 9
    return build_zip([Member("X.npy", method=DEFLATED, payload=stream, size=declared, crc=0)])


@case("npz_all", "8.0 TiB")
def bomb_8tib_deflated_claim(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_X), method=DEFLATED, size=8 * TIB)])


@case("npz_all", "stored uncompressed, but")
def bomb_8tib_stored_claim(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_X), size=8 * TIB)])


@case("npz_all", "run past the start of the central directory")
def bomb_8tib_stored_both_sizes(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_X), size=8 * TIB, compressed_size=8 * TIB)])


@case("npz_all", "is truncated")
def lie_npy_header_8tib_in_stored_member(path: Path) -> bytes:
    return build_zip([Member("X.npy", header_for((TIB,), "<f8"))])


@case("npz_all", "is truncated")
def lie_npy_header_8tib_in_deflated_member(path: Path) -> bytes:
    return build_zip([Member("X.npy", header_for((TIB,), "<f8"), method=DEFLATED)])


@case("npz_all", "more than any machine can address")
def lie_npy_header_beyond_address_space(path: Path) -> bytes:
    return build_zip([Member("X.npy", header_for((1 << 62, 1 << 62), "<f8"))])


@case("npz_all", "is truncated")
def bomb_directory_understates_header(path: Path) -> bytes:
    """The header declares 1 GiB, the directory 200 bytes, the stream holds 1 GiB."""
    k = zero_kernel(GIB)
    return build_zip([Member("X.npy", method=DEFLATED, payload=k.stream, size=200, crc=k.crc)])


# zip structure -----------------------------------------------------------------------------
@case("npz", "more than the 10000 allowed")
def zip_claims_60000_members(path: Path) -> bytes:
    return build_zip(_npz(X=_X), count=60_000)


@case("npz", "too short for")
def zip_directory_too_short_for_count(path: Path) -> bytes:
    return build_zip(_npz(X=_X), count=5000)


@case("npz", "split over several disks")
def zip_multi_disk(path: Path) -> bytes:
    return build_zip(_npz(X=_X), disk=1)


@case("npz", "it is not a zip archive")
def zip_prepended_data(path: Path) -> bytes:
    return build_zip(_npz(X=_X), prepend=b"MZ" + bytes(100))


@case("npz", "does not end where the end record begins")
def zip_data_between_directory_and_end(path: Path) -> bytes:
    return build_zip(_npz(X=_X), append=b"junk")


@case("npz", "no end-of-central-directory record")
def zip_truncated_half(path: Path) -> bytes:
    data = build_zip(_npz(X=_X, y=np.ones(100)))
    return data[: len(data) // 2]


@case("npz", "no end-of-central-directory record")
def zip_truncated_last_byte(path: Path) -> bytes:
    return build_zip(_npz(X=_X))[:-1]


@case("npz", "no local header")
def zip_offset_points_at_garbage(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_X), header_offset=7)])


@case("npz", "inside or after the central directory")
def zip_offset_points_past_directory(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_X), header_offset=10**9)])


@case("npz", "local header names it")
def zip_local_name_differs(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_X), local_name=b"Y.npy")])


@case("npz", "disagrees with the directory")
def zip_local_method_differs(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_X), local_method=DEFLATED)])


@case("npz", "is encrypted")
def zip_encrypted_member(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_X), flags=0x1)])


@case("npz", "method 12 (bzip2)")
def zip_bzip2_member(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_X), method=12)])


@case("npz", "method 14 (lzma)")
def zip_lzma_member(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_X), method=14)])


@case("npz", "zip64 record that is missing")
def zip_zip64_end_missing(path: Path) -> bytes:
    data = build_zip(_npz(X=_X))
    cd_size, cd_offset = struct.unpack_from("<2L", data, len(data) - 10)
    return data[:-22] + end_record(0xFFFF, cd_size, cd_offset)


@case("npz", "fails its CRC check")
def zip_crc_error_stored(path: Path) -> bytes:
    m = Member("X.npy", npy_bytes(_X))
    assert m.payload is not None
    m.payload = m.payload[:-1] + bytes([m.payload[-1] ^ 0xFF])
    return build_zip([m])


@case("npz", "fails its CRC check")
def zip_crc_error_deflated(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_X), method=DEFLATED, crc=12345)])


@case("npz", "deflated data is invalid")
def zip_corrupt_deflate_stream(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_X), method=DEFLATED, payload=b"\xff" * 64,
                             size=len(npy_bytes(_X)))])


@case("npz", "is truncated")
def zip_deflate_stream_cut_short(path: Path) -> bytes:
    m = Member("X.npy", npy_bytes(np.arange(5000.0)), method=DEFLATED)
    assert m.payload is not None
    m.payload = m.payload[: len(m.payload) // 2]
    return build_zip([m])


# names ---------------------------------------------------------------------------------------
def _named(name: str | bytes) -> bytes:
    return build_zip([Member(name, npy_bytes(_X))])


@case("npz", "unsafe name")
def name_parent_traversal(path: Path) -> bytes:
    return _named("../../etc/evil.npy")


@case("npz", "unsafe name")
def name_absolute(path: Path) -> bytes:
    return _named("/abs/X.npy")


@case("npz", "unsafe name")
def name_empty_part(path: Path) -> bytes:
    return _named("weights//W1.npy")


@case("npz", "unsafe name")
def name_dot_part(path: Path) -> bytes:
    return _named("weights/./W1.npy")


@case("npz", "unsafe name")
def name_backslash(path: Path) -> bytes:
    return _named("..\\evil.npy")


@case("npz", "unsafe name")
def name_control_character(path: Path) -> bytes:
    return _named("X\x00.npy")


@case("npz", "unsafe name")
def name_empty_key(path: Path) -> bytes:
    return _named(".npy")


@case("npz", "is not a NumPy array (.npy)")
def name_not_npy(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_X)), Member("notes.txt", b"hello")])


@case("npz", "is not a NumPy array (.npy)")
def name_nested_zip(path: Path) -> bytes:
    return build_zip([Member("inner.npz", build_zip(_npz(X=_X)))])


@case("npz", "appears 2 times")
def name_duplicate(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_X)), Member("X.npy", npy_bytes(_X * 2))])


@case("npz", "flagged UTF-8 but is not")
def name_bad_utf8(path: Path) -> bytes:
    return build_zip([Member(b"X\xff.npy", npy_bytes(_X), flags=0x800)])


# member contents -------------------------------------------------------------------------
@case("npz", "holds Python objects")
def content_object_array(path: Path) -> bytes:
    return build_zip(_npz(X=np.array([[1, None]], dtype=object)))


@case("npz", "structured (record) array")
def content_structured_array(path: Path) -> bytes:
    return build_zip(_npz(X=np.zeros(3, dtype=[("a", "<f8"), ("b", "<i4")])))


@case("npz", "does not read")
def content_datetime_array(path: Path) -> bytes:
    return build_zip(_npz(X=np.array(["2024-01-01"], dtype="datetime64[ns]")))


@case("npz", "does not read")
def content_bytes_array(path: Path) -> bytes:
    return build_zip(_npz(X=np.array([b"ab"])))


@case("npz", "does not read")
def content_unknown_dtype_from_newer_writer(path: Path) -> bytes:
    return build_zip([Member("X.npy", header_for((3,), "<bf16") + bytes(6))])


@case("npz", "does not read")
def content_subarray_dtype(path: Path) -> bytes:
    return build_zip([Member("X.npy", header_for((3,), "(2,)<f8") + bytes(48))])


@case("npz", "is not an .npy array")
def content_text_member(path: Path) -> bytes:
    return build_zip([Member("X.npy", _TEXT)])


@case("npz", "looks like a Python pickle")
def content_pickle_member(path: Path) -> bytes:
    return build_zip([Member("X.npy", pickle.dumps([1, 2, 3]))])


@case("npz", "is empty")
def content_empty_member(path: Path) -> bytes:
    return build_zip([Member("X.npy", b"")])


@case("npz", "is truncated")
def content_truncated_member(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(np.arange(100.0))[:-400])])


@case("npz", "is truncated inside its .npy header")
def content_truncated_header(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_X)[:40])])


@case("npz", "holds 101 bytes after its header")
def content_trailing_bytes(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_X) + b"extra")])


@case("npz", "format version 4.0")
def content_npy_version_4(path: Path) -> bytes:
    return build_zip([Member("X.npy", b"\x93NUMPY\x04\x00" + bytes(100))])


@case("npz", "-byte .npy header")
def content_huge_header_length(path: Path) -> bytes:
    return build_zip([Member("X.npy", b"\x93NUMPY\x02\x00\xff\xff\xff\xff" + bytes(100))])


@case("npz", "not a Python literal")
def content_header_code(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_header("__import__('os').system('echo pwned')"))])


@case("npz", "not a Python literal")
def content_header_deep_nesting(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_header("(" * 5000 + ")" * 5000, (2, 0)))])


@case("npz", "not a Python literal")
def content_header_huge_integer(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_header(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (" + "9" * 5000 + ",), }"))])


@case("npz", "expected the keys")
def content_header_extra_key(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_header(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}") + bytes(8))])


@case("npz", "shape must be a tuple")
def content_header_negative_shape(path: Path) -> bytes:
    return build_zip([Member("X.npy", header_for((-1,), "<f8"))])


@case("npz", "shape must be a tuple")
def content_header_bool_shape(path: Path) -> bytes:
    return build_zip([Member("X.npy", header_for((True,), "<f8") + bytes(8))])


@case("npz", "fortran_order must be")
def content_header_fortran_not_bool(path: Path) -> bytes:
    return build_zip([Member("X.npy", npy_header(
        "{'descr': '<f8', 'fortran_order': 1, 'shape': (1,), }") + bytes(8))])


@case("npz", "bool values other than 0 and 1")
def content_bool_bytes_not_0_or_1(path: Path) -> bytes:
    return build_zip([Member("X.npy", header_for((3,), "|b1") + b"\x00\x01\x02")])


@case("npz", "beyond U+10FFFF")
def content_unicode_beyond_range(path: Path) -> bytes:
    return build_zip([Member("X.npy", header_for((1,), "<U1") + (0x110000).to_bytes(4, "little"))])


# whole files -----------------------------------------------------------------------------
@case("npz", "is a single .npy array")
def file_npy_named_npz(path: Path) -> bytes:
    return npy_bytes(_X)


@case("npz", "it is not a zip archive")
def file_text_named_npz(path: Path) -> bytes:
    return _TEXT


@case("npz", "looks like a Python pickle")
def file_pickle_named_npz(path: Path) -> bytes:
    return pickle.dumps({"X": _X})


@case("npz", "the file is empty")
def file_empty_npz(path: Path) -> bytes:
    return b""


@case("npz", "named pipe (FIFO)", needs="fifo")
def file_fifo_npz(path: Path) -> Path:
    os.mkfifo(path)
    return path


@case("npz", "named pipe (FIFO)", needs="fifo")
def file_symlink_to_fifo(path: Path) -> Path:
    fifo = path.with_name(path.name + ".fifo")
    os.mkfifo(fifo)
    path.symlink_to(fifo)
    return path


@case("npz", "is a folder")
def file_folder_npz(path: Path) -> Path:
    path.mkdir()
    return path


@case("npy", "is a device", needs="dev_zero")
def file_dev_zero(path: Path) -> Path:
    return Path("/dev/zero")


@case("npy", "named pipe (FIFO)", needs="fifo")
def file_fifo_npy(path: Path) -> Path:
    os.mkfifo(path)
    return path


@case("npy", "is a zip archive")
def file_npz_named_npy(path: Path) -> bytes:
    return build_zip(_npz(X=_X))


@case("npy", "is not an .npy array")
def file_text_named_npy(path: Path) -> bytes:
    return _TEXT


@case("npy", "looks like a Python pickle")
def file_pickle_named_npy(path: Path) -> bytes:
    return pickle.dumps(_X)


@case("npy", "holds Python objects")
def npy_object_array(path: Path) -> bytes:
    return npy_bytes(np.array([1, "x"], dtype=object))


@case("npy", "8.0 TiB")
def npy_header_declares_8tib(path: Path) -> bytes:
    return header_for((TIB,), "<f8") + bytes(64)


@case("npy_mmap", "8.0 TiB")
def npy_header_declares_8tib_mmap(path: Path) -> bytes:
    return header_for((TIB,), "<f8") + bytes(64)


@case("npy", "larger than the")
def npy_real_but_over_budget(path: Path) -> Path:
    """A sparse file: a valid header and 2 GiB of (unwritten) zeros."""
    with path.open("wb") as f:
        header = header_for((2 * GIB,))
        f.write(header)
        f.truncate(len(header) + 2 * GIB)
    return path


@case("npy", "is truncated inside its .npy header")
def npy_truncated_header(path: Path) -> bytes:
    return npy_bytes(_X)[:20]


@case("npy", "but 400 bytes follow it; the file is truncated")
def npy_truncated_data(path: Path) -> bytes:
    return npy_bytes(np.arange(100.0))[:-400]


@case("npy", "but 101 bytes follow it; the file is corrupt")
def npy_trailing_bytes(path: Path) -> bytes:
    return npy_bytes(_X) + b"extra"


@case("npy", "bool values other than 0 and 1")
def npy_bool_bytes(path: Path) -> bytes:
    return header_for((2,), "|b1") + b"\x01\x07"


@case("npy_mmap", "bool values other than 0 and 1")
def npy_bool_bytes_mmap(path: Path) -> bytes:
    return header_for((2,), "|b1") + b"\x01\x07"


# == other readers: model files, data files, spec files ======================================
# The archive cases above attack ``read_npz``/``read_npy`` directly. These attack the
# readers built on them and on the spec parser, with files that look like what those
# readers expect: a model file whose weights are a bomb, a data file whose ``X`` lies, a
# spec whose numbers are absurd. ``tests/test_hostile_campaign.py`` reads each one in a
# subprocess whose address space is capped, so a reader that allocated what a file
# claims would die of ``MemoryError`` instead of refusing it.
Base = Mapping[str, np.ndarray]


@frozen
class FileCase:
    """A hostile file for ``npframe.load``, ``npframe.data.load_data`` or ``npframe check``.

    ``write(path, base)`` returns the bytes to write at ``path`` (or writes something
    else there and returns the path); ``base`` holds the members of a valid model file
    for model cases. The read must raise one of ``errors`` (class names) whose message
    contains ``expect`` and not ``reject``.
    """

    name: str
    expect: str
    write: Callable[[Path, Base], bytes | Path]
    suffix: str
    errors: tuple[str, ...]
    reject: str = ""
    needs: str = ""

    def available(self) -> bool:
        return {"": True, "fifo": hasattr(os, "mkfifo"),
                "dev_zero": Path("/dev/zero").exists()}[self.needs]

    def make(self, folder: Path, base: Base) -> Path:
        path = folder / f"{self.name}{self.suffix}"
        made = self.write(path, base)
        if isinstance(made, Path):
            return made
        path.write_bytes(made)
        return path


MODEL_CASES: list[FileCase] = []
DATA_CASES: list[FileCase] = []
SPEC_CASES: list[FileCase] = []


def _file_case(into: list[FileCase], suffix: str, errors: tuple[str, ...]):
    def decorator(expect: str, *, reject: str = "", needs: str = "", suffix: str = suffix,
                  errors: tuple[str, ...] = errors):
        def register(write: Callable[..., bytes | Path]) -> Callable[..., bytes | Path]:
            into.append(FileCase(write.__name__, expect, write, suffix, errors, reject, needs))
            return write
        return register
    return decorator


model_case = _file_case(MODEL_CASES, ".npz", ("ModelFileError",))
data_case = _file_case(DATA_CASES, ".npz", ("DataError",))
spec_case = _file_case(SPEC_CASES, ".json", ("SpecError",))


def write_file_cases(cases: list[FileCase], folder: Path, base: Base | None = None,
                     ) -> list[tuple[FileCase, Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    return [(c, c.make(folder, base or {})) for c in cases if c.available()]


class Payload:
    """Unpickling this writes a marker file: proof that a reader ran code from a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


def pickled(marker: Path) -> np.ndarray:
    array = np.empty(1, dtype=object)
    array[0] = Payload(marker)
    return array


# -- model files ------------------------------------------------------------------------------
def model_zip(base: Base, changes: Mapping[str, Any] | None = None,
              extra: list[Member] | tuple[Member, ...] = (), drop: tuple[str, ...] = ()) -> bytes:
    """A model file: ``base``'s members with ``changes`` applied (a value, or ``None`` to
    drop) and ``drop`` left out, stored, plus ``extra`` members as given."""
    arrays = {k: v for k, v in base.items() if k not in drop}
    for key, value in (changes or {}).items():
        if value is None:
            arrays.pop(key, None)
        else:
            arrays[key] = np.asarray(value)
    members = [Member(f"{k}.npy", npy_bytes(v)) for k, v in arrays.items()]
    return build_zip(members + list(extra))


def spec_of(base: Base) -> dict[str, Any]:
    return json.loads(str(base["spec"][()]))


def with_spec(base: Base, **changes: Any) -> bytes:
    spec = spec_of(base)
    spec.update(changes)
    return model_zip(base, {"spec": np.array(json.dumps(spec))})


def _text_member(text: str) -> np.ndarray:
    return np.array(text)


def _bomb_member(name: str, size: int = GIB) -> Member:
    k = zero_kernel(size)
    return Member(f"{name}.npy", method=DEFLATED, payload=k.stream, size=k.size, crc=k.crc)


_WEIGHTS = ("weights/1/W", "weights/1/b", "weights/2/W", "weights/2/b")
_RNG = '{{"bit_generator": "PCG64", "state": {{"state": {}, "inc": {}}}, "has_uint32": 0, ' \
       '"uinteger": 0}}'


# zip bombs wearing a model's member names
@model_case("overlap")
def model_shared_block_bomb(path: Path, base: Base) -> bytes:  # 40 x 205 MB from ~200 KB
    names = [*base][:40]
    names += [f"optimizer/pad{i}" for i in range(40 - len(names))]
    return shared_block_bomb(40, zero_kernel(_KERNEL_205MB), names)


@model_case("overlap")
def model_quoted_overlap_bomb(path: Path, base: Base) -> bytes:
    return quoted_overlap_bomb(len(base), zero_kernel(50_000_000), list(base))


@model_case("more than the")
def model_four_gib_weights(path: Path, base: Base) -> bytes:  # ~4 MB file, 4 GiB declared
    return model_zip(base, drop=_WEIGHTS, extra=[_bomb_member(n) for n in _WEIGHTS])


@model_case("more than the")
def model_gib_optimizer_member(path: Path, base: Base) -> bytes:
    return model_zip(base, drop=("optimizer/m.0",), extra=[_bomb_member("optimizer/m.0")])


@model_case("uncompressed in all")
def model_many_members_over_the_budget(path: Path, base: Base) -> bytes:
    return model_zip(base, extra=[_bomb_member(f"optimizer/extra{i}", 30_000_000)
                                  for i in range(12)])


@model_case("8.0 TiB")
def model_8tib_weights_claim(path: Path, base: Base) -> bytes:
    return model_zip(base, drop=("weights/1/W",), extra=[Member(
        "weights/1/W.npy", npy_bytes(base["weights/1/W"]), method=DEFLATED, size=8 * TIB)])


@model_case("stored uncompressed, but")
def model_8tib_stored_claim(path: Path, base: Base) -> bytes:
    return model_zip(base, drop=("weights/1/W",), extra=[Member(
        "weights/1/W.npy", npy_bytes(base["weights/1/W"]), size=8 * TIB)])


@model_case("more than the")
def model_gib_spec_member(path: Path, base: Base) -> bytes:
    return model_zip(base, drop=("spec",), extra=[_bomb_member("spec")])


@model_case("decompresses to more than")
def model_spec_stream_longer_than_declared(path: Path, base: Base) -> bytes:
    stream = deflate_zeros(header_for((9,)), GIB // 258)
    return model_zip(base, drop=("spec",), extra=[Member(
        "spec.npy", method=DEFLATED, payload=stream, size=len(header_for((9,))) + 9, crc=0)])


@model_case("is truncated")
def model_weights_header_declares_8tib(path: Path, base: Base) -> bytes:
    return model_zip(base, drop=("weights/1/W",),
                     extra=[Member("weights/1/W.npy", header_for((TIB,), "<f8"))])


@model_case("more than any machine can address")
def model_weights_header_beyond_address_space(path: Path, base: Base) -> bytes:
    return model_zip(base, drop=("weights/1/W",), extra=[Member(
        "weights/1/W.npy", header_for((1 << 62, 1 << 62), "<f8"))])


@model_case("unexpected member")
def model_unexpected_bomb_member(path: Path, base: Base) -> bytes:
    return model_zip(base, extra=[_bomb_member("surprise")])


@model_case("more than the 10000 allowed")
def model_claims_60000_members(path: Path, base: Base) -> bytes:
    data = model_zip(base)
    count = len(base)
    return data[:-22] + data[-22:].replace(struct.pack("<2H", count, count),
                                           struct.pack("<2H", 60_000, 60_000), 1)


# the spec inside the file
@model_case("not valid JSON")
def model_spec_nested_100k_deep(path: Path, base: Base) -> bytes:
    return model_zip(base, {"spec": _text_member("[" * 100_000 + "]" * 100_000)})


@model_case("4300")
def model_spec_integer_of_5000_digits(path: Path, base: Base) -> bytes:
    text = str(base["spec"][()]).replace('"input": 3', '"input": ' + "9" * 5000)
    return model_zip(base, {"spec": _text_member(text)})


@model_case("repeats a key")
def model_spec_duplicate_key(path: Path, base: Base) -> bytes:
    text = str(base["spec"][()]).replace('"input": 3', '"input": 3, "input": 4')
    return model_zip(base, {"spec": _text_member(text)})


@model_case("must be a unicode string")
def model_spec_not_text(path: Path, base: Base) -> bytes:
    return model_zip(base, {"spec": np.arange(3)})


@model_case("parameters", errors=("SpecError",))
def model_spec_units_10_to_12(path: Path, base: Base) -> bytes:
    spec = spec_of(base)
    spec["layers"][0]["units"] = 10**12
    return model_zip(base, {"spec": np.array(json.dumps(spec))})


@model_case("parameters", errors=("SpecError",))
def model_spec_units_10_to_8(path: Path, base: Base) -> bytes:  # refused under the 1 GiB cap
    spec = spec_of(base)
    spec["layers"][0]["units"] = 10**8
    return model_zip(base, {"spec": np.array(json.dumps(spec))})


@model_case("does not hold the network its spec describes")
def model_spec_larger_than_its_weights(path: Path, base: Base) -> bytes:
    spec = spec_of(base)
    spec["layers"][0]["units"] = 1000  # fits anywhere, but the file holds 4 units' weights
    return model_zip(base, {"spec": np.array(json.dumps(spec))})


@model_case("member 'weights/1/W' is missing")
def model_spec_of_6_million_parameters_without_weights(path: Path, base: Base) -> bytes:
    spec = spec_of(base)  # 48 MB of weights: within the cap, but not in the file
    spec["layers"][0]["units"] = 10**6
    return model_zip(base, {"spec": np.array(json.dumps(spec))}, drop=_WEIGHTS)


@model_case("at most 10000")
def model_spec_20000_layers(path: Path, base: Base) -> bytes:
    spec = spec_of(base)
    spec["layers"] = [{"units": 2, "activation": "relu"}] * 20_000
    return model_zip(base, {"spec": np.array(json.dumps(spec))})


@model_case("must be a number, not a string", errors=("SpecError",))
def model_spec_learning_rate_string(path: Path, base: Base) -> bytes:
    return with_spec(base, optimizer={"name": "adam", "learning_rate": "inf"})


@model_case("pip install npframe-evil", errors=("UnknownComponentError",))
def model_needs_an_uninstalled_plugin(path: Path, base: Base) -> bytes:
    spec = spec_of(base)
    spec["layers"][0]["activation"] = "evil_swish"
    record = {"kind": "activation", "path": "layers[0].activation", "name": "evil_swish",
              "qualified": "npframe-evil:evil_swish", "distribution": "npframe-evil",
              "version": "6.6.6"}
    components = [r for r in json.loads(str(base["components"][()]))
                  if r["path"] != record["path"]] + [record]
    return model_zip(base, {"spec": np.array(json.dumps(spec)),
                            "components": np.array(json.dumps(components))})


@model_case("must be a list of component records")
def model_components_not_a_list(path: Path, base: Base) -> bytes:
    return model_zip(base, {"components": _text_member('{"kind": "activation"}')})


@model_case("not valid JSON")
def model_components_nested_100k_deep(path: Path, base: Base) -> bytes:
    return model_zip(base, {"components": _text_member("[" * 100_000 + "]" * 100_000)})


def _with_record(base: Base, **record: str) -> bytes:
    full = {"kind": "activation", "path": "layers[0].activation", "name": "relu",
            "qualified": "npframe:relu", "distribution": "npframe", "version": "0.1.0", **record}
    components = [*json.loads(str(base["components"][()])), full]
    return model_zip(base, {"components": np.array(json.dumps(components))})


@model_case("which this npframe")
def model_component_of_an_unknown_kind(path: Path, base: Base) -> bytes:  # was: RegistryError
    return _with_record(base, kind="transformer")


@model_case("where the stored spec has no component")
def model_component_at_a_path_that_leads_nowhere(path: Path, base: Base) -> bytes:  # IndexError
    return _with_record(base, path="layers[99].activation", qualified="npframe:linear")


@model_case("where the stored spec has no component")
def model_component_at_a_path_into_a_string(path: Path, base: Base) -> bytes:  # was: TypeError
    return _with_record(base, path="loss.name.x", qualified="npframe:linear")


@model_case("where the stored spec has no component")
def model_component_at_a_layer_table(path: Path, base: Base) -> bytes:  # renamed a layer key
    return _with_record(base, path="layers[0]", qualified="npframe:linear")


@model_case("another component")
def model_component_pinned_to_another(path: Path, base: Base) -> bytes:  # swapped relu
    return _with_record(base, qualified="npframe:linear")


# the state
@model_case("must be an integer in [0, 2**128)")
def model_rng_out_of_range(path: Path, base: Base) -> bytes:
    return model_zip(base, {"training/shuffle_rng": _text_member(_RNG.format(2**200, 3))})


@model_case("must be an integer in [0, 2**128)")
def model_rng_negative(path: Path, base: Base) -> bytes:
    return model_zip(base, {"training/noise_rng": _text_member(_RNG.format(-1, 3))})


@model_case("must be an integer in [0, 2**128)")
def model_rng_float_state(path: Path, base: Base) -> bytes:
    return model_zip(base, {"training/shuffle_rng": _text_member(_RNG.format(1.5, 3))})


@model_case("not valid JSON")
def model_rng_nested_100k_deep(path: Path, base: Base) -> bytes:
    return model_zip(base, {"training/shuffle_rng": _text_member("[" * 100_000)})


@model_case("must be the state of a PCG64 generator")
def model_rng_other_generator(path: Path, base: Base) -> bytes:
    return model_zip(base, {"training/shuffle_rng": _text_member(
        '{"bit_generator": "MT19937", "state": {"key": [1], "pos": 0}}')})


@model_case("must be in [0, 2**53]")
def model_epoch_2_to_63_minus_1(path: Path, base: Base) -> bytes:
    return model_zip(base, {"training/epoch": np.array(2**63 - 1)})


@model_case("must be in [0, 2**53]")
def model_step_negative(path: Path, base: Base) -> bytes:
    return model_zip(base, {"training/step": np.array(-5)})


@model_case("must be an integer scalar")
def model_epoch_float(path: Path, base: Base) -> bytes:
    return model_zip(base, {"training/epoch": np.array(3.0)})


@model_case("'training/loss_sum' must be a real scalar")
def model_loss_sum_not_a_scalar(path: Path, base: Base) -> bytes:  # was: TypeError
    return model_zip(base, {"training/loss_sum": np.zeros((3, 3))})


@model_case("training position is inconsistent")
def model_position_past_the_epoch(path: Path, base: Base) -> bytes:
    return model_zip(base, {"training/batch": np.array(7), "training/epoch_batches": np.array(3)})


@model_case("holds NaN or inf")
def model_optimizer_state_nan(path: Path, base: Base) -> bytes:
    return model_zip(base, {"optimizer/m.0": np.full((3, 4), np.nan)})


@model_case("holds NaN or inf")
def model_optimizer_state_inf(path: Path, base: Base) -> bytes:
    return model_zip(base, {"optimizer/v.3": np.array([np.inf, 1.0])})


@model_case("weights must be finite")
def model_weights_nan(path: Path, base: Base) -> bytes:
    return model_zip(base, {"weights/2/b": np.array([0.0, np.nan])})


@model_case("but the spec needs")
def model_weights_wrong_shape(path: Path, base: Base) -> bytes:
    return model_zip(base, {"weights/2/W": np.zeros((2, 4))})


@model_case("must be positive")
def model_scaler_zero_std(path: Path, base: Base) -> bytes:
    return model_zip(base, {"scaler/x_std": np.zeros(3)})


@model_case("optimizer 'adam' rejected the saved state")
def model_optimizer_state_of_another_shape(path: Path, base: Base) -> bytes:
    return model_zip(base, {"optimizer/m.0": np.zeros(7)})


# what the file is made of
@model_case("Upgrade npframe")
def model_newer_format_with_new_member_types(path: Path, base: Base) -> bytes:
    return build_zip([
        Member("format_version.npy", npy_bytes(np.array(3))),
        Member("npframe_version.npy", npy_bytes(np.array("9.0.0"))),
        Member("spec.json", b'{"layers": "new"}'),
        Member("weights/1/W.safetensors", bytes(64)),
        Member("weights/2/W.npy", header_for((4,), "<bf16") + bytes(8)),
        Member("optimizer/state.npy", npy_bytes(np.array([1, None], dtype=object))),
    ])


@model_case("Upgrade npframe")
def model_format_version_2_to_62(path: Path, base: Base) -> bytes:
    return model_zip(base, {"format_version": np.array(2**62)})


@model_case("must be an integer scalar")
def model_format_version_text(path: Path, base: Base) -> bytes:
    return model_zip(base, {"format_version": np.array("2")})


@model_case("is truncated", reject="Python objects")
def model_truncated_weights_member(path: Path, base: Base) -> bytes:
    return model_zip(base, drop=("weights/1/W",), extra=[Member(
        "weights/1/W.npy", npy_bytes(base["weights/1/W"])[:-20])])


@model_case("is not an .npy array", reject="Python objects")
def model_text_file_as_weights(path: Path, base: Base) -> bytes:
    return model_zip(base, drop=("weights/1/W",),
                     extra=[Member("weights/1/W.npy", b"W = [[1, 2], [3, 4]]\n" * 20)])


@model_case("holds Python objects")
def model_pickled_weights(path: Path, base: Base) -> bytes:
    return model_zip(base, {"weights/1/W": pickled(path.with_suffix(".pwned"))})


@model_case("holds Python objects")
def model_pickled_spec(path: Path, base: Base) -> bytes:
    return model_zip(base, {"spec": pickled(path.with_suffix(".pwned"))})


@model_case("fails its CRC check")
def model_weights_crc_error(path: Path, base: Base) -> bytes:
    m = Member("weights/1/W.npy", npy_bytes(base["weights/1/W"]))
    assert m.payload is not None
    m.payload = m.payload[:-1] + bytes([m.payload[-1] ^ 0x55])
    return model_zip(base, drop=("weights/1/W",), extra=[m])


@model_case("is encrypted")
def model_encrypted_weights(path: Path, base: Base) -> bytes:
    return model_zip(base, drop=("weights/1/W",), extra=[Member(
        "weights/1/W.npy", npy_bytes(base["weights/1/W"]), flags=0x1)])


@model_case("appears 2 times")
def model_duplicate_weights(path: Path, base: Base) -> bytes:
    return model_zip(base, extra=[Member("weights/1/W.npy", npy_bytes(base["weights/1/W"]))])


@model_case("unsafe name")
def model_member_name_traversal(path: Path, base: Base) -> bytes:
    return model_zip(base, extra=[Member("../../weights/1/W.npy", npy_bytes(base["weights/1/W"]))])


@model_case("member 'training/epoch' is missing")
def model_without_its_epoch(path: Path, base: Base) -> bytes:
    return model_zip(base, drop=("training/epoch",))


@model_case("is not a NumPy array (.npy)")
def model_with_a_foreign_member(path: Path, base: Base) -> bytes:
    return model_zip(base, extra=[Member("README.txt", b"trust me")])


# -- data files ---------------------------------------------------------------------------------
_ROWS = np.arange(12.0).reshape(4, 3)


@data_case("more than the")
def data_gib_x_and_y(path: Path, base: Base) -> bytes:
    return build_zip([_bomb_member("X"), _bomb_member("y")])


@data_case("overlap")
def data_shared_block_x_and_y(path: Path, base: Base) -> bytes:
    return shared_block_bomb(2, zero_kernel(_KERNEL_205MB), ["X", "y"])


@data_case("8.0 TiB")
def data_8tib_x_claim(path: Path, base: Base) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_ROWS), method=DEFLATED, size=8 * TIB)])


@data_case("is truncated")
def data_x_header_declares_terabytes(path: Path, base: Base) -> bytes:
    return build_zip([Member("X.npy", header_for((TIB, 3), "<f8"))])


@data_case("is truncated")
def data_y_header_declares_terabytes_deflated(path: Path, base: Base) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_ROWS)),
                      Member("y.npy", header_for((TIB,), "<f8"), method=DEFLATED)])


@data_case("but 16 bytes follow it", suffix=".npy")
def data_npy_header_declares_terabytes(path: Path, base: Base) -> bytes:
    return header_for((TIB, 4), "<f8") + bytes(16)


@data_case("larger than the", suffix=".npy")
def data_npy_sparse_8_gib(path: Path, base: Base) -> Path:
    with path.open("wb") as f:
        header = header_for((GIB, 8), "<f8")
        f.write(header)
        f.truncate(len(header) + 8 * GIB * 8)
    return path


@data_case("as float64 data", suffix=".npy")
def data_npy_int8_whose_float64_copy_is_too_large(path: Path, base: Base) -> Path:
    # 62 MiB of int8 on disk (sparse), read rather than mapped (under MMAP_BYTES):
    # 520 MB as float64. A larger file is mapped, never copied, so it would be fine.
    with path.open("wb") as f:
        header = header_for((6_500_000, 10), "|i1")
        f.write(header)
        f.truncate(len(header) + 65_000_000)
    return path


@data_case("fails its CRC check")
def data_npz_crc_error(path: Path, base: Base) -> bytes:
    m = Member("X.npy", npy_bytes(_ROWS))
    assert m.payload is not None
    m.payload = m.payload[:-3] + b"\xff\xff\xff"
    return build_zip([m])


@data_case("is a single .npy array")
def data_npy_named_npz(path: Path, base: Base) -> bytes:
    return npy_bytes(_ROWS)


@data_case("is a zip archive", suffix=".npy")
def data_npz_named_npy(path: Path, base: Base) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(_ROWS))])


@data_case("holds Python objects")
def data_pickled_x(path: Path, base: Base) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(pickled(path.with_suffix(".pwned"))))])


@data_case("is not a finite number")
def data_nan_in_x(path: Path, base: Base) -> bytes:
    return build_zip([Member("X.npy", npy_bytes(np.array([[1.0, np.nan]])))])


@data_case("not UTF-8 text", suffix=".csv")
def data_csv_not_utf8_deep_inside(path: Path, base: Base) -> bytes:
    body = ("a,b\n" + "".join(f"{i},{i}.5\n" for i in range(3000))).encode()
    return body[:30010] + b"\xff" + body[30011:]


@data_case("is not a finite number", suffix=".csv")
def data_csv_number_of_5000_digits(path: Path, base: Base) -> bytes:
    return b"a,b\n1," + b"9" * 5000 + b"\n"


@data_case("could not convert", suffix=".csv")
def data_csv_nul_byte(path: Path, base: Base) -> bytes:
    return b"a,b\n1,\x002\n"


@data_case("malformed CSV", suffix=".csv")
def data_csv_unclosed_quote(path: Path, base: Base) -> bytes:
    return b'a,b\n1,"2\n3,4\n'


@data_case("named pipe (FIFO)", suffix=".csv", needs="fifo")
def data_csv_fifo(path: Path, base: Base) -> Path:
    os.mkfifo(path)
    return path


# -- spec files (``npframe check``) ------------------------------------------------------------
_LAYERS = '[{"units": 4, "activation": "relu"}, {"units": 1, "activation": "linear"}]'


def _spec_json(**entries: str) -> bytes:
    """A JSON spec with raw JSON text for each entry (so it can hold what json.dumps cannot)."""
    fields = {"input": "2", "layers": _LAYERS, **entries}
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}").encode()


@spec_case("appears twice in one object")
def spec_duplicate_key(path: Path, base: Base) -> bytes:
    return b'{"input": 2, "input": 3, "layers": ' + _LAYERS.encode() + b"}"


@spec_case("appears twice in one object")
def spec_duplicate_key_in_a_layer(path: Path, base: Base) -> bytes:
    return _spec_json(layers='[{"units": 4, "units": 40000, "activation": "relu"}]')


@spec_case("invalid TOML", suffix=".toml")
def spec_toml_duplicate_key(path: Path, base: Base) -> bytes:
    return b"input = 2\ninput = 3\n"


@spec_case("nested too deeply")
def spec_json_arrays_100k_deep(path: Path, base: Base) -> bytes:
    return _spec_json(optimizer="[" * 100_000 + "]" * 100_000)


@spec_case("nested too deeply")
def spec_json_objects_100k_deep(path: Path, base: Base) -> bytes:
    return _spec_json(optimizer='{"a": ' * 100_000 + "1" + "}" * 100_000)


@spec_case("nested too deeply", suffix=".toml")
def spec_toml_arrays_100k_deep(path: Path, base: Base) -> bytes:
    return ("input = " + "[" * 100_000 + "]" * 100_000 + "\n").encode()


@spec_case("nested too deeply", suffix=".toml")
def spec_toml_inline_tables_100k_deep(path: Path, base: Base) -> bytes:
    return ("input = " + "{a = " * 100_000 + "1" + "}" * 100_000 + "\n").encode()


@spec_case("dotted key of more than 32 parts", suffix=".toml")
def spec_toml_dotted_key_of_100k_parts(path: Path, base: Base) -> bytes:  # was: MemoryError
    return ("input = 2\n" + "a." * 99_999 + "a = 1\n").encode()


@spec_case("dotted key of more than 32 parts", suffix=".toml")
def spec_toml_table_header_of_100k_parts(path: Path, base: Base) -> bytes:  # was: 21 s
    return ("input = 2\n[" + ".".join(["a"] * 100_000) + "]\n").encode()


@spec_case("dotted key of more than 32 parts", suffix=".toml")
def spec_toml_quoted_dotted_key_in_an_inline_table(path: Path, base: Base) -> bytes:
    return ('input = 2\noptimizer = {name = "sgd", ' + " . ".join(['"a"'] * 10_000)
            + " = 1}\n").encode()


@spec_case("nested more than 32 levels deep")
def spec_parameter_nested_500_deep(path: Path, base: Base) -> bytes:
    return _spec_json(optimizer='{"name": "sgd", "learning_rate": ' + "[" * 500 + "]" * 500 + "}")


@spec_case("4300 digits")
def spec_json_integer_of_5000_digits(path: Path, base: Base) -> bytes:
    return _spec_json(input="9" * 5000)


@spec_case("4300 digits", suffix=".toml")
def spec_toml_integer_of_5000_digits(path: Path, base: Base) -> bytes:
    return ("input = " + "9" * 5000 + "\n").encode()


@spec_case("must be a finite number")
def spec_json_1e999(path: Path, base: Base) -> bytes:
    return _spec_json(optimizer='{"name": "sgd", "learning_rate": 1e999}')


@spec_case("must be a finite number")
def spec_json_nan_literal(path: Path, base: Base) -> bytes:
    return _spec_json(optimizer='{"name": "sgd", "learning_rate": NaN}')


@spec_case("must be a finite number", suffix=".toml")
def spec_toml_inf(path: Path, base: Base) -> bytes:
    return (b'input = 2\n[[layers]]\nunits = 1\nactivation = "relu"\n'
            b'[optimizer]\nname = "sgd"\nlearning_rate = inf\n')


@spec_case("must be a number, not a string")
def spec_learning_rate_string_inf(path: Path, base: Base) -> bytes:
    return _spec_json(optimizer='{"name": "sgd", "learning_rate": "inf"}')


@spec_case("must be a number, not a string")
def spec_learning_rate_string_number(path: Path, base: Base) -> bytes:
    return _spec_json(optimizer='{"name": "sgd", "learning_rate": "1e-3"}')


@spec_case("must be a number, not a bool")
def spec_learning_rate_true(path: Path, base: Base) -> bytes:
    return _spec_json(optimizer='{"name": "sgd", "learning_rate": true}')


@spec_case("must be a number, not a string")
def spec_adam_beta_string(path: Path, base: Base) -> bytes:
    return _spec_json(optimizer='{"name": "adam", "beta1": "0.9"}')


@spec_case("parameters")
def spec_units_10_to_8(path: Path, base: Base) -> bytes:
    return _spec_json(layers='[{"units": 100000000, "activation": "relu"}, '
                             '{"units": 100000000, "activation": "linear"}]')


@spec_case("parameters")
def spec_units_10_to_12(path: Path, base: Base) -> bytes:
    return _spec_json(layers='[{"units": 1000000000000, "activation": "relu"}]')


@spec_case("parameters")
def spec_input_10_to_12(path: Path, base: Base) -> bytes:
    return _spec_json(input="1000000000000")


@spec_case("at most 10000")
def spec_100000_layers(path: Path, base: Base) -> bytes:
    return _spec_json(layers="[" + ", ".join(['{"units": 1, "activation": "relu"}'] * 100_000)
                      + "]")


@spec_case("too large for a spec file")
def spec_file_over_16_mib(path: Path, base: Base) -> Path:
    with path.open("wb") as f:  # sparse: a million layers would not fit in 16 MiB either
        f.write(b'{"input": 2, "layers": [')
        f.truncate(17 * 2**20)
    return path


@spec_case("not UTF-8 text (invalid start byte at byte 30010)")
def spec_not_utf8_deep_inside(path: Path, base: Base) -> bytes:
    head = b'{"input": 2, "note": "'
    return head + b"a" * (30010 - len(head)) + b'\xff"}'


@spec_case("invalid JSON")
def spec_empty_json(path: Path, base: Base) -> bytes:
    return b""


@spec_case("not UTF-8 text")
def spec_binary_garbage(path: Path, base: Base) -> bytes:
    return bytes(range(256)) * 4


@spec_case("a spec must be a table")
def spec_json_list(path: Path, base: Base) -> bytes:
    return b"[1, 2, 3]"


@spec_case("unsupported spec file type", suffix=".yaml")
def spec_yaml(path: Path, base: Base) -> bytes:
    return b"input: 2\n"


@spec_case("must be an int in [0, 2**63)")
def spec_seed_2_to_64(path: Path, base: Base) -> bytes:
    return _spec_json(seed=str(2**64))


@spec_case("unknown activation")
def spec_activation_lone_surrogate(path: Path, base: Base) -> bytes:
    return _spec_json(layers='[{"units": 1, "activation": "\\ud800"}]')


@spec_case("not a regular file", needs="fifo")
def spec_fifo(path: Path, base: Base) -> Path:
    os.mkfifo(path)
    return path


@spec_case("not a regular file", needs="dev_zero")
def spec_symlink_to_dev_zero(path: Path, base: Base) -> Path:
    path.symlink_to("/dev/zero")
    return path


@spec_case("is a folder", suffix=".toml")
def spec_folder(path: Path, base: Base) -> Path:
    path.mkdir()
    return path


@spec_case("no such file")
def spec_missing(path: Path, base: Base) -> Path:
    return path


# -- plugin distributions -----------------------------------------------------------------------
def write_dist(root: Path, dist: str, source: str, module: str, *, version: str = "0.1",
               entry_point: str = "plugin") -> Path:
    """An installed distribution ``dist`` in folder ``root``: ``module.py`` holding
    ``source``, and a ``*.dist-info`` declaring it as an ``npframe`` entry point."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[npframe]\n{entry_point} = {module}\n")
    return info
