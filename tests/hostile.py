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
import os
import pickle
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

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


def shared_block_bomb(n: int, kernel: Kernel) -> bytes:
    """``n`` members whose data all start at the same byte: one kernel, ``n`` arrays.

    Local header i sits inside the extra field of header i - 1, and every extra field
    ends where the kernel begins, so each member is a valid, CRC-correct ``.npy``.
    """
    names = [f"m{i:03d}.npy".encode() for i in range(n)]
    step = 30 + len(names[0])
    data_at = n * step
    out = bytearray()
    for i, name in enumerate(names):
        out += struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, 0, DEFLATED, 0, 0x21,
                           kernel.crc, len(kernel.stream), kernel.size, len(name),
                           data_at - i * step - step) + name
    out += kernel.stream
    cd_offset = len(out)
    for i, name in enumerate(names):
        out += struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, DEFLATED, 0,
                           0x21, kernel.crc, len(kernel.stream), kernel.size, len(name), 0, 0,
                           0, 0, 0, i * step) + name
    return bytes(out + end_record(n, len(out) - cd_offset, cd_offset))


def quoted_overlap_bomb(n: int, kernel: Kernel) -> bytes:
    """David Fifield's construction: member i's data is a stored deflate block quoting
    local header i + 1, then runs on through every later member into the shared kernel."""
    names = [f"q{i:03d}.npy".encode() for i in range(n)]
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
