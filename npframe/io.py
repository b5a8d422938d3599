"""Model files: one ``.npz`` holding a spec and a state dict, read within bounds.

The file layer knows nothing of ``Network``: ``write_model`` writes a header (the
spec and the components' providers, as JSON) and a state dict of plain arrays, and
``open_model`` hands them back. Members (all plain arrays; strings are ``<U`` unicode,
never object arrays)::

    format_version      int64 scalar, FORMAT_VERSION
    npframe_version     the npframe version that wrote the file
    spec                the normalized spec (``Network.to_spec()``) as JSON text
    components          every component's qualified name, distribution and version (JSON)
    weights/<i>/<name>  layer i's parameters (dense: W, b; norms: gamma, beta), 1-based
    layers/<i>/<key>    layer i's non-trainable state (batch norm's running statistics)
    optimizer/<key>     the optimizer's ``state_dict()``
    training/...        epoch, step, position in the epoch, random streams (JSON text)
    scaler/...          standardization statistics;  classes;  names/features, names/targets

Format 1 files (dense networks only) are read too. Writing is atomic (a temporary
file beside the target, fsynced, renamed over it), keeps the target's permissions,
refuses to replace anything but a regular file, and cleans up temporary files that a
killed save left behind. Reading never unpickles and is bounded: the zip directory is
checked before any member is decompressed (names, count, declared sizes, overlapping
members), members are decompressed only when expected, within a byte budget derived
from the network the spec describes, and never beyond their declared size.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from npframe._files import open_regular
from npframe._version import __version__
from npframe.archive import list_npz, read_npz
from npframe.errors import ModelFileError

__all__ = ["FORMAT_VERSION", "SUFFIX", "ModelFile", "check_writable", "open_model",
           "write_model"]

#: The model-file layout this npframe writes; it reads this version and older ones.
FORMAT_VERSION = 2
#: Model files must carry this suffix (``np.savez`` would silently append it otherwise).
SUFFIX = ".npz"

_HEADER_MEMBERS = ("format_version", "npframe_version", "spec", "components")
_NUMERIC_KINDS = "biuf"
_TEXT_LIMIT = 16 * 2**20  # the spec and component list, as JSON
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_TMP_PREFIX = "."
_TMP_SUFFIX = ".tmp"


def _as_path(path: Any, what: str) -> Path:
    if isinstance(path, str | os.PathLike):
        fspath = os.fspath(path)
        if isinstance(fspath, str) and fspath:
            return Path(fspath)
    msg = f"{what}: path must be a non-empty str or os.PathLike (got {type(path).__name__})"
    raise TypeError(msg)


# -- writing ---------------------------------------------------------------------------------
def _check_target(path: Path) -> None:
    """The target must end in .npz, sit in an existing folder, and be a regular file if
    it exists (a symlink, FIFO or device is never replaced)."""
    if path.suffix.lower() != SUFFIX:
        msg = (f"{path}: model files must end in {SUFFIX} (got {path.suffix or 'no suffix'}); "
               f"use e.g. {path.name + SUFFIX!r}")
        raise ValueError(msg)
    folder = path.parent
    if not folder.is_dir():
        if folder.exists():
            raise NotADirectoryError(errno.ENOTDIR, f"cannot save model: '{folder}' is not a "
                                     "folder", str(path))
        raise FileNotFoundError(errno.ENOENT, f"cannot save model: folder '{folder}' does not "
                                "exist (create it first)", str(path))
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "cannot save model over a folder", str(path))
    if not stat.S_ISREG(info.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
        raise ModelFileError(f"{path}: {kind}; refusing to replace it with a model file "
                             "(save to the file it points to, or remove it first)")


def _members(header: Mapping[str, Any], state: Mapping[str, Any], path: Path,
             ) -> dict[str, np.ndarray]:
    """Every member, checked: a file ``write_model`` writes is a file ``open_model`` reads."""
    arrays: dict[str, np.ndarray] = {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "npframe_version": np.array(__version__),
        "spec": np.array(json.dumps(header["spec"], allow_nan=False)),
        "components": np.array(json.dumps(list(header.get("components", ())),
                                          allow_nan=False)),
    }
    for name, value in state.items():
        if not isinstance(name, str) or not name or name in arrays or ".." in name \
                or name.startswith("/"):
            raise ModelFileError(f"{path}: refusing to save: bad member name {name!r}")
        array = np.asarray(value)
        if array.dtype.kind not in _NUMERIC_KINDS + "U" or array.dtype.fields is not None:
            raise ModelFileError(f"{path}: refusing to save: {name} has dtype {array.dtype}, "
                                 "not plain data")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ModelFileError(f"{path}: refusing to save: {name} holds NaN or inf, so the "
                                 "model could not be used or resumed")
        arrays[name] = array
    return arrays


def write_model(path: str | os.PathLike[str], header: Mapping[str, Any],
                state: Mapping[str, Any]) -> None:
    """Write ``header`` (``spec`` and ``components``) and ``state`` to ``path`` atomically.

    Everything is checked before a byte is written. On any failure a previous file at
    ``path`` is left exactly as it was, and the error names ``path`` (not the hidden
    temporary file): ``OSError`` for the file system (no space, no permission),
    ``ModelFileError`` or ``ValueError`` for what cannot be saved.
    """
    path = _as_path(path, "save")
    _check_target(path)
    arrays = _members(header, state, path)
    _clean_stale_temporaries(path.parent)
    mode = _existing_mode(path)
    try:
        _write_atomically(path, arrays, mode)
    except OSError as exc:
        if exc.filename == str(path):
            raise
        reason = exc.strerror or str(exc)
        raise type(exc)(exc.errno or errno.EIO, f"cannot save model: {reason}",
                        str(path)) from None


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise what ``write_model`` would raise about the place (not the content) now:
    proves the folder takes a new file, before hours of training depend on it."""
    path = _as_path(path, "save")
    _check_target(path)
    try:
        tmp, fd = _create_temporary(path)
    except OSError as exc:
        raise type(exc)(exc.errno or errno.EIO, f"cannot save model: {exc.strerror or exc}",
                        str(path)) from None
    os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()


def _existing_mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None


def _write_atomically(path: Path, arrays: dict[str, np.ndarray], mode: int | None) -> None:
    tmp, fd = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            # uncompressed: weights barely compress, and a stored member's size is
            # bounded by the file's, which keeps loading untrusted files predictable
            _savez(f, **arrays)
            f.flush()
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_folder(path.parent)


#: ``np.savez`` with its keyword arrays typed loosely (its stubs' ``allow_pickle``
#: keyword makes ``**arrays`` look wrong to a type checker).
_savez: Any = np.savez


def _temporary_name(path: Path) -> Path:
    return path.with_name(f"{_TMP_PREFIX}{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
                          f"{_TMP_SUFFIX}")


def _create_temporary(path: Path) -> tuple[Path, int]:
    """A new hidden file beside ``path``, named with this process's id; mode 0o666 so
    the user's umask applies (mkstemp would make every model file private)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = _temporary_name(path)
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "cannot create a temporary file beside", str(path))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _clean_stale_temporaries(folder: Path) -> None:
    """Remove temporary files of our naming whose writing process no longer runs.

    A save killed with SIGKILL cannot clean up after itself; the next save to the
    folder does. Files of a save still running (in any process) are left alone.
    """
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not (name.startswith(_TMP_PREFIX) and name.endswith(_TMP_SUFFIX)):
            continue
        parts = name[len(_TMP_PREFIX):-len(_TMP_SUFFIX)].rsplit(".", 2)
        if len(parts) != 3 or not parts[0].lower().endswith(SUFFIX) or not parts[1].isdigit():
            continue
        if len(parts[2]) != 8 or any(c not in "0123456789abcdef" for c in parts[2]):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False) and not _alive(int(parts[1])):
                os.unlink(entry.path)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


# -- reading ---------------------------------------------------------------------------------
_FREE_PREFIXES = ("optimizer/", "training/", "names/")
_FREE_MEMBERS = ("classes",)
_V1_NAMES = {"rng": "training/shuffle_rng", "epoch": "training/epoch"}
_HEADER_BUDGET = 2 * _TEXT_LIMIT


def _v1_key(name: str) -> str:
    """A format-1 member's name in format 2: ``weights/W3`` -> ``weights/3/W``."""
    name = _V1_NAMES.get(name, name)
    if name.startswith("weights/") and name[8:9] in ("W", "b") and name[9:].isdigit():
        return f"weights/{int(name[9:])}/{name[8]}"
    return name


@attrs.define
class ModelFile:
    """An opened model file: its header, and its state on request (``read_state``)."""

    path: Path
    format_version: int
    #: ``{"spec": ..., "components": [...], "npframe_version": ...}``.
    header: dict[str, Any]
    #: The state members' names (format 2 spelling) and declared sizes.
    members: dict[str, int]

    def read_state(self, expected: Mapping[str, tuple[tuple[int, ...], np.dtype] | None],
                   *, budget: int) -> dict[str, np.ndarray]:
        """Every state member, decompressed within ``budget`` bytes in all.

        Members named in ``expected`` must have exactly that shape and dtype, checked
        from their header before anything is allocated; ``optimizer/``, ``training/``,
        ``classes`` and ``names/`` members are read within the budget; any other member
        is an error before anything is decompressed.
        """
        for key in self.members:
            if key not in expected and not key.startswith(_FREE_PREFIXES) \
                    and key not in _FREE_MEMBERS:
                raise ModelFileError(f"{self.path}: unexpected member {key!r} for the network "
                                     "its spec describes; the file is not a model of it")
        translate = _v1_key if self.format_version == 1 else str

        def check(name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
            want = expected.get(translate(name))
            if want is not None and (tuple(shape), np.dtype(dtype)) != (
                    tuple(want[0]), np.dtype(want[1])):
                raise ModelFileError(
                    f"{self.path}: member {translate(name)!r} is {tuple(shape)} {dtype}, but "
                    f"the spec needs {tuple(want[0])} {np.dtype(want[1])}")

        arrays = read_npz(self.path, error=ModelFileError, max_total_bytes=budget,
                          member_ok=lambda name: name not in _HEADER_MEMBERS,
                          check_header=check)
        return {translate(name): array for name, array in arrays.items()}


def _sniff(path: Path) -> None:
    """The model-file wording for what is not a zip archive at all."""
    with open_regular(path, ModelFileError) as f:
        head = f.read(8)
    if head[:4] in _ZIP_MAGIC:
        return
    if not head:
        what = "the file is empty"
    elif head.startswith(b"\x93NUMPY"):
        what = "it is a single .npy array, not an .npz model file"
    elif head[:1] == b"\x80":
        what = "it looks like a Python pickle, which npframe never loads (unpickling runs code)"
    else:
        what = f"it is not a zip archive (an .npz model file is one); it starts with {head!r}"
    raise ModelFileError(f"{path}: not an npframe model file: {what}")


def _check_path(path: Path) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        hint = ""
        if path.suffix.lower() != SUFFIX and path.with_name(path.name + SUFFIX).exists():
            hint = f" (did you mean {path.name + SUFFIX!r}?)"
        raise FileNotFoundError(errno.ENOENT, f"no such model file{hint}", str(path)) from None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "expected a model file, got a folder", str(path))


def _text(array: np.ndarray, name: str, path: Path) -> str:
    if array.dtype.kind != "U" or array.shape != ():
        raise ModelFileError(f"{path}: member {name!r} must be a unicode string (got "
                             f"{array.dtype} {array.shape})")
    return str(array[()])


def _json(text: str, name: str, path: Path) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs):
            raise ModelFileError(f"{path}: member {name!r} repeats a key")
        return out

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except ModelFileError:
        raise
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise ModelFileError(f"{path}: member {name!r} is not valid JSON: {exc}") from None


def _missing(path: Path, name: str) -> ModelFileError:
    return ModelFileError(f"{path}: member {name!r} is missing; the file is incomplete or not "
                          "an npframe model")


def _read_version(path: Path, sizes: Mapping[str, int]) -> tuple[int, str | None]:
    """Format version first, alone: a newer file says "upgrade" whatever else it holds."""
    if "format_version" not in sizes:
        raise _missing(path, "format_version")
    small = read_npz(path, error=ModelFileError, max_total_bytes=_HEADER_BUDGET,
                     member_ok={"format_version", "npframe_version"}.__contains__,
                     foreign_ok=True)
    array = small["format_version"]
    if array.shape != () or array.dtype.kind not in "iu":
        raise ModelFileError(f"{path}: member 'format_version' must be an integer scalar")
    writer = small.get("npframe_version")
    written_by = str(writer[()]) if writer is not None and writer.dtype.kind == "U" \
        and writer.shape == () else None
    return int(array), written_by


def _header(path: Path, version: int, written_by: str | None,
            sizes: Mapping[str, int]) -> dict[str, Any]:
    names = ["spec", *(["components"] if version >= 2 else [])]
    for name in ["npframe_version", *names]:
        if name not in sizes:
            raise _missing(path, name)
    arrays = read_npz(path, error=ModelFileError, max_total_bytes=_HEADER_BUDGET,
                      member_ok=set(names).__contains__)
    _text(read_npz(path, error=ModelFileError, max_total_bytes=_HEADER_BUDGET,
                   member_ok={"npframe_version"}.__contains__)["npframe_version"],
          "npframe_version", path)
    spec = _json(_text(arrays["spec"], "spec", path), "spec", path)
    components: Any = []
    if version >= 2:
        components = _json(_text(arrays["components"], "components", path), "components", path)
        if not isinstance(components, list) or not all(_is_record(c) for c in components):
            raise ModelFileError(f"{path}: member 'components' must be a list of component "
                                 "records")
    return {"spec": spec, "components": components, "npframe_version": written_by}


def _is_record(record: Any) -> bool:
    keys = {"kind", "path", "name", "qualified"}
    return (isinstance(record, dict) and keys <= set(record)
            and all(isinstance(record[k], str) for k in keys)
            and all(isinstance(record.get(k), str | None) for k in ("distribution", "version")))


@contextlib.contextmanager
def open_model(path: str | os.PathLike[str]) -> Iterator[ModelFile]:
    """Open a model file and read its header; read its state with ``read_state``.

    Raises ``FileNotFoundError`` for a missing file and ``ModelFileError`` for anything
    that is not a valid model file (newer formats say to upgrade npframe). The checks
    of ``npframe.archive`` apply: nothing is decompressed before the zip directory is
    checked as a whole, and only what the caller asks for is decompressed.
    """
    path = _as_path(path, "load")
    _check_path(path)
    _sniff(path)
    listed = list_npz(path, error=ModelFileError, foreign_ok=True)
    sizes = {m.name: m.size for m in listed}
    version, written_by = _read_version(path, sizes)
    if version > FORMAT_VERSION:
        by = f"npframe {written_by}" if written_by else "a newer npframe"
        raise ModelFileError(
            f"{path}: written by {by} in model format {version}; this npframe ({__version__}) "
            f"reads formats up to {FORMAT_VERSION}. Upgrade npframe (pip install -U npframe) "
            "to load it")
    if version < 1:
        raise ModelFileError(f"{path}: format_version must be >= 1 (got {version})")
    foreign = [m.name for m in listed if not m.array]
    if foreign:  # after the version check: a newer format says "upgrade" first
        raise ModelFileError(f"{path}: member {foreign[0]!r} is not a NumPy array (.npy); "
                             "not an npframe model file")
    header = _header(path, version, written_by, sizes)
    translate = _v1_key if version == 1 else str
    members = {translate(n): size for n, size in sizes.items() if n not in _HEADER_MEMBERS}
    yield ModelFile(path, version, header, members)
