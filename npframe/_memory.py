"""How much memory this process may use, for checks made before allocating."""

from __future__ import annotations

import contextlib
import os

try:
    import resource
except ImportError:  # pragma: no cover - not POSIX (Windows): no per-process limits
    resource = None  # type: ignore[assignment]

__all__ = ["available_bytes", "format_bytes"]


def available_bytes() -> int:
    """The smaller of the machine's physical memory and this process's address-space
    or data-size limit (``ulimit -v`` / ``-d``), in bytes."""
    limits = []
    with contextlib.suppress(ValueError, OSError, AttributeError):  # no machine-wide figure
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    if resource is not None:
        for which in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
            soft, _ = resource.getrlimit(which)
            if soft != resource.RLIM_INFINITY and soft > 0:
                limits.append(soft)
    return min(limits) if limits else 2**63


def format_bytes(n: float) -> str:
    """``"4.7 GB"``: decimal units, three significant digits."""
    if abs(n) < 1000:
        return f"{int(n)} B"
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        n /= 1000
        if abs(n) < 1000 or unit == "PB":
            break
    return f"{n:.3g} {unit}"
