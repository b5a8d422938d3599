"""A zip archive's central directory, checked before any member is decompressed.

``read_entries`` parses the end record and every directory entry itself (not with
``zipfile``, whose checks vary between Python versions), then reads each member's local
header. It refuses, with a message naming the member:

- more members than the caller allows, counted from the end record before the directory
  is read, so a directory of a million entries costs nothing;
- split (multi-disk) archives, encryption, compression other than stored or deflated;
- a declared uncompressed size that the compressed size cannot produce: a stored member
  is exactly as large as its data, and deflate expands at most 1032:1 (a 258-byte match
  costs at least 2 bits), so a directory claiming 8 TiB from 1 KiB is a lie;
- a directory entry whose local header names another file or another compression
  method, or whose data runs past the start of the central directory;
- members whose local header and data overlap another member's: the classic zip bomb,
  where many entries share one highly compressed block.

``MemberStream`` then yields one member's uncompressed bytes in order, reading only that
member's compressed bytes, producing no more than the caller asks for, and checking the
CRC and that the data ends exactly where the directory said.
"""

from __future__ import annotations

import io
import itertools
import struct
import zlib

from attrs import frozen

from npframe.memory import format_bytes

__all__ = ["DEFLATED", "STORED", "Entry", "MemberStream", "ZipError", "read_entries"]

STORED, DEFLATED = 0, 8
#: Deflate's ceiling: a 258-byte match costs at least 2 bits (1-bit length and distance
#: codes), so n compressed bytes never inflate to more than about 1032 * n.
MAX_DEFLATE_RATIO = 1032
_RATIO_SLACK = 258  # one more match's worth, for rounding in tiny streams
_CHUNK = 1 << 20  # compressed bytes read, and uncompressed bytes produced, at a time

_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record, 22 bytes
_LOCATOR = struct.Struct("<4sLQL")  # zip64 end of central directory locator, 20 bytes
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # zip64 end of central directory record, 56 bytes
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")  # central directory file header, 46 bytes
_LOCAL = struct.Struct("<4s2B4HL2L2H")  # local file header, 30 bytes
_MAX_COMMENT = 0xFFFF
_ENCRYPTED = 0x1 | 0x40 | 0x2000  # traditional, strong, encrypted central directory
_UTF8 = 0x800
_METHODS = {1: "shrink", 6: "implode", 9: "deflate64", 12: "bzip2", 14: "lzma",
            93: "zstandard", 95: "xz", 98: "ppmd", 99: "AES encryption"}


class ZipError(Exception):
    """A structural problem; the message says what, without the file's path."""


@frozen
class Entry:
    """One member as the directory declares it, after its local header was checked."""

    name: str
    raw_name: bytes
    method: int
    crc: int
    compressed_size: int
    size: int  # declared uncompressed size
    header_offset: int
    data_offset: int = -1  # where its compressed bytes start; known after the local header

    @property
    def data_end(self) -> int:
        return self.data_offset + self.compressed_size


def read_entries(f: io.BufferedReader, file_size: int, *, max_members: int) -> list[Entry]:
    """Every member of the zip archive ``f`` (``file_size`` bytes), in directory order."""
    count, cd_offset, cd_size = _end_record(f, file_size)
    if count > max_members:
        msg = f"it holds {count} members, more than the {max_members} allowed"
        raise ZipError(msg)
    if cd_size < count * _CENTRAL.size:
        msg = (f"its central directory ({cd_size} bytes) is too short for the {count} "
               "members its end record declares")
        raise ZipError(msg)
    f.seek(cd_offset)
    directory = _read_exactly(f, cd_size)
    entries = _central_entries(directory, count)
    return _check_layout([_local(f, e, cd_offset) for e in entries])


def _end_record(f: io.BufferedReader, file_size: int) -> tuple[int, int, int]:
    """(member count, directory offset, directory size) from the (zip64) end record."""
    tail_size = min(file_size, _EOCD.size + _MAX_COMMENT)
    f.seek(file_size - tail_size)
    tail = f.read(tail_size)
    pos = len(tail)
    while True:  # the last signature whose comment runs exactly to the end of the file
        pos = tail.rfind(b"PK\x05\x06", 0, pos + 3)
        if pos < 0:
            msg = ("no end-of-central-directory record: the file is truncated, or not a zip "
                   "archive")
            raise ZipError(msg)
        if pos + _EOCD.size <= len(tail):
            record = _EOCD.unpack_from(tail, pos)
            if pos + _EOCD.size + record[7] == len(tail):
                break
        pos -= 1
    _, disk, cd_disk, disk_count, count, cd_size, cd_offset, _ = record
    end_pos = file_size - tail_size + pos
    if disk or cd_disk or disk_count != count:
        raise ZipError("it is split over several disks; an .npz is a single file")
    cd_end = end_pos
    locator = pos - _LOCATOR.size
    if locator >= 0 and tail[locator:locator + 4] == b"PK\x06\x07":
        _, disk, offset64, disks = _LOCATOR.unpack_from(tail, locator)
        end64 = end_pos - _LOCATOR.size
        if disk or disks > 1:
            raise ZipError("it is split over several disks; an .npz is a single file")
        if offset64 + _EOCD64.size > end64:
            raise ZipError("its zip64 end record is not where its locator says")
        f.seek(offset64)
        (sig, record_size, _, _, disk, cd_disk, disk_count, count, cd_size,
         cd_offset) = _EOCD64.unpack(_read_exactly(f, _EOCD64.size))
        if sig != b"PK\x06\x06" or offset64 + 12 + record_size != end64:
            raise ZipError("its zip64 end record is damaged")
        if disk or cd_disk or disk_count != count:
            raise ZipError("it is split over several disks; an .npz is a single file")
        cd_end = offset64
    elif count == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        raise ZipError("its end record refers to a zip64 record that is missing")
    if cd_offset + cd_size != cd_end:
        msg = (f"its central directory ({cd_size} bytes at offset {cd_offset}) does not end "
               f"where the end record begins (offset {cd_end}); the file is corrupt, or has "
               "data inserted or prepended")
        raise ZipError(msg)
    return count, cd_offset, cd_size


def _central_entries(directory: bytes, count: int) -> list[Entry]:
    entries, pos = [], 0
    for i in range(count):
        if pos + _CENTRAL.size > len(directory):
            raise ZipError(f"its central directory ends inside entry {i + 1} of {count}")
        (sig, _, _, _, _, flags, method, _, _, crc, compressed, size, name_len, extra_len,
         comment_len, disk, _, _, offset) = _CENTRAL.unpack_from(directory, pos)
        if sig != b"PK\x01\x02":
            raise ZipError(f"entry {i + 1} of its central directory is damaged")
        start = pos + _CENTRAL.size
        pos = start + name_len + extra_len + comment_len
        if pos > len(directory):
            raise ZipError(f"its central directory ends inside entry {i + 1} of {count}")
        raw = directory[start:start + name_len]
        extra = directory[start + name_len:start + name_len + extra_len]
        try:
            name = raw.decode("utf-8" if flags & _UTF8 else "cp437")
        except UnicodeDecodeError:
            raise ZipError(f"member name {raw!r} is flagged UTF-8 but is not") from None
        if 0xFFFFFFFF in (size, compressed, offset) or disk == 0xFFFF:
            size, compressed, offset, disk = _zip64(name, extra, size, compressed, offset, disk)
        if disk:
            raise ZipError(f"member {name!r} is on another disk of a split archive")
        if flags & _ENCRYPTED:
            raise ZipError(f"member {name!r} is encrypted; .npz files never are")
        _check_method(name, method)
        _check_ratio(name, method, compressed, size)
        entries.append(Entry(name=name, raw_name=raw, method=method, crc=crc,
                             compressed_size=compressed, size=size, header_offset=offset))
    if pos != len(directory):
        msg = f"its central directory holds {len(directory) - pos} bytes after its last entry"
        raise ZipError(msg)
    return entries


def _zip64(name: str, extra: bytes, size: int, compressed: int, offset: int,
           disk: int) -> tuple[int, int, int, int]:
    """The real values of the fields set to their maximum, from the zip64 extra field."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4:pos + 4 + length]
        pos += 4 + length
        if tag != 0x0001:
            continue
        values, at = [], 0
        for value, width, flag in ((size, 8, 0xFFFFFFFF), (compressed, 8, 0xFFFFFFFF),
                                   (offset, 8, 0xFFFFFFFF), (disk, 4, 0xFFFF)):
            if value == flag:
                if at + width > len(body):
                    raise ZipError(f"member {name!r} has a truncated zip64 extra field")
                value = int.from_bytes(body[at:at + width], "little")
                at += width
            values.append(value)
        return values[0], values[1], values[2], values[3]
    raise ZipError(f"member {name!r} declares zip64 sizes but has no zip64 extra field")


def _check_method(name: str, method: int) -> None:
    if method not in (STORED, DEFLATED):
        kind = f" ({_METHODS[method]})" if method in _METHODS else ""
        msg = (f"member {name!r} uses zip compression method {method}{kind}; only stored (0) "
               "and deflated (8) members are read, as np.savez and np.savez_compressed write")
        raise ZipError(msg)


def _check_ratio(name: str, method: int, compressed: int, size: int) -> None:
    """Refuse a declared size the compressed data cannot possibly produce."""
    if method == STORED and size != compressed:
        msg = (f"member {name!r} is stored uncompressed, but its directory entry claims "
               f"{format_bytes(size)} from {format_bytes(compressed)} of data; the file is "
               "corrupt or crafted")
        raise ZipError(msg)
    if method == DEFLATED and size > MAX_DEFLATE_RATIO * compressed + _RATIO_SLACK:
        msg = (f"member {name!r} claims {format_bytes(size)} uncompressed from "
               f"{format_bytes(compressed)} of deflated data; deflate expands at most "
               f"~{MAX_DEFLATE_RATIO}:1, so the directory lies (the file is corrupt or crafted)")
        raise ZipError(msg)


def _local(f: io.BufferedReader, entry: Entry, cd_offset: int) -> Entry:
    """``entry`` with its data offset, after checking its local header agrees with it."""
    name, offset = entry.name, entry.header_offset
    if offset + _LOCAL.size > cd_offset:
        msg = (f"member {name!r} starts at offset {offset}, inside or after the central "
               f"directory (offset {cd_offset}); the file is corrupt or crafted")
        raise ZipError(msg)
    f.seek(offset)
    head = _read_exactly(f, _LOCAL.size)
    sig, _, _, flags, method, _, _, _, _, _, name_len, extra_len = _LOCAL.unpack(head)
    if sig != b"PK\x03\x04":
        msg = (f"member {name!r}: no local header at offset {offset}, where the directory "
               "points; the file is corrupt")
        raise ZipError(msg)
    local_name = f.read(name_len)
    if local_name != entry.raw_name:
        msg = (f"member {name!r}: its local header names it {local_name!r}; the directory "
               "and the data disagree (the file is corrupt or crafted)")
        raise ZipError(msg)
    if method != entry.method or flags & _ENCRYPTED:
        msg = (f"member {name!r}: its local header disagrees with the directory about "
               "compression or encryption (the file is corrupt or crafted)")
        raise ZipError(msg)
    located = Entry(name=name, raw_name=entry.raw_name, method=method, crc=entry.crc,
                    compressed_size=entry.compressed_size, size=entry.size,
                    header_offset=offset, data_offset=offset + _LOCAL.size + name_len + extra_len)
    if located.data_end > cd_offset:
        msg = (f"member {name!r}: its {format_bytes(entry.compressed_size)} of data from "
               f"offset {located.data_offset} run past the start of the central directory "
               f"(offset {cd_offset}); the file is truncated, corrupt or crafted")
        raise ZipError(msg)
    return located


def _read_exactly(f: io.BufferedReader, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ZipError("the file ended early (did it change while read?)")
    return data


def _check_layout(entries: list[Entry]) -> list[Entry]:
    """Refuse members whose bytes overlap: distinct members never share data."""
    ordered = sorted(entries, key=lambda e: (e.header_offset, e.data_end))
    for a, b in itertools.pairwise(ordered):
        if b.header_offset < a.data_end:
            msg = (f"members {a.name!r} and {b.name!r} overlap ({b.name!r} starts at offset "
                   f"{b.header_offset}, inside {a.name!r}, offsets {a.header_offset}-"
                   f"{a.data_end}); members sharing data are the mark of a zip bomb")
            raise ZipError(msg)
    return entries


class MemberStream:
    """One member's uncompressed bytes, in order, never more than asked for.

    Only the member's own compressed bytes are read. ``readinto`` fills a buffer as far
    as the data goes; ``finish`` then proves the data ends there (asking for a single
    byte more) and that the CRC matches.
    """

    def __init__(self, f: io.BufferedReader, entry: Entry) -> None:
        self._f = f
        self._entry = entry
        self._left = entry.compressed_size  # compressed bytes not read yet
        self._inflater = zlib.decompressobj(-15) if entry.method == DEFLATED else None
        self._crc = 0
        self.produced = 0
        f.seek(entry.data_offset)

    def readinto(self, view: memoryview) -> int:
        """Fill ``view``; fewer bytes than its length only when the data ends."""
        filled = 0
        while filled < len(view):
            got = self._read_some(view[filled:])
            if not got:
                break
            filled += got
        return filled

    def read(self, n: int) -> bytes:
        buffer = bytearray(n)
        return bytes(buffer[:self.readinto(memoryview(buffer))])

    def finish(self) -> None:
        """Check that nothing follows what was read, and the CRC."""
        if self._read_some(memoryview(bytearray(1))):
            msg = (f"decompresses to more than the {format_bytes(self._entry.size)} its "
                   "directory entry declares; the file is corrupt or crafted")
            raise ZipError(msg)
        if self._crc != self._entry.crc:
            msg = (f"fails its CRC check (stored {self._entry.crc:08x}, computed "
                   f"{self._crc:08x}): the data is corrupt")
            raise ZipError(msg)

    def _read_some(self, view: memoryview) -> int:
        if self._inflater is None:
            want = min(len(view), self._left, _CHUNK)
            if want == 0:
                return 0
            got = self._f.readinto(view[:want])
            if not got:
                raise ZipError("is truncated: the file ended inside it (did it change while read?)")
            self._left -= got
        else:
            data = self._inflate(min(len(view), _CHUNK))
            got = len(data)
            view[:got] = data
        self._crc = zlib.crc32(view[:got], self._crc)
        self.produced += got
        return got

    def _inflate(self, limit: int) -> bytes:
        inflater = self._inflater
        assert inflater is not None
        while not inflater.eof:
            data = inflater.unconsumed_tail
            if not data:
                if self._left == 0:
                    msg = (f"is truncated: its compressed data ends after {self.produced} of "
                           f"the {self._entry.size} bytes declared, before the deflate "
                           "stream does")
                    raise ZipError(msg)
                data = self._f.read(min(self._left, _CHUNK))
                if not data:
                    raise ZipError("is truncated: the file ended inside it")
                self._left -= len(data)
            try:
                out = inflater.decompress(data, limit)
            except zlib.error as exc:
                raise ZipError(f"is corrupt: its deflated data is invalid ({exc})") from None
            if out:
                return out
        return b""
