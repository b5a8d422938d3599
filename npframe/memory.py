"""How much memory this process can get, and the default budget for reading one file.

A file's header can declare any size; a reader must compare that claim with what the
machine can hold *before* allocating, so a hostile 200-byte file is refused with a
message instead of ending in ``MemoryError`` or the OOM killer. The ceiling is the
smallest of: physical RAM, the container's cgroup limit, and the ``RLIMIT_AS`` /
``RLIMIT_DATA`` soft limits less what the process already uses. Physical RAM (not the
fluctuating "available" figure) keeps the answer stable from run to run; a real file
that does not fit fails anyway, a lie is caught either way.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["available_memory", "format_bytes", "memory_budget"]

#: Assumed when the platform offers no way to ask (Windows without /proc).
_FALLBACK = 8 << 30


def _physical() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _read_int(path: str) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(Path(path).read_text().split()[0])
    return None


def _cgroup() -> int | None:
    """The container's memory limit less its current use (cgroup v2, then v1)."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
         "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        limit = _read_int(limit_file)  # "max" (v2, unlimited) reads as None
        if limit is not None and limit < 1 << 60:  # v1 spells "unlimited" as ~2**63
            return max(limit - (_read_int(usage_file) or 0), 0)
    return None


def _status_kib(field: str) -> int:
    """A ``VmSize``/``VmData`` line of /proc/self/status in bytes; 0 where there is none."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _rlimits() -> list[int]:
    try:
        import resource
    except ImportError:  # Windows
        return []
    out = []
    for name, used in (("RLIMIT_AS", "VmSize"), ("RLIMIT_DATA", "VmData")):
        which = getattr(resource, name, None)
        if which is None:
            continue
        soft, _ = resource.getrlimit(which)
        if soft != resource.RLIM_INFINITY:
            out.append(max(soft - _status_kib(used), 0))
    return out


def available_memory() -> int:
    """Bytes this process could still allocate at most (see the module docstring)."""
    candidates = [m for m in (_physical(), _cgroup()) if m is not None] + _rlimits()
    return min(candidates) if candidates else _FALLBACK


def memory_budget(fraction: float = 0.5) -> int:
    """The default ceiling for what reading one data file may allocate.

    Half of ``available_memory()`` by default: what is read must still be converted,
    standardized and trained on.
    """
    if not 0.0 < fraction <= 1.0:
        msg = f"fraction must be in (0, 1] (got {fraction!r})"
        raise ValueError(msg)
    return int(available_memory() * fraction)


def format_bytes(n: int) -> str:
    """``8796093022208`` -> ``'8.0 TiB (8796093022208 bytes)'``; small sizes stay exact."""
    if n < 1024:
        return f"{n} byte{'' if n == 1 else 's'}"
    units = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    value, i = n / 1024, 0
    while value >= 1024 and i < len(units) - 1:
        value, i = value / 1024, i + 1
    return f"{value:.1f} {units[i]} ({n} bytes)"
