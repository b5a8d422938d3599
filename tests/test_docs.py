"""The docs keep up with the code: every hook, built-in and testing helper is documented,
the plugin docs quote real code and real messages, and their snippets are valid.

As datasette does: a hook or component added without docs fails here.
"""

from __future__ import annotations

import ast
import inspect
import re
import tomllib
import types
import warnings
from pathlib import Path

import pytest

import npframe
import npframe.testing
from npframe import hookspecs
from npframe.plugins import ENV_VAR, iter_entry_points
from npframe.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PLUGIN_DOCS = DOCS / "plugins"
EXAMPLE = ROOT / "plugins" / "npframe-example-plugin"


def read(path: Path) -> str:
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing"
    return path.read_text(encoding="utf-8")


def headings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#")]


def fenced_blocks(text: str) -> list[tuple[str, str, str]]:
    """``(marker comment or "", language, code)`` for every fenced block."""
    pattern = re.compile(r"(?:<!--\s*(.*?)\s*-->\n)?```(\w*)\n(.*?)^```", re.S | re.M)
    return [(m.group(1) or "", m.group(2), m.group(3)) for m in pattern.finditer(text)]


def normalize_versions(text: str) -> str:
    return re.sub(r"npframe \d+\.\d+\.\d+\S*", "npframe <version>", text)


# -- hooks ------------------------------------------------------------------------------
def hookspec_functions() -> list[types.FunctionType]:
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    return [obj for _, obj in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(obj, marker)]


def test_there_are_hookspecs_to_document():
    assert [f.__name__ for f in hookspec_functions()] == ["npframe_register"]


@pytest.mark.parametrize("hook", hookspec_functions(), ids=lambda f: f.__name__)
def test_every_hookspec_has_a_heading_with_its_exact_signature(hook):
    params = ", ".join(inspect.signature(hook).parameters)
    signature = f"`{hook.__name__}({params})`"
    found = [h for h in headings(read(PLUGIN_DOCS / "hooks.md")) if signature in h]
    assert found, f"docs/plugins/hooks.md needs a heading containing {signature}"


# -- built-in components ----------------------------------------------------------------
KIND_WORDS = {"activation": "activation", "loss": "loss", "initializer": "initiali",
              "optimizer": "optimi", "metric": "metric", "schedule": "schedul",
              "dataset": "dataset", "layer": "layer"}


def sections(text: str) -> list[tuple[str, str]]:
    """``(heading, body)`` for each top-level (``#`` or ``##``) section."""
    out, heading, body = [], "", []
    for line in text.splitlines():
        if re.match(r"#{1,2} ", line):
            out.append((heading, "\n".join(body)))
            heading, body = line, []
        else:
            body.append(line)
    out.append((heading, "\n".join(body)))
    return out


def documented_keys(text: str) -> set[str]:
    """Keys in backticks in a heading or a table row's first cell(s)."""
    keys = set()
    for line in text.splitlines():
        if line.startswith("#"):
            keys.update(re.findall(r"`([^`]+)`", line))
        elif line.startswith("|"):
            first_cell = line.split("|")[1]
            keys.update(re.findall(r"`([^`]+)`", first_cell))
    return keys


def test_every_builtin_component_is_documented_in_components_md():
    text = read(DOCS / "components.md")
    missing = []
    for entry in Registry().entries():
        if entry.owner != "npframe":
            continue
        word = KIND_WORDS[entry.kind]
        own = [f"{h}\n{b}" for h, b in sections(text) if word in h.lower()]
        where = "\n".join(own) if own else text
        if entry.name not in documented_keys(where):
            missing.append(f"{entry.kind} {entry.name!r}")
    assert not missing, (
        "docs/components.md does not document these built-ins (the key in backticks in a "
        f"heading or in the first cell of a table row of the kind's section): {', '.join(missing)}"
    )


# -- npframe.testing --------------------------------------------------------------------
@pytest.mark.parametrize("name", npframe.testing.__all__)
def test_every_testing_helper_has_a_reference_heading(name):
    obj = getattr(npframe.testing, name)
    is_fixture = name.startswith("npframe_")
    wanted = f"`{name}(" if callable(obj) and not is_fixture else f"`{name}`"
    found = [h for h in headings(read(PLUGIN_DOCS / "testing-plugins.md")) if wanted in h]
    assert found, f"docs/plugins/testing-plugins.md needs a heading containing {wanted}"


@pytest.mark.parametrize("name", [n for n in npframe.testing.__all__ if n.startswith("check_")
                                  or n == "components_of"])
def test_reference_headings_list_every_parameter(name):
    params = list(inspect.signature(getattr(npframe.testing, name)).parameters)
    heading = next(h for h in headings(read(PLUGIN_DOCS / "testing-plugins.md"))
                   if f"`{name}(" in h)
    for param in params:
        assert re.search(rf"\b{param}\b", heading), f"{heading!r} does not mention {param!r}"


# -- the plugin docs: real code, real messages, valid snippets --------------------------
def test_writing_plugins_quotes_the_example_plugin_as_it_is():
    text = read(PLUGIN_DOCS / "writing-plugins.md")
    quoted = [(marker[len("from:"):].strip(), code) for marker, _, code in fenced_blocks(text)
              if marker.startswith("from:")]
    assert len(quoted) >= 4
    for rel, code in quoted:
        source_lines = {line.strip() for line in read(EXAMPLE / rel).splitlines()}
        for line in code.splitlines():
            stripped = line.split("  #")[0].strip()
            if not stripped or stripped in ("...", "") or stripped.startswith(("#", '"""')):
                continue
            assert stripped in source_lines, f"{rel}: the docs quote {stripped!r}, not in the file"


def test_the_documented_pyproject_matches_the_example():
    text = read(PLUGIN_DOCS / "writing-plugins.md")
    block = next(code for marker, _, code in fenced_blocks(text)
                 if marker == "from: pyproject.toml")
    documented = tomllib.loads(block)
    actual = tomllib.loads(read(EXAMPLE / "pyproject.toml"))
    assert documented["project"]["entry-points"] == actual["project"]["entry-points"] == {
        "npframe": {"example": "npframe_example"}}
    assert documented["project"]["dependencies"] == actual["project"]["dependencies"]
    assert documented["build-system"] == actual["build-system"]


@pytest.mark.parametrize("page", sorted(p.name for p in PLUGIN_DOCS.glob("*.md")))
def test_code_blocks_in_the_plugin_docs_are_valid(page):
    for _, lang, code in fenced_blocks(read(PLUGIN_DOCS / page)):
        if lang == "python":
            ast.parse(code)
        elif lang == "toml":
            tomllib.loads(code)


def test_the_example_readme_lists_every_component():
    readme = read(EXAMPLE / "README.md")
    src = str(EXAMPLE / "src")
    import sys

    sys.path.insert(0, src)
    try:
        import npframe_example
    finally:
        sys.path.remove(src)
    for _, name, _ in npframe_example.COMPONENTS:
        assert f"`{name}`" in documented_keys(readme) or f"| `{name}` |" in readme, name


class _Dist:
    def __init__(self, name: str, version: str) -> None:
        self.metadata, self.name, self.version = {"Name": name}, name, version


class _EntryPoint:
    group = "npframe"

    def __init__(self, name: str, dist: str, version: str, obj: object) -> None:
        self.name, self.value, self.dist, self.obj = name, f"npframe_{name}", _Dist(
            dist, version), obj

    def load(self) -> object:
        if isinstance(self.obj, BaseException):
            raise self.obj
        return self.obj


class _Fancy(npframe.Activation):
    def forward(self, z):
        return z.copy()

    def backward(self, z, a, grad_a):
        return grad_a.copy()


def _clashing_plugin() -> types.ModuleType:
    module = types.ModuleType("npframe_fancy")

    @npframe.hookimpl
    def npframe_register(registry):
        registry.register("activation", "fancy", _Fancy)
        registry.register("activation", "fancy", _Fancy)

    module.npframe_register = npframe_register
    return module


def test_diagnostics_quotes_the_real_messages(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    eps = [
        *[ep for ep in iter_entry_points() if ep.dist.name == "npframe"],
        _EntryPoint("fancy", "npframe-fancy", "0.3", _clashing_plugin()),
        _EntryPoint("broken", "npframe-broken", "1.2",
                    ModuleNotFoundError("No module named 'scipy'")),
        _EntryPoint("nohook", "npframe-nohook", "0.1", types.ModuleType("npframe_nohook")),
    ]
    registry = Registry(entry_points=eps)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = registry.names("activation")
    assert "fancy" not in names, "a failing plugin registers none of its components"
    messages = [str(w.message) for w in caught if w.category is npframe.PluginWarning]
    assert len(messages) == 3
    try:
        Registry().register("activation", "relu", _Fancy)
    except npframe.RegistryError as exc:
        messages.append(f"RegistryError: {exc}".replace(f"module {__name__}", "module __main__"))
    docs = normalize_versions(read(PLUGIN_DOCS / "diagnostics.md"))
    for message in messages:
        assert normalize_versions(message) in docs, f"diagnostics.md should quote: {message}"


def test_npframe_plugins_is_documented():
    text = read(PLUGIN_DOCS / "diagnostics.md")
    assert any(ENV_VAR in h for h in headings(text))
    assert ENV_VAR in (npframe.plugins.__doc__ or "")


def test_the_plugin_pages_link_to_each_other_and_exist():
    for page in ("writing-plugins.md", "hooks.md", "testing-plugins.md", "diagnostics.md"):
        text = read(PLUGIN_DOCS / page)
        for target in re.findall(r"\]\(([^)#]+\.md)\)", text):
            assert (PLUGIN_DOCS / target).resolve().is_file(), f"{page} links to {target}"


def test_the_example_readme_has_no_relative_links():
    """Authors copy the example's folder elsewhere, where ``../../docs/...`` leads nowhere."""
    readme = read(EXAMPLE / "README.md")
    relative = [t for t in re.findall(r"\]\(([^)]+)\)", readme) if "://" not in t]
    assert not relative, f"plugins/npframe-example-plugin/README.md links {relative}"
