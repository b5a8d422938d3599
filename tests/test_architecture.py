"""The house rules, checked: declared layers (import-linter), no cycles, public state only."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "npframe"


@pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter not installed")
def test_the_declared_layering_holds():
    """pyproject.toml's [tool.importlinter] contracts: layers only point down, and the
    built-in plugin imports only npframe's public names."""
    result = subprocess.run(["lint-imports", "--config", str(ROOT / "pyproject.toml")],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_module_has_a_floor():
    """A module left out of the layers contract is checked by nothing: every module and
    subpackage of npframe must stand on one floor."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (layers,) = [c["layers"] for c in config["tool"]["importlinter"]["contracts"]
                 if c["type"] == "layers"]
    on_a_floor = {name.strip(" ()") for floor in layers for name in floor.split("|")}
    top_level = {f"npframe.{p.stem}" for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    top_level |= {f"npframe.{p.name}" for p in PACKAGE.iterdir()
                  if (p / "__init__.py").is_file()}
    assert not top_level - on_a_floor, f"not on any floor: {sorted(top_level - on_a_floor)}"


def _modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "templates" not in p.parts]


def test_no_module_reads_another_modules_private_names():
    """``other._name`` where ``other`` is an imported npframe module or a Network is
    reaching into someone else's state; each object hands out what others need."""
    offenders = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.asname or alias.name.split(".")[-1]
                    for node in ast.walk(tree) if isinstance(node, ast.ImportFrom | ast.Import)
                    for alias in node.names
                    if (getattr(node, "module", "") or alias.name).startswith("npframe")}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__") and isinstance(node.value, ast.Name)
                    and node.value.id in imported | {"net", "network"}):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: "
                                 f"{node.value.id}.{node.attr}")
    assert not offenders, "\n".join(offenders)


def test_no_function_level_import_of_an_already_loaded_package_module():
    """Importing ``npframe`` loads these modules anyway; importing them again inside a
    function defers nothing and only hides the dependency graph."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, npframe; print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True).stdout.split()
    loaded = {m for m in loaded if m.startswith("npframe")}
    offenders = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom) and node.module in loaded:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: "
                                     f"from {node.module} import ...")
    assert not offenders, "\n".join(offenders)
