"""Model files: one ``.npz`` holding everything needed to predict with and resume a network.

Members (all plain arrays; strings are ``<U`` unicode arrays, never object arrays)::

    format_version      int64 scalar, FORMAT_VERSION
    npframe_version     the npframe version that wrote the file
    spec                the normalized spec (``Network.to_spec()``) as JSON text
    weights/W1 .. bL    every layer's W (fan_in, fan_out) and b (fan_out,) in the spec's dtype
    optimizer/<key>     the optimizer's ``state_dict()`` (absent when it is stateless)
    rng                 the shuffling generator's ``bit_generator.state`` as JSON text
    scaler/x_mean ...   the ``Standardizer`` statistics, when the network has one
    epoch               int64 scalar, epochs trained so far

``save`` validates everything in memory, writes a temporary file next to the target,
fsyncs it and renames it into place, so a failure never destroys a previous file.
``load`` never unpickles: every member's header is checked (plain numeric, bool or
unicode dtype; size consistent with the archive) before ``np.load(...,
allow_pickle=False)`` reads it, and the network is returned only once it is whole.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import math
import os
import secrets
import struct
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from npframe._version import __version__
from npframe.errors import ModelFileError, SpecError, UnknownComponentError
from npframe.scaler import Standardizer
from npframe.spec import NetworkSpec

if TYPE_CHECKING:
    from npframe.network import Network
    from npframe.registry import Registry

__all__ = ["FORMAT_VERSION", "SUFFIX", "load", "save"]

#: The model-file layout this npframe writes; it reads this version and older ones.
FORMAT_VERSION = 1
#: Model files must carry this suffix (``np.savez`` would silently append it otherwise).
SUFFIX = ".npz"

_SCALER_KEYS = ("x_mean", "x_std", "y_mean", "y_std")
_SCALARS = ("format_version", "npframe_version", "spec", "rng", "epoch")
_PREFIXES = ("weights/", "optimizer/", "scaler/")
_NUMERIC_KINDS = "biufc"  # bool, signed, unsigned, float, complex
_MAX_DEFLATE_RATIO = 1100  # deflate's ceiling is ~1032:1
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or an empty archive


# -- paths ---------------------------------------------------------------------------------
def _as_path(path: Any, what: str) -> Path:
    if isinstance(path, str | os.PathLike):
        fspath = os.fspath(path)
        if isinstance(fspath, str) and fspath:
            return Path(fspath)
    msg = f"{what}: path must be a non-empty str or os.PathLike (got {type(path).__name__})"
    raise TypeError(msg)


# -- save ----------------------------------------------------------------------------------
def save(network: Network, path: str | os.PathLike[str]) -> None:
    """Write ``network`` to ``path`` (which must end in ``.npz``) atomically.

    Everything is gathered and checked before a byte is written; the file is then
    written beside the target under a hidden temporary name, flushed to disk and
    renamed over ``path``. On any failure the temporary file is removed and a previous
    file at ``path`` is left exactly as it was. The folder must already exist.
    """
    from npframe.network import Network

    path = _as_path(path, "save")
    if not isinstance(network, Network):
        msg = f"{path}: can only save an npframe.Network (got {type(network).__name__})"
        raise TypeError(msg)
    if path.suffix.lower() != SUFFIX:
        msg = (
            f"{path}: model files must end in {SUFFIX} (got {path.suffix or 'no suffix'}); "
            f"use e.g. {path.name + SUFFIX!r}"
        )
        raise ValueError(msg)
    folder = path.parent
    if not folder.is_dir():
        if folder.exists():
            msg = f"cannot save model: '{folder}' is not a folder"
            raise NotADirectoryError(errno.ENOTDIR, msg, str(path))
        msg = f"cannot save model: folder '{folder}' does not exist (create it first)"
        raise FileNotFoundError(errno.ENOENT, msg, str(path))
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "cannot save model over a folder", str(path))
    arrays = _export(network, path)
    _write_atomically(path, arrays)


def _export(net: Network, path: Path) -> dict[str, np.ndarray]:
    """Every member, checked: a file ``save`` writes is a file ``load`` reads."""
    arrays: dict[str, np.ndarray] = {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "npframe_version": np.array(__version__),
        "spec": np.array(json.dumps(net.to_spec(), allow_nan=False)),
    }
    for i, layer in enumerate(net.layers, start=1):
        for name, array in ((f"W{i}", layer.W), (f"b{i}", layer.b)):
            if not np.isfinite(array).all():
                msg = (
                    f"{path}: refusing to save: {name} holds NaN or inf, so the model could "
                    "not be used or resumed"
                )
                raise ModelFileError(msg)
            arrays[f"weights/{name}"] = array
    arrays.update(_optimizer_state(net, path))
    arrays["rng"] = np.array(json.dumps(net._shuffle_rng.bit_generator.state))
    if net.scaler is not None:
        for key, value in net.scaler.state_dict().items():
            arrays[f"scaler/{key}"] = np.asarray(value)
    arrays["epoch"] = np.array(net.epoch, dtype=np.int64)
    for name, array in arrays.items():
        if array.dtype.kind not in _NUMERIC_KINDS + "U" or array.dtype.fields is not None:
            msg = f"{path}: refusing to save: {name} has dtype {array.dtype}, not plain data"
            raise ModelFileError(msg)
    return arrays


def _optimizer_state(net: Network, path: Path) -> dict[str, np.ndarray]:
    optimizer = net.optimizer
    name = net.spec.optimizer.name
    state = optimizer.state_dict()
    if not isinstance(state, Mapping):
        msg = (
            f"{path}: refusing to save: optimizer {name!r} state_dict() returned "
            f"{type(state).__name__}, not a dict of arrays"
        )
        raise ModelFileError(msg)
    out = {}
    for key, value in state.items():
        if not isinstance(key, str) or not key:
            msg = (
                f"{path}: refusing to save: optimizer {name!r} state_dict() keys must be "
                f"non-empty strings (got {key!r})"
            )
            raise ModelFileError(msg)
        array = np.asarray(value) if not isinstance(value, np.ndarray) else value
        if array.dtype.kind not in _NUMERIC_KINDS or array.dtype.fields is not None:
            msg = (
                f"{path}: refusing to save: optimizer {name!r} state {key!r} has dtype "
                f"{array.dtype}; state must be plain numeric arrays"
            )
            raise ModelFileError(msg)
        out[f"optimizer/{key}"] = array
    return out


def _write_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp, fd = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            # uncompressed: weights barely compress, and a stored member's size is
            # bounded by the file's, which keeps loading untrusted files predictable
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_folder(path.parent)


def _create_temporary(path: Path) -> tuple[Path, int]:
    """A new hidden file beside ``path``; mode 0o666 so the user's umask applies (mkstemp
    would make every model file private to its owner)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "cannot create a temporary file beside", str(path))


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


# -- load ----------------------------------------------------------------------------------
def load(path: str | os.PathLike[str], *, registry: Registry | None = None) -> Network:
    """Read a model written by ``save``; never unpickles anything.

    Raises ``FileNotFoundError`` (an ``OSError``) for a missing file, ``ModelFileError``
    (a ``ValueError``) for anything that is not a valid model file, and ``SpecError``
    when the model needs a component that is not registered (a plugin that is not
    installed). Either the whole network comes back or an exception does.
    """
    from npframe.registry import default_registry

    path = _as_path(path, "load")
    registry = registry or default_registry()
    _check_file(path)
    arrays = _read_members(path)
    return _build(path, arrays, registry)


def _check_file(path: Path) -> None:
    if not path.exists():
        hint = ""
        if path.suffix.lower() != SUFFIX and path.with_name(path.name + SUFFIX).exists():
            hint = f" (did you mean {path.name + SUFFIX!r}?)"
        raise FileNotFoundError(errno.ENOENT, f"no such model file{hint}", str(path))
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "expected a model file, got a folder", str(path))
    with path.open("rb") as f:
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


def _read_members(path: Path) -> dict[str, np.ndarray]:
    """Every member as an array, after checking its header; refuses anything but plain data."""
    # our own handle: np.load leaks the one it opens when the archive is unreadable
    with path.open("rb") as handle:
        try:
            npz = np.load(handle, allow_pickle=False)
        except Exception as exc:
            if not _is_corruption(exc):
                raise
            msg = f"{path}: not a readable zip archive (truncated or corrupt): {_describe(exc)}"
            raise ModelFileError(msg) from None
        if not isinstance(npz, np.lib.npyio.NpzFile):  # pragma: no cover - magic checked
            raise ModelFileError(f"{path}: not an .npz archive")
        with npz:
            return _arrays(npz, path)


def _arrays(npz: Any, path: Path) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    seen: set[str] = set()
    for member in npz.zip.namelist():
        if not member.endswith(".npy"):
            msg = f"{path}: member {member!r} is not a NumPy array (.npy); not a model file"
            raise ModelFileError(msg)
        name = member[: -len(".npy")]
        if member in seen:
            raise ModelFileError(f"{path}: member {name!r} appears more than once")
        seen.add(member)
        try:
            _check_header(npz.zip, member, name, path)
            arrays[name] = npz[member]
        except ModelFileError:
            raise
        except Exception as exc:
            if not _is_corruption(exc):
                raise
            msg = f"{path}: member {name!r} is corrupt or truncated: {_describe(exc)}"
            raise ModelFileError(msg) from None
    return arrays


def _is_corruption(exc: BaseException) -> bool:
    """Whether reading failed because the bytes are wrong, not because I/O did.

    A damaged archive makes ``zipfile`` and ``np.lib.format`` fail in many ways, down to
    seeking to an offset that cannot exist (``EINVAL``); a real I/O error stays an
    ``OSError``.
    """
    if isinstance(exc, OSError):
        return exc.errno == errno.EINVAL
    return isinstance(exc, zipfile.BadZipFile | zlib.error | ValueError | EOFError
                      | NotImplementedError | OverflowError | struct.error
                      | UnicodeDecodeError | SyntaxError)


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _check_header(archive: zipfile.ZipFile, member: str, name: str, path: Path) -> None:
    """Read only the .npy header: the dtype must be plain and the size must add up.

    The member's declared size must also be possible for its compressed size (deflate
    expands at most ~1032:1), so a small file cannot make ``load`` allocate gigabytes.
    """
    info = archive.getinfo(member)
    if info.flag_bits & 0x1:
        raise ModelFileError(f"{path}: member {name!r} is encrypted; model files never are")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        msg = (
            f"{path}: member {name!r} uses zip compression method {info.compress_type}; "
            "model files are stored or deflated (np.savez / np.savez_compressed)"
        )
        raise ModelFileError(msg)
    limit = info.compress_size if info.compress_type == zipfile.ZIP_STORED else (
        _MAX_DEFLATE_RATIO * max(info.compress_size, 1))
    if info.file_size > limit:
        msg = (
            f"{path}: member {name!r} claims {info.file_size} bytes from "
            f"{info.compress_size} stored bytes, which is impossible; the file is corrupt"
        )
        raise ModelFileError(msg)
    with archive.open(member) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            msg = f"{path}: member {name!r} uses .npy format {version}, which npframe never writes"
            raise ModelFileError(msg)
        header_size = f.tell()
    if dtype.hasobject:
        msg = (
            f"{path}: member {name!r} holds Python objects (pickled data); npframe never "
            "unpickles, because unpickling can run arbitrary code. Refusing to load it"
        )
        raise ModelFileError(msg)
    if dtype.kind not in _NUMERIC_KINDS + "U" or dtype.fields is not None or dtype.subdtype:
        msg = (
            f"{path}: member {name!r} has dtype {dtype}; model files hold only plain "
            "numeric, bool and unicode arrays"
        )
        raise ModelFileError(msg)
    expected = header_size + math.prod(shape) * dtype.itemsize
    if info.file_size != expected:
        msg = (
            f"{path}: member {name!r} declares shape {shape} of {dtype} ({expected} bytes "
            f"with its header) but holds {info.file_size} bytes; the file is corrupt"
        )
        raise ModelFileError(msg)


# -- rebuilding ------------------------------------------------------------------------------
def _build(path: Path, arrays: dict[str, np.ndarray], registry: Registry) -> Network:
    """Check every member against the spec, then build and fill the network."""
    from npframe.network import Network

    version = _int_scalar(arrays, "format_version", path)
    if version > FORMAT_VERSION:
        writer = arrays.get("npframe_version")
        by = f"npframe {writer[()]}" if _is_string(writer) else "a newer npframe"
        msg = (
            f"{path}: written by {by} in model format {version}; this npframe "
            f"({__version__}) reads formats up to {FORMAT_VERSION}. Upgrade npframe "
            "(pip install -U npframe) to load it"
        )
        raise ModelFileError(msg)
    if version < 1:
        raise ModelFileError(f"{path}: format_version must be >= 1 (got {version})")
    for name in _SCALARS:
        _member(arrays, name, path)
    unexpected = [n for n in arrays if n not in _SCALARS and not n.startswith(_PREFIXES)]
    if unexpected:
        msg = f"{path}: unexpected member(s) {', '.join(map(repr, sorted(unexpected)))}"
        raise ModelFileError(msg)

    spec = _spec(arrays, path)
    _check_components(spec, registry, path)
    dtype = np.dtype(spec.dtype)
    weights = _weights(arrays, spec, dtype, path)
    scaler = _scaler(arrays, spec, dtype, path)
    rng_state = _json(arrays, "rng", path)
    if not isinstance(rng_state, dict):
        raise ModelFileError(f"{path}: member 'rng' must hold a JSON object (the generator state)")
    epoch = _int_scalar(arrays, "epoch", path)
    if epoch < 0:
        raise ModelFileError(f"{path}: member 'epoch' must be >= 0 (got {epoch})")
    opt_state = {n[len("optimizer/"):]: a for n, a in arrays.items() if n.startswith("optimizer/")}
    for key, array in opt_state.items():
        if array.dtype.kind not in _NUMERIC_KINDS:
            msg = f"{path}: optimizer state {key!r} has dtype {array.dtype}, not numeric"
            raise ModelFileError(msg)

    try:
        net = Network(spec, registry=registry)
    except SpecError as exc:
        raise type(exc)(f"{exc.reason} (in the spec stored in {path})", exc.path) from None
    for param, array in zip(net._params, weights, strict=True):
        param[...] = array
    try:
        net.optimizer.load_state_dict(opt_state)
    except Exception as exc:
        msg = (
            f"{path}: optimizer {spec.optimizer.name!r} rejected the saved state: "
            f"{type(exc).__name__}: {exc}"
        )
        raise ModelFileError(msg) from None
    try:
        net._shuffle_rng.bit_generator.state = rng_state
    except (TypeError, ValueError, KeyError) as exc:
        msg = f"{path}: member 'rng' is not a valid generator state: {type(exc).__name__}: {exc}"
        raise ModelFileError(msg) from None
    net.scaler = scaler
    net.epoch = epoch
    return net


def _member(arrays: dict[str, np.ndarray], name: str, path: Path) -> np.ndarray:
    try:
        return arrays[name]
    except KeyError:
        msg = f"{path}: member {name!r} is missing; the file is incomplete or not an npframe model"
        raise ModelFileError(msg) from None


def _is_string(array: Any) -> bool:
    return isinstance(array, np.ndarray) and array.dtype.kind == "U" and array.shape == ()


def _int_scalar(arrays: dict[str, np.ndarray], name: str, path: Path) -> int:
    array = _member(arrays, name, path)
    if array.shape != () or array.dtype.kind not in "iu":
        msg = f"{path}: member {name!r} must be an integer scalar (got {array.dtype} {array.shape})"
        raise ModelFileError(msg)
    return int(array)


def _json(arrays: dict[str, np.ndarray], name: str, path: Path) -> Any:
    array = _member(arrays, name, path)
    if not _is_string(array):
        msg = f"{path}: member {name!r} must be a unicode string (got {array.dtype} {array.shape})"
        raise ModelFileError(msg)
    try:
        return json.loads(str(array[()]))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: member {name!r} is not valid JSON: {exc}") from None


def _spec(arrays: dict[str, np.ndarray], path: Path) -> NetworkSpec:
    data = _json(arrays, "spec", path)
    try:
        # components are checked next, against the registry, with a plugin hint
        return NetworkSpec.from_mapping(data, check_components=False)
    except SpecError as exc:
        raise ModelFileError(f"{path}: the stored spec is invalid: {exc}") from None


def _check_components(spec: NetworkSpec, registry: Registry, path: Path) -> None:
    """Every component the network builds must be registered; a missing one names the
    plugin problem. (``train.dataset`` is not needed to use a model, so it is not checked.)"""
    missing = []
    for kind, where, ref in spec.component_refs():
        if kind != "dataset" and ref.name not in registry.names(kind):
            missing.append((kind, where, ref.name))
    if not missing:
        return
    kind, where, name = missing[0]
    others = "".join(f"; also missing: {k} {n!r} ({w})" for k, w, n in missing[1:])
    try:
        registry.entry(kind, name)
    except UnknownComponentError as exc:
        reason = str(exc)
    else:  # pragma: no cover - registered between the two calls
        return
    msg = (
        f"{reason}. The model {path} needs {kind} {name!r}: a plugin providing it must be "
        f"installed (pip install the distribution that registers {kind} {name!r}){others}"
    )
    raise UnknownComponentError(msg, where)


def _checked_array(arrays: dict[str, np.ndarray], name: str, shape: tuple[int, ...],
                   dtype: np.dtype, path: Path) -> np.ndarray:
    array = _member(arrays, name, path)
    if array.shape != shape:
        msg = f"{path}: member {name!r} has shape {array.shape}, but the spec needs {shape}"
        raise ModelFileError(msg)
    if array.dtype != dtype:
        msg = (
            f"{path}: member {name!r} has dtype {array.dtype}, but the spec's dtype is {dtype}"
        )
        raise ModelFileError(msg)
    if not np.isfinite(array).all():
        raise ModelFileError(f"{path}: member {name!r} holds NaN or inf")
    return array


def _weights(arrays: dict[str, np.ndarray], spec: NetworkSpec, dtype: np.dtype, path: Path,
             ) -> list[np.ndarray]:
    out, expected = [], set()
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(spec.sizes), start=1):
        for name, shape in ((f"weights/W{i}", (fan_in, fan_out)), (f"weights/b{i}", (fan_out,))):
            out.append(_checked_array(arrays, name, shape, dtype, path))
            expected.add(name)
    extra = sorted(n for n in arrays if n.startswith("weights/") and n not in expected)
    if extra:
        msg = (
            f"{path}: member(s) {', '.join(map(repr, extra))} do not match the spec's "
            f"{len(spec.layers)} layer(s)"
        )
        raise ModelFileError(msg)
    return out


def _scaler(arrays: dict[str, np.ndarray], spec: NetworkSpec, dtype: np.dtype, path: Path,
            ) -> Standardizer | None:
    present = sorted(n for n in arrays if n.startswith("scaler/"))
    if not present:
        return None  # never fitted (or standardize is off)
    if not spec.standardize:
        msg = f"{path}: holds scaler statistics but the spec has standardize = false"
        raise ModelFileError(msg)
    unknown = [n for n in present if n[len("scaler/"):] not in _SCALER_KEYS]
    if unknown:
        raise ModelFileError(f"{path}: unexpected member(s) {', '.join(map(repr, unknown))}")
    shapes = {"x": (spec.input,), "y": (spec.output,)}
    stats = {
        key: _checked_array(arrays, f"scaler/{key}", shapes[key[0]], dtype, path)
        for key in _SCALER_KEYS
    }
    for key in ("x_std", "y_std"):
        if not (stats[key] > 0).all():
            raise ModelFileError(f"{path}: member 'scaler/{key}' must be positive")
    return Standardizer(**stats)
