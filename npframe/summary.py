"""The layer table of a network: what ``Network.summary()`` and ``npframe check`` print."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from npframe.assembly import Blueprint
from npframe.spec import LayerSpec

__all__ = ["describe_component", "layer_table", "table"]


def describe_component(ref: Any) -> str:
    """``"relu"``, ``"leaky_relu(alpha=0.1)"``: a component reference on one line."""
    if isinstance(ref, str):
        return ref
    if isinstance(ref, dict):
        text = ", ".join(f"{k}={v!r}" for k, v in ref.items() if k != "name")
        return f"{ref.get('name', '?')}({text})" if text else str(ref.get("name", "?"))
    name: Any = getattr(ref, "name", None)
    params: Any = getattr(ref, "params", None) or {}
    if isinstance(name, str):
        return describe_component({"name": name, **params})
    return repr(ref)


def _settings(layer: LayerSpec) -> str:
    parts = []
    for key, value in layer.params.items():
        if key == "units":
            continue
        text = describe_component(value) if isinstance(value, str | dict) else repr(value)
        parts.append(text if key == "activation" else f"{key}={text}")
    return ", ".join(parts)


def table(rows: Sequence[Sequence[str]], indent: str = "  ", right: Sequence[int] = ()) -> str:
    """Rows as aligned columns (``right``: the columns to right-align)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                 for i, cell in enumerate(row)]
        lines.append((indent + "  ".join(cells)).rstrip())
    return "\n".join(lines)


def layer_table(blueprint: Blueprint) -> str:
    """Every layer with its type, settings, output size and parameter count."""
    spec = blueprint.spec
    rows = [["layer", "type", "settings", "output", "parameters"],
            ["input", "", "", str(spec.input), ""]]
    for i, layer in enumerate(spec.layers):
        shapes = blueprint.shapes[i]
        params = f"{blueprint.layer_parameters(i):,}"
        if shapes:
            params += "  " + " ".join(f"{k}{tuple(v)}" for k, v in shapes.items())
        rows.append([str(i), layer.type, _settings(layer), str(blueprint.sizes[i + 1]), params])
    total = (f"{blueprint.n_parameters:,} parameters, {spec.dtype}, "
             f"{len(spec.layers)} layer{'s' if len(spec.layers) != 1 else ''}")
    return table(rows, right=(3,)) + f"\n  {total}"
