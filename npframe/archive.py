"""Reading ``.npz`` archives and ``.npy`` arrays from untrusted files, in bounded memory.

Model files and data files come from anywhere, so a reader must assume a file was made
to hurt it. ``read_npz`` and ``read_npy`` guarantee, for any file:

- **Nothing is unpickled, nothing runs.** Only plain bool, integer, float, complex and
  unicode arrays are read; a dtype string is matched against that list before NumPy
  sees it (``npframe._npyheader``). Object arrays are refused by name.
- **Nothing blocks.** A named pipe, device or socket given as the path is refused at once
  (``npframe._files``); only regular files are read.
- **Memory is bounded by the caller's budget, decided before anything is decompressed.**
  The zip central directory is read and checked first (``npframe._zipdir``): member
  count, names, compression method, encryption, declared sizes against what the
  compressed data can physically produce, and overlapping members (one compressed
  block shared by many entries, the classic zip bomb). Then the declared sizes of the
  members to be read are held against ``max_member_bytes`` and ``max_total_bytes``.
  Members the caller does not want (``member_ok``) are never decompressed.
- **A header cannot lie its way into a large allocation.** Each member is decompressed
  as a stream; its ``.npy`` header is parsed and its shape times item size compared
  with the member's declared size *before* the array is allocated, and the stream is
  never asked for more than the declared size plus one byte (which proves the data
  ends there). For ``.npy`` files the declared shape must match the file's size.
- **Corruption is found.** The CRC of every member is verified; truncation is reported
  as truncation, text as text, pickles as pickles: each message says what is wrong.

Every problem with a file's content raises ``error(f"{path}: ...")`` (the caller's
exception class: ``DataError`` for data, ``ModelFileError`` for models). ``OSError``
from opening the file (missing, no permission) propagates unchanged.

A reader that must say "upgrade npframe" for a newer file format reads its version
member first, alone (``member_ok={"format_version"}.__contains__``), and the rest only
once it knows it understands them; ``list_npz`` gives the member names without
decompressing anything.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from attrs import frozen

from npframe._files import open_regular
from npframe._npyheader import HeaderError, NpyHeader, check_values, read_header
from npframe._zipdir import DEFLATED, Entry, MemberStream, ZipError, read_entries
from npframe.memory import format_bytes

__all__ = ["DEFAULT_MAX_MEMBERS", "HeaderCheck", "NpzMember", "list_npz", "read_npy", "read_npz"]

#: More members than any model or data file npframe writes or reads.
DEFAULT_MAX_MEMBERS = 10_000

ErrorType = Callable[[str], Exception]
#: ``check_header(name, shape, dtype)``: called before each array is allocated; raise to refuse.
HeaderCheck = Callable[[str, tuple[int, ...], np.dtype], None]

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or an empty archive


@frozen
class NpzMember:
    """One array of an ``.npz`` as its directory declares it (nothing decompressed)."""

    name: str  #: the key, as ``np.savez`` was given it (the member name without ``.npy``)
    size: int  #: declared uncompressed size in bytes, ``.npy`` header included
    compressed_size: int
    compressed: bool  #: deflated (``np.savez_compressed``) rather than stored
    #: ``False`` for a member that is not a ``.npy`` array (listed only with ``foreign_ok``;
    #: its ``name`` is then the whole member name).
    array: bool = True


def list_npz(path: str | os.PathLike[str], *, error: ErrorType,
             max_members: int = DEFAULT_MAX_MEMBERS,
             foreign_ok: bool = False) -> tuple[NpzMember, ...]:
    """The members of the ``.npz`` at ``path``, after every directory check; reads no data.

    With ``foreign_ok`` a member that is not a ``.npy`` array is listed (``array=False``)
    instead of refused, so a reader can check a format version before judging the rest.
    """
    path = Path(path)
    with open_regular(path, error) as f:
        return tuple(NpzMember(name=key.removeprefix(_FOREIGN), size=e.size,
                               compressed_size=e.compressed_size,
                               compressed=e.method == DEFLATED,
                               array=not key.startswith(_FOREIGN))
                     for key, e in _directory(f, path, error, max_members, foreign_ok))


def read_npz(
    path: str | os.PathLike[str],
    *,
    error: ErrorType,
    max_total_bytes: int,
    max_member_bytes: int | None = None,
    max_members: int = DEFAULT_MAX_MEMBERS,
    member_ok: Callable[[str], bool] | None = None,
    check_header: HeaderCheck | None = None,
    foreign_ok: bool = False,
) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` at ``path`` that ``member_ok`` accepts (all by default).

    ``max_total_bytes`` bounds the declared uncompressed sizes of the members read, in
    sum, and ``max_member_bytes`` (default: the total) each one; both are checked before
    anything is decompressed, and no array is larger than its declared size. Members
    ``member_ok`` rejects are absent from the result and never decompressed (their
    directory entries are still checked: a malformed archive is refused as a whole).
    Arrays keep the dtype and byte order of the file. With ``foreign_ok`` members that
    are not ``.npy`` arrays are skipped instead of refused.
    """
    path = Path(path)
    per_member = max_total_bytes if max_member_bytes is None else max_member_bytes
    with open_regular(path, error) as f:
        chosen = [(key, entry)
                  for key, entry in _directory(f, path, error, max_members, foreign_ok)
                  if not key.startswith(_FOREIGN) and (member_ok is None or member_ok(key))]
        for key, entry in chosen:
            if entry.size > per_member:
                msg = (f"{path}: member {key!r} declares {format_bytes(entry.size)} "
                       f"uncompressed, more than the {format_bytes(per_member)} a member may "
                       "take here; refusing to decompress it")
                raise error(msg)
        total = sum(entry.size for _, entry in chosen)
        if total > max_total_bytes:
            msg = (f"{path}: its members declare {format_bytes(total)} uncompressed in all, "
                   f"more than the {format_bytes(max_total_bytes)} this file may take; "
                   "refusing to decompress them")
            raise error(msg)
        return {key: _read_member(f, entry, key, path, error, check_header)
                for key, entry in chosen}


def read_npy(
    path: str | os.PathLike[str],
    *,
    error: ErrorType,
    max_bytes: int | None,
    mmap: bool = False,
    check_header: HeaderCheck | None = None,
) -> np.ndarray:
    """The array in the ``.npy`` file at ``path``.

    The header's shape and dtype must account for exactly the bytes after it, and the
    array must fit in ``max_bytes`` (None: no limit), both checked before allocating.
    With ``mmap=True`` the result is a read-only ``np.memmap`` of the file (for data
    larger than memory); bool and unicode contents are still validated, in chunks.
    """
    path = Path(path)
    with open_regular(path, error) as f:
        file_size = os.fstat(f.fileno()).st_size
        try:
            header = read_header(f.read)
        except HeaderError as exc:
            raise error(f"{path}: the file {exc}") from None
        after = file_size - header.size
        if header.nbytes != after:
            fault = ("the file is truncated or its header lies" if header.nbytes > after
                     else "the file is corrupt")
            msg = (f"{path}: the header declares {header.describe()}, but "
                   f"{format_bytes(after)} follow it; {fault}")
            raise error(msg)
        if max_bytes is not None and header.nbytes > max_bytes:
            msg = (f"{path}: the array ({header.describe()}) is larger than the "
                   f"{format_bytes(max_bytes)} memory budget for this read")
            raise error(msg)
        if check_header is not None:
            check_header(path.name, header.shape, header.dtype)
        array: np.ndarray
        if mmap and header.shape and header.nbytes:
            try:
                array = np.memmap(f, dtype=header.dtype, mode="r", offset=header.size,
                                  shape=header.shape,
                                  order="F" if header.fortran_order else "C")
            except OSError as exc:  # ENOMEM: more than the address space allowed
                msg = (f"{path}: the array ({header.describe()}) is larger than the address "
                       f"space this process may map ({exc.strerror or exc})")
                raise error(msg) from None
            flat = array.reshape(-1, order="A").view(np.uint8)
        else:
            flat = np.empty(header.nbytes, np.uint8)
            if _read_fully(f, flat.data) != header.nbytes:
                raise error(f"{path}: the file is truncated (did it change while read?)")
            array = header.array(flat)
        problem = check_values(flat, header.dtype)
        if problem:
            raise error(f"{path}: the file {problem}")
        return array


# -- helpers -------------------------------------------------------------------------------
#: Prefix of the keys of members that are not ``.npy`` arrays (listed with foreign_ok).
_FOREIGN = "\0foreign:"


def _directory(f: io.BufferedReader, path: Path, error: ErrorType, max_members: int,
               foreign_ok: bool = False) -> list[tuple[str, Entry]]:
    """(key, entry) for every member, after the zip structure and the names are checked."""
    head = f.read(16)
    if head[:4] not in _ZIP_MAGIC:
        raise error(f"{path}: not a valid .npz file: {_not_zip(head)}")
    try:
        entries = read_entries(f, os.fstat(f.fileno()).st_size, max_members=max_members)
        keys = [_FOREIGN + entry.name if foreign_ok and not entry.name.endswith(".npy")
                else _key(entry.name) for entry in entries]
    except ZipError as exc:
        raise error(f"{path}: not a valid .npz file: {exc}") from None
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            msg = (f"{path}: not a valid .npz file: member {key!r} appears "
                   f"{keys.count(key)} times, so which one is meant is ambiguous")
            raise error(msg)
        seen.add(key)
    return list(zip(keys, entries, strict=True))


def _not_zip(head: bytes) -> str:
    if not head:
        return "the file is empty"
    if head.startswith(b"\x93NUMPY"):
        return "it is a single .npy array (np.save), not an .npz archive (np.savez)"
    if head[:1] == b"\x80":
        return ("it looks like a Python pickle, which npframe never loads (unpickling can "
                "run arbitrary code)")
    return f"it is not a zip archive (an .npz is one); it starts with {head!r}"


def _key(name: str) -> str:
    """The array name of member ``name``; refuses names that are not plain ``.npy`` paths."""
    if not name.endswith(".npy"):
        msg = f"member {name!r} is not a NumPy array (.npy); an .npz holds nothing else"
        raise ZipError(msg)
    key = name[: -len(".npy")]
    if (any(part in ("", ".", "..") for part in key.split("/")) or "\\" in key
            or any(ord(c) < 0x20 or ord(c) == 0x7F for c in key)):
        msg = (f"member {name!r} has an unsafe name (empty, absolute, '.' or '..' parts, "
               "backslashes or control characters)")
        raise ZipError(msg)
    return key


def _read_member(f: io.BufferedReader, entry: Entry, key: str, path: Path, error: ErrorType,
                 check_header: HeaderCheck | None) -> np.ndarray:
    stream = MemberStream(f, entry)
    where = f"{path}: member {key!r}"
    try:
        header = read_header(stream.read)
        _check_size(header, entry)
        if check_header is not None:
            check_header(key, header.shape, header.dtype)
        flat = np.empty(header.nbytes, np.uint8)
        got = stream.readinto(flat.data)
        if got != header.nbytes:
            msg = (f"is truncated: its data ends after {format_bytes(got)} of the "
                   f"{format_bytes(header.nbytes)} its header declares")
            raise HeaderError(msg)
        stream.finish()
    except (HeaderError, ZipError) as exc:
        raise error(f"{where} {exc}") from None
    problem = check_values(flat, header.dtype)
    if problem:
        raise error(f"{where} {problem}")
    return header.array(flat)


def _check_size(header: NpyHeader, entry: Entry) -> None:
    after = entry.size - header.size
    if header.nbytes > after:
        msg = (f"is truncated: its header declares {header.describe()}, but the member "
               f"holds {format_bytes(after)} after the header")
        raise HeaderError(msg)
    if header.nbytes < after:
        msg = (f"holds {format_bytes(after)} after its header, which declares "
               f"{header.describe()}; the file is corrupt")
        raise HeaderError(msg)


def _read_fully(f: io.BufferedReader, view: memoryview) -> int:
    filled = 0
    while filled < len(view):
        got = f.readinto(view[filled:])
        if not got:
            break
        filled += got
    return filled
