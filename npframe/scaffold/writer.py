"""Write a new plugin's files: every check first, then all files at once or none.

The project is written into a hidden sibling folder and renamed into place, so an
interrupted run never leaves half a project behind, and an existing non-empty folder
is never touched.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from npframe.registry import default_registry
from npframe.scaffold.names import (
    CONVENTION,
    PluginNames,
    ScaffoldError,
    check_not_importable,
    plugin_names,
)
from npframe.scaffold.render import KINDS, render

if TYPE_CHECKING:
    from npframe.registry import Registry

__all__ = ["Scaffold", "new_plugin"]

_BUILTIN_OWNER = "npframe"


@attrs.frozen
class Scaffold:
    """What ``new_plugin`` wrote."""

    #: The project folder.
    path: Path
    names: PluginNames
    kind: str
    #: The files written, relative to ``path``.
    files: tuple[str, ...]
    #: Advice worth showing the user (naming convention, names taken by other plugins).
    notes: tuple[str, ...]


def _same_distribution(a: str, b: str) -> bool:
    return a.replace("_", "-").replace(".", "-").lower() == b


def _check_component_name(names: PluginNames, kind: str, registry: Registry) -> list[str]:
    """Refuse a built-in's name; return a note for a name another plugin already uses."""
    owners = sorted({e.owner for e in registry.entries(kind) if e.name == names.component})
    if _BUILTIN_OWNER in owners:
        msg = (
            f"plugin name {names.distribution!r}: {kind} {names.component!r} is one of "
            f"npframe's built-ins (see `npframe plugins --kind {kind}`), and a plugin "
            f"cannot take a built-in's name; choose another, such as "
            f"npframe-my-{names.component.replace('_', '-')}"
        )
        raise ScaffoldError(msg)
    others = [o for o in owners if not _same_distribution(o, names.distribution)]
    if not others:
        return []
    return [
        f"{kind} {names.component!r} is also registered by {', '.join(others)}, installed "
        "here: with both installed, a spec's bare name cannot mean both; consider a more "
        "distinctive name"
    ]


def _check_destination(path: Path) -> None:
    if path.is_dir():
        if any(path.iterdir()):
            msg = (
                f"{path}: the folder exists and is not empty; new-plugin never overwrites "
                "files: choose another --dir, or move the folder away first"
            )
            raise ScaffoldError(msg)
    elif path.exists():
        raise ScaffoldError(f"{path}: exists and is not a folder; choose another --dir")
    elif not path.parent.is_dir():
        raise ScaffoldError(f"{path}: folder '{path.parent}' does not exist (create it first)")


def _write_all(path: Path, files: dict[str, str]) -> None:
    """Write ``files`` into a hidden sibling of ``path``, then rename it into place."""
    staging = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    staging.mkdir()
    try:
        for rel, text in files.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8", newline="\n")
        if path.is_dir():
            path.rmdir()  # checked empty: rmdir refuses anything else
        os.rename(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def new_plugin(name: str, kind: str = "activation", directory: str | os.PathLike | None = None,
               *, registry: Registry | None = None) -> Scaffold:
    """Write a ready plugin distribution for ``name`` with one working ``kind`` component.

    ``directory`` is the project folder to create (default: the distribution name, in
    the current folder); it may exist if it is empty. ``registry`` (default: the
    process-wide one) supplies the names already taken. Raises ``ScaffoldError``, before
    writing anything, for an unusable name, kind or folder.
    """
    if kind not in KINDS:
        msg = f"unknown kind {kind!r}; new-plugin makes one of: {', '.join(KINDS)}"
        raise ScaffoldError(msg)
    names = plugin_names(name)
    check_not_importable(names)
    if registry is None:
        registry = default_registry()
    notes = _check_component_name(names, kind, registry)
    if not names.follows_convention:
        notes.insert(0, (
            f"plugin distributions are named {CONVENTION} so people can find them; "
            f"consider npframe-{names.distribution} (continuing with {names.distribution!r})"
        ))
    path = Path(directory) if directory is not None else Path.cwd() / names.distribution
    _check_destination(path)
    files = render(names, kind)
    _write_all(path, files)
    return Scaffold(path, names, kind, tuple(files), tuple(notes))
