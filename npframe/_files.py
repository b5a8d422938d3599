"""Opening files npframe only reads: anything but a regular file is refused before a read.

A named pipe (FIFO) given as a model, spec or data path would make ``open`` or the first
``read`` wait for a writer forever; a device (``/dev/zero``, ``/dev/urandom``) never ends.
So the path is checked with ``stat``, opened with ``O_NONBLOCK`` (which makes opening a
FIFO return at once instead of waiting) and checked again with ``fstat`` on the open
descriptor, which is what is actually read, so a path swapped in between is caught too.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from pathlib import Path

__all__ = ["open_regular"]

_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
          | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0))


def _not_regular(mode: int) -> str | None:
    """Why a file of this mode cannot be read as data, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if stat.S_ISFIFO(mode):
        return ("is a named pipe (FIFO), not a regular file; npframe reads only regular "
                "files, because reading a pipe can block forever")
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is a device, not a regular file"


def open_regular(path: str | os.PathLike[str],
                 error: Callable[[str], Exception]) -> io.BufferedReader:
    """``path`` opened for binary reading, after proving it is a regular file.

    Raises ``error("{path}: is a named pipe ...")`` for anything else, without blocking;
    ``OSError`` (missing file, no permission) propagates unchanged.
    """
    path = Path(path)
    reason = _not_regular(os.stat(path).st_mode)
    if reason:
        raise error(f"{path}: {reason}")
    fd = os.open(path, _FLAGS)
    try:
        reason = _not_regular(os.fstat(fd).st_mode)
        if reason:
            raise error(f"{path}: {reason}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return io.BufferedReader(io.FileIO(fd, "rb"))
    except BaseException:
        os.close(fd)
        raise
