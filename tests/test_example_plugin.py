"""plugins/npframe-example-plugin, pip-installed for real and used end to end.

The plugin is built and installed once per module with pip into a temporary folder
(``--target``; no network, nothing installed into the environment running the
tests) and exercised in subprocesses whose ``PYTHONPATH`` is that folder: discovered,
listed with its distribution, trained with from a spec, saved and loaded, and its
own test suite run under pytest with npframe's pytest plugin. The kit also runs over
its components in this process, from the source tree.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest

from npframe.plugins import iter_entry_points
from npframe.registry import Registry
from npframe.testing import check_registered, components_of

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "plugins" / "npframe-example-plugin"
DIST = "npframe-example"
VERSION = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]["version"]
EXPECTED = {
    ("activation", "snake"), ("loss", "log_cosh"), ("initializer", "orthogonal"),
    ("optimizer", "lion"), ("metric", "max_error"), ("schedule", "linear_warmup"),
    ("dataset", "sine_wave"), ("layer", "scale"), ("layer", "gaussian_noise"),
}
_IGNORE = shutil.ignore_patterns("__pycache__", ".pytest_cache", "build", "dist", "*.egg-info")


def copy_plugin(dest: Path) -> Path:
    """A clean copy of the example's source tree (building in place would leave files)."""
    shutil.copytree(EXAMPLE, dest, ignore=_IGNORE)
    return dest


def pip_install(source: Path, target: Path) -> None:
    """``pip install`` offline into ``target``: the build uses the installed hatchling."""
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
           "--no-index", "--no-cache-dir", "--disable-pip-version-check", "--quiet",
           "--target", str(target), str(source)]
    env = {**os.environ, "PIP_ROOT_USER_ACTION": "ignore"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False,
                            env=env)
    assert result.returncode == 0, f"pip install failed:\n{result.stdout}\n{result.stderr}"


def environment(site: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NPFRAME_PLUGINS", "PYTHONPATH", "PYTEST_ADDOPTS")}
    env.update(PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def run_python(site: Path, code: str, *args: str, **extra: str) -> Any:
    """Run ``code`` in a fresh interpreter that sees ``site``; return the JSON it prints."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                            capture_output=True,
                            text=True, env=environment(site, **extra), timeout=300, check=False)
    assert result.returncode == 0, f"subprocess failed:\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_pytest(site: Path, cwd: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                          env=environment(site, **extra), timeout=300, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """``(site, source)``: the example installed into ``site``, from a copy at ``source``."""
    base = tmp_path_factory.mktemp("example-plugin")
    source = copy_plugin(base / "npframe-example-plugin")
    site = base / "site"
    pip_install(source, site)
    return site, source


# -- installed: discovered, listed, trained with, saved and loaded ------------------------
def test_installation_has_the_entry_point_and_nothing_else(installed):
    site, _ = installed
    dist_info = site / f"npframe_example-{VERSION}.dist-info"
    assert (dist_info / "entry_points.txt").read_text().split() == [
        "[npframe]", "example", "=", "npframe_example"]
    assert (site / "npframe_example" / "__init__.py").is_file()
    assert not (site / "npframe").exists(), "the dependency on npframe must not be installed"


def test_components_are_discovered_and_listed_with_their_distribution(installed):
    site, _ = installed
    out = run_python(site, """
        import json
        from npframe import diagnostics
        report = diagnostics.report()
        print(json.dumps({"data": report.to_dict(), "text": diagnostics.format_report(report)}))
    """)
    data, text = out["data"], out["text"]
    found = {(kind, c["name"]): c for kind, items in data["components"].items() for c in items}
    for key in EXPECTED:
        assert found[key]["distribution"] == DIST, key
        assert found[key]["version"] == VERSION
        assert found[key]["factory"].startswith("npframe_example.")
    assert found[("activation", "relu")]["distribution"] == "npframe"
    dists = {d["name"]: d for d in data["distributions"]}
    assert dists[DIST] == {"name": DIST, "version": VERSION, "status": "loaded",
                           "entry_points": ["example = npframe_example"],
                           "components": len(EXPECTED), "errors": []}
    assert data["failures"] == []
    row = rf"{DIST} {VERSION}\s+loaded\s+{len(EXPECTED)} components\s+example = npframe_example"
    assert re.search(row, text), text
    snake_line = next(line for line in text.splitlines() if line.strip().startswith("snake "))
    assert f"{DIST} {VERSION}" in snake_line and "npframe_example.activations.Snake" in snake_line


TRAIN_SAVE_LOAD = """
    import json, sys
    import numpy as np
    import npframe

    data = npframe.registry.create("dataset", {"name": "sine_wave", "n_samples": 200})
    spec = {
        "input": 1, "seed": 3, "loss": "log_cosh",
        "initializer": {"name": "orthogonal", "gain": 1.0},
        "optimizer": {"name": "lion", "learning_rate": 0.003, "weight_decay": 0.001},
        "schedule": {"name": "linear_warmup", "warmup_epochs": 5},
        "metrics": ["max_error"],
        "layers": [{"type": "scale", "init": 0.8},
                   {"units": 16, "activation": {"name": "snake", "alpha": 1.5}},
                   {"type": "gaussian_noise", "stddev": 0.02},
                   {"units": 1, "activation": "linear"}],
    }
    net = npframe.Network.from_spec(spec)
    history = net.fit(data.X, data.y, epochs=60, batch_size=32)
    path = sys.argv[1] if len(sys.argv) > 1 else "model.npz"
    net.save(path)
    loaded = npframe.load(path)
    same_predictions = bool(np.array_equal(net.predict(data.X_test), loaded.predict(data.X_test)))
    net.fit(data.X, data.y, epochs=5, batch_size=32)
    loaded.fit(data.X, data.y, epochs=5, batch_size=32)
    resumed_identically = all(np.array_equal(a, b)
                              for a, b in zip(net.get_weights(), loaded.get_weights()))
    print(json.dumps({
        "loss": history.loss, "max_error": history.metrics["max_error"],
        "same_predictions": same_predictions, "resumed_identically": resumed_identically,
        "spec_round_trip": loaded.to_spec() == net.to_spec(),
        "layer_types": [layer.get("type", "dense") for layer in loaded.to_spec()["layers"]],
        "scale": loaded.get_weights()[0].tolist(),
        "optimizer_state": sorted(loaded.optimizer.state_dict()),
        "epoch": loaded.epoch,
        "test_loss": loaded.evaluate(data.X_test, data.y_test),
    }))
"""


def test_a_spec_using_the_plugin_trains_saves_and_loads(installed, tmp_path):
    site, _ = installed
    code = TRAIN_SAVE_LOAD.replace('sys.argv[1] if len(sys.argv) > 1 else "model.npz"',
                                   repr(str(tmp_path / "model.npz")))
    out = run_python(site, code)
    assert out["loss"][-1] < 0.25 * out["loss"][0], out["loss"]
    assert out["max_error"][-1] < out["max_error"][0]
    assert out["same_predictions"]
    assert out["resumed_identically"], "Lion's state_dict did not survive save/load"
    assert out["spec_round_trip"]
    assert out["optimizer_state"] == ["m.0", "m.1", "m.2", "m.3", "m.4"]
    assert out["layer_types"] == ["scale", "dense", "gaussian_noise", "dense"]
    assert len(out["scale"]) == 1 and out["scale"] != [0.8], "scale is trained"
    assert out["epoch"] == 65
    assert out["test_loss"] < out["loss"][0]


# -- the plugin's own tests, with the kit through the pytest11 entry point ----------------
def test_the_plugins_own_tests_pass_with_the_kit_loaded_by_p_npframe(installed):
    site, source = installed
    # Autoloading off: only `-p npframe` (the pytest11 entry point's name) provides the
    # fixtures and the kit, so this proves the entry point resolves.
    result = run_pytest(site, source, "-p", "npframe", "-q", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary


def test_the_plugins_own_tests_ignore_a_broken_plugin_beside_it(installed, tmp_path):
    """npframe_distribution in the example's pyproject.toml: a broken plugin installed in
    the same environment does not reach its tests, under filterwarnings = error."""
    site, source = installed
    broken = tmp_path / "broken-site"
    (broken / "npframe_broken").mkdir(parents=True)
    (broken / "npframe_broken" / "__init__.py").write_text(
        "raise ImportError('broken on purpose')\n", encoding="utf-8")
    info = broken / "npframe_broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: npframe-broken\n"
                                   "Version: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[npframe]\nbroken = npframe_broken\n",
                                           encoding="utf-8")
    both = f"{site}{os.pathsep}{broken}"
    listed = run_python(Path(both), """
        import json, warnings
        from npframe.registry import Registry
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Registry().load_plugins()
        print(json.dumps([str(w.message) for w in caught]))
    """)
    assert any("npframe-broken 1.0) failed to load" in w for w in listed), listed
    result = run_pytest(Path(both), source, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed" not in result.stdout.strip().splitlines()[-1]


# -- NPFRAME_PLUGINS ----------------------------------------------------------------------
CASES = {"": False, "npframe-example": True, "npframe-other, NPFRAME_example": True,
         "npframe-other": False}
LIST_OWNERS = """
    import json, os, sys, warnings
    warnings.simplefilter("error")
    from npframe import diagnostics
    from npframe.registry import Registry
    out = {}
    for value in json.loads(sys.argv[1]):
        os.environ["NPFRAME_PLUGINS"] = value   # read when a registry loads its plugins
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = diagnostics.report(Registry())
        out[value] = {"owners": sorted({e.owner for e in report.components}),
                      "status": {d.name: d.status for d in report.distributions},
                      "warnings": [str(w.message) for w in caught]}
    print(json.dumps(out))
"""


def test_npframe_plugins_restricts_which_distributions_load(installed):
    site, _ = installed
    out = run_python(site, LIST_OWNERS, json.dumps(list(CASES)))
    for value, loaded in CASES.items():
        assert ("npframe-example" in out[value]["owners"]) is loaded, value
        assert "npframe" in out[value]["owners"], "the built-ins always load"
        assert out[value]["status"][DIST] == ("loaded" if loaded else "skipped"), value
        assert out[value]["status"]["npframe"] == "loaded"
        typo = "npframe-other" in value  # names no installed distribution: a warning says so
        assert [("'npframe-other'" in w and "matches no installed" in w)
                for w in out[value]["warnings"]] == ([True] if typo else []), value


# -- the kit over the example's components, in this process ------------------------------
class _Dist:
    def __init__(self, name: str, version: str) -> None:
        self.metadata = {"Name": name}
        self.name = name
        self.version = version


class _SourceEntryPoint:
    """The example's entry point, loading the package from the source tree."""

    name, value, group = "example", "npframe_example", "npframe"
    dist = _Dist(DIST, VERSION)

    def load(self) -> Any:
        src = str(EXAMPLE / "src")
        sys.path.insert(0, src)
        try:
            import npframe_example
        finally:
            sys.path.remove(src)
        return npframe_example


_source_registry = Registry(entry_points=[
    *[ep for ep in iter_entry_points() if ep.dist.name == "npframe"], _SourceEntryPoint()])


@pytest.mark.parametrize(("kind", "name", "params"),
                         components_of(DIST, registry=_source_registry))
def test_example_component_passes_the_kit(kind, name, params):
    check_registered(kind, name, params=params, registry=_source_registry)


def test_the_source_registry_has_exactly_the_expected_components():
    owned = {(e.kind, e.name) for e in _source_registry.entries() if e.owner == DIST}
    assert owned == EXPECTED
    assert _source_registry.failures() == []


# -- the docs' walkthrough: copy, rename, add a component, test, install, use -------------
DOC = ROOT / "docs" / "plugins" / "writing-plugins.md"


def doc_blocks(marker: str) -> dict[str, str]:
    """``{path: code}`` of the blocks writing-plugins.md marks ``<!-- marker: path -->``."""
    pattern = re.compile(rf"<!--\s*{marker}:\s*(\S+)\s*-->\n```\w*\n(.*?)^```", re.S | re.M)
    return dict(pattern.findall(DOC.read_text(encoding="utf-8")))


def doc_python_using(fragment: str) -> str:
    blocks = re.findall(r"```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.S | re.M)
    return next(code for code in blocks if fragment in code)


def follow_the_docs(work: Path) -> Path:
    """Steps 1-3 of writing-plugins.md, done by a script instead of a shell."""
    plugin = copy_plugin(work / "npframe-mish")                                   # 1. copy
    (plugin / "src" / "npframe_example").rename(plugin / "src" / "npframe_mish")  # 2. rename
    for path in plugin.rglob("*"):
        if path.is_file() and re.search("npframe.example", path.read_text(encoding="utf-8")):
            text = path.read_text(encoding="utf-8")
            text = text.replace("npframe_example", "npframe_mish")
            path.write_text(text.replace("npframe-example", "npframe-mish"), encoding="utf-8")
    pyproject = plugin / "pyproject.toml"
    pyproject.write_text(re.sub(r'(?m)^example = "npframe_mish"', 'mish = "npframe_mish"',
                                pyproject.read_text(encoding="utf-8")), encoding="utf-8")
    for rel, code in doc_blocks("file").items():                                 # 3. add
        target = work / rel if rel.endswith(".toml") else plugin / rel
        target.write_text(code, encoding="utf-8")
    (rel, register), = doc_blocks("register").items()
    init = plugin / rel
    text = init.read_text(encoding="utf-8")
    imports = [line for line in register.splitlines() if line.startswith("from ")]
    rows = [line for line in register.splitlines() if re.match(r'\s*\("\w+", "\w+", \w+\),', line)]
    assert imports and rows, "the docs' registration block changed shape"
    last_import = list(re.finditer(r"(?m)^from npframe_mish\.\w+ import \w+$", text))[-1]
    text = text[:last_import.end()] + "\n" + "\n".join(imports) + text[last_import.end():]
    text = text.replace("COMPONENTS = [\n", "COMPONENTS = [\n" + "\n".join(rows) + "\n", 1)
    init.write_text(text, encoding="utf-8")
    return plugin


def test_the_writing_plugins_walkthrough_works_as_written(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    plugin = follow_the_docs(work)
    pyproject = tomllib.loads((plugin / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "npframe-mish"
    assert pyproject["project"]["entry-points"] == {"npframe": {"mish": "npframe_mish"}}

    site = tmp_path / "site"
    pip_install(plugin, site)                                                    # 4. test
    result = run_pytest(site, plugin, "-p", "npframe", "-v", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_component_passes_the_kit[activation:mish] PASSED" in result.stdout
    assert "test_mish.py::test_mish_is_registered_by_this_distribution PASSED" in result.stdout

    cli = [sys.executable, "-m", "npframe.cli"]                                  # 5. use
    env = environment(site)
    listed = subprocess.run([*cli, "plugins", "--kind", "activation"], capture_output=True,
                            text=True, env=env, cwd=work, timeout=300, check=False)
    assert listed.returncode == 0, listed.stderr
    mish = next(line for line in listed.stdout.splitlines() if line.split()[:1] == ["mish"])
    assert "npframe-mish 0.1.0" in mish
    trained = subprocess.run([*cli, "train", "mish-net.toml", "--out", "mish-net.npz"],
                             capture_output=True, text=True, env=env, cwd=work, timeout=300,
                             check=False)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert (work / "mish-net.npz").is_file()
    snippet = doc_python_using('Network.from_spec("mish-net.toml")')
    used = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True,
                          env=env, cwd=work, timeout=300, check=False)
    assert used.returncode == 0, used.stdout + used.stderr
    assert float(used.stdout.strip().splitlines()[-1]) < 0.05  # test MSE of sin(x), var 0.5
