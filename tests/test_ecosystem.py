"""Many plugins installed together, for real: clashing names, strict mode, exclusions.

Five small distributions are built from source trees and ``pip install``-ed (offline,
``--no-build-isolation``) once per module, each into its own ``--target`` folder:

* ``npframe-alpha`` 1.0 and 1.1 and ``npframe-beta`` 1.0 all register an activation
  ``mish`` (alpha's scales by ``gain``, beta's negates), so the bare name clashes;
* ``npframe-broken`` 0.1 registers ``gauss`` and then fails (a missing dependency);
* ``npframe-hooked`` 0.1 implements the hook as a pluggy wrapper plus ``tryfirst`` and
  ``trylast`` implementations.

Each check runs a script in a fresh interpreter whose ``PYTHONPATH`` lists the folders
of the distributions "installed" for it: leaving a folder out is uninstalling it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import numpy as np
import pytest

import npframe

MISSING_MODULE = "scipy_not_installed_here"

ALPHA = '''
"""npframe-alpha {version}: a mish that scales."""
from attrs import field, frozen, validators

import npframe


@frozen
class Mish(npframe.Activation):
    """Alpha's mish: ``gain * z``."""

    gain: float = field(default=2.0, converter=float, validator=validators.gt(0.0))

    def forward(self, z):
        return self.gain * z

    def backward(self, z, a, grad_a):
        return self.gain * grad_a


@npframe.hookimpl
def npframe_register(registry):
    registry.register("activation", "mish", Mish)
'''

BETA = '''
"""npframe-beta: a mish that negates."""
import npframe


class Mish(npframe.Activation):
    """Beta's mish: ``-z``."""

    def forward(self, z):
        return -z

    def backward(self, z, a, grad_a):
        return -grad_a


@npframe.hookimpl
def npframe_register(registry):
    registry.register("activation", "mish", Mish)
'''

BROKEN = f'''
"""npframe-broken: registers gauss, then needs a package that is not installed."""
import numpy as np

import npframe


class Gauss(npframe.Activation):
    def forward(self, z):
        return np.exp(-z * z)

    def backward(self, z, a, grad_a):
        return -2.0 * z * a * grad_a


@npframe.hookimpl
def npframe_register(registry):
    registry.register("activation", "gauss", Gauss)
    import {MISSING_MODULE}  # noqa: F401
'''

HOOKED = '''
"""npframe-hooked: one wrapper and two ordered implementations of npframe_register."""
import npframe

CALLS = []


class Double(npframe.Activation):
    def forward(self, z):
        return 2.0 * z

    def backward(self, z, a, grad_a):
        return 2.0 * grad_a


@npframe.hookimpl(specname="npframe_register", trylast=True)
def register_last(registry):
    CALLS.append("last")
    registry.register("activation", "hooked_last", Double)


@npframe.hookimpl(wrapper=True)
def npframe_register(registry):
    CALLS.append("wrapper: before")
    result = yield
    CALLS.append("wrapper: after")
    registry.register("activation", "hooked_wrapped", Double)
    return result


@npframe.hookimpl(specname="npframe_register", tryfirst=True)
def register_first(registry):
    CALLS.append("first")
    registry.register("activation", "hooked_first", Double)
'''

DISTRIBUTIONS = {  # folder -> (distribution, version, entry point, module source)
    "alpha-1.0": ("npframe-alpha", "1.0", "alpha", ALPHA.replace("{version}", "1.0")),
    "alpha-1.1": ("npframe-alpha", "1.1", "alpha", ALPHA.replace("{version}", "1.1")),
    "beta": ("npframe-beta", "1.0", "beta", BETA),
    "broken": ("npframe-broken", "0.1", "broken", BROKEN),
    "hooked": ("npframe-hooked", "0.1", "hooked", HOOKED),
}
BROKEN_FAILURE = (
    "npframe plugin 'broken' (npframe-broken 0.1) failed to load: ModuleNotFoundError: "
    f"No module named '{MISSING_MODULE}'"
)


def _source_tree(root: Path, dist: str, version: str, entry_point: str, code: str) -> Path:
    package = dist.replace("-", "_")
    (root / "src" / package).mkdir(parents=True)
    (root / "src" / package / "__init__.py").write_text(textwrap.dedent(code))
    (root / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "{dist}"
        version = "{version}"

        [project.entry-points.npframe]
        {entry_point} = "{package}"

        [tool.hatch.build.targets.wheel]
        packages = ["src/{package}"]
        """))
    return root


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> dict[str, Path]:
    """Every distribution installed into its own folder (the installs run side by side)."""
    base = tmp_path_factory.mktemp("ecosystem")
    env = {**os.environ, "PIP_ROOT_USER_ACTION": "ignore"}
    jobs = {}
    for folder, (dist, version, entry_point, code) in DISTRIBUTIONS.items():
        source = _source_tree(base / "src" / folder, dist, version, entry_point, code)
        cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
               "--no-index", "--no-cache-dir", "--disable-pip-version-check", "--quiet",
               "--target", str(base / folder), str(source)]
        jobs[folder] = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, env=env)
    try:
        for folder, job in jobs.items():
            output, _ = job.communicate(timeout=300)
            assert job.returncode == 0, f"pip install of {folder} failed:\n{output}"
    finally:
        for job in jobs.values():
            if job.poll() is None:
                job.kill()
                job.wait()
    return {folder: base / folder for folder in DISTRIBUTIONS}


def _env(sites: dict[str, Path], installed: tuple[str, ...], extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NPFRAME_") and k not in ("PYTHONPATH", "PYTHONWARNINGS",
                                                         "PYTEST_ADDOPTS")}
    env.update(PYTHONPATH=os.pathsep.join(str(sites[name]) for name in installed),
               PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


@pytest.fixture
def python(sites, tmp_path):
    """``python(code, *installed, **env)``: run ``code`` as the script ``user.py`` with
    those distributions installed; return what its last line prints as JSON."""
    def run(code: str, *installed: str, **extra: str) -> Any:
        script = tmp_path / "user.py"
        script.write_text(PRELUDE + textwrap.dedent(code))
        result = subprocess.run([sys.executable, str(script)], capture_output=True,
                                text=True, timeout=300, cwd=tmp_path, check=False,
                                env=_env(sites, installed, extra))
        assert result.returncode == 0, f"user.py failed:\n{result.stdout}\n{result.stderr}"
        return json.loads(result.stdout.strip().splitlines()[-1])

    return run


@pytest.fixture
def npframe_cli(sites, tmp_path):
    """``npframe_cli(args, *installed, **env)``: ``python -m npframe.cli`` with them."""
    def run(args: list[str], *installed: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "npframe.cli", *args],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path,
                              check=False, env=_env(sites, installed, extra))

    return run


PRELUDE = '''\
import json, linecache, os, sys, warnings
import numpy as np
import npframe


def spec(activation, **extra):
    return {"input": 2, "seed": 0, "layers": [{"units": 3, "activation": activation}],
            **extra}


def outcome(call):
    """What ``call()`` did: its value, or its error; with the warnings it emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value, error = call(), None
        except Exception as exc:
            value, error = None, f"{type(exc).__name__}: {exc}"
    return {"value": value, "error": error,
            "warnings": [{"category": w.category.__name__, "message": str(w.message),
                          "file": os.path.basename(w.filename),
                          "line": linecache.getline(w.filename, w.lineno).strip()}
                         for w in caught]}


X = np.linspace(-1.0, 1.0, 8).reshape(4, 2)
'''


# -- the same bare name from two distributions ---------------------------------------------
def test_the_bare_name_is_ambiguous_and_both_qualified_names_work(python):
    out = python("""
        def predict(name):
            return npframe.Network.from_spec(spec(name)).predict(X).tolist()

        print(json.dumps({
            "bare": outcome(lambda: predict("mish")),
            "alpha": outcome(lambda: predict("npframe-alpha:mish")),
            "beta": outcome(lambda: predict("npframe-beta:mish")),
            "spelled": outcome(lambda: predict("NPFrame_Alpha:mish")),
            "names": [n for n in npframe.registry.default_registry().qualified_names(
                "activation") if n.endswith(":mish")],
        }))
    """, "alpha-1.0", "beta")
    assert out["bare"]["error"] == (
        "SpecError: layers[0].activation: activation 'mish' is ambiguous: 2 installed "
        "distributions register it; name one of 'npframe-alpha:mish', 'npframe-beta:mish'")
    alpha, beta = np.array(out["alpha"]["value"]), np.array(out["beta"]["value"])
    assert out["alpha"]["error"] is None and out["beta"]["error"] is None
    assert not np.array_equal(alpha, beta), "the two qualified names built the same component"
    assert out["spelled"]["value"] == out["alpha"]["value"], "names compare as pip's do"
    assert out["names"] == ["npframe-alpha:mish", "npframe-beta:mish"]
    assert all(not o["warnings"] for o in (out["bare"], out["alpha"], out["beta"]))


def test_npframe_plugins_lists_both_under_their_qualified_names(npframe_cli):
    result = npframe_cli(["plugins", "--kind", "activation"], "alpha-1.0", "beta")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^  npframe-alpha:mish +npframe-alpha 1\.0 +npframe_alpha\.Mish$",
                     result.stdout, re.M), result.stdout
    assert re.search(r"^  npframe-beta:mish +npframe-beta 1\.0 +npframe_beta\.Mish$",
                     result.stdout, re.M), result.stdout


SAVE = """
    net = npframe.Network.from_spec(spec(NAME))
    net.save("model.npz")
    from npframe import io
    with io.open_model("model.npz") as model:
        components = model.header["components"]
    print(json.dumps({"prediction": net.predict(X).tolist(),
                      "components": [c for c in components if c["kind"] == "activation"]}))
"""
LOAD = """
    print(json.dumps(outcome(lambda: npframe.load("model.npz").predict(X).tolist())))
"""


def test_a_model_keeps_its_component_when_the_name_becomes_ambiguous(python):
    saved = python(SAVE.replace("NAME", repr("mish")), "alpha-1.0")  # not ambiguous yet
    assert saved["components"] == [{
        "kind": "activation", "path": "layers[0].activation", "name": "mish",
        "qualified": "npframe-alpha:mish", "distribution": "npframe-alpha", "version": "1.0"}]
    both = python(LOAD, "alpha-1.0", "beta")  # beta installed since: 'mish' is ambiguous
    assert both == {"value": saved["prediction"], "error": None, "warnings": []}
    alone = python(LOAD, "alpha-1.0")
    assert alone == both


def test_a_model_naming_one_loads_after_the_other_is_uninstalled(python):
    saved = python(SAVE.replace("NAME", repr("npframe-beta:mish")), "alpha-1.0", "beta")
    assert saved["components"][0]["qualified"] == "npframe-beta:mish"
    assert python(LOAD, "beta")["value"] == saved["prediction"]  # alpha uninstalled
    assert python(LOAD, "beta", "alpha-1.0")["value"] == saved["prediction"]


def test_a_model_whose_distribution_is_missing_names_it(python):
    python(SAVE.replace("NAME", repr("npframe-alpha:mish")), "alpha-1.0", "beta")
    out = python(LOAD, "beta")  # alpha uninstalled; beta's mish must not stand in for it
    assert out["value"] is None
    assert out["error"].startswith("UnknownComponentError: layers[0].activation: ")
    assert out["error"].endswith(
        "The model model.npz needs activation 'npframe-alpha:mish': it comes from "
        "npframe-alpha 1.0, which is not installed: pip install npframe-alpha")


def test_a_model_saved_with_another_version_warns_at_the_users_line(python):
    saved = python(SAVE.replace("NAME", repr("mish")), "alpha-1.0")
    out = python(LOAD, "alpha-1.1")
    assert out["value"] == saved["prediction"]
    assert out["warnings"] == [{
        "category": "PluginWarning", "file": "user.py", "line": LOAD.strip(),
        "message": "model.npz: activation 'mish' was saved with npframe-alpha 1.0; "
                   "npframe-alpha 1.1 is installed, which may compute differently"}]


# -- a broken plugin: warnings, strict mode, exclusions -------------------------------------
USE_A_PLUGIN = """
    print(json.dumps({
        "first": outcome(lambda: npframe.Network.from_spec(spec("npframe-alpha:mish")).sizes),
        "again": outcome(lambda: npframe.Network.from_spec(spec("npframe-alpha:mish")).sizes),
    }))
"""
FIRST_LINE = USE_A_PLUGIN.strip().splitlines()[1].strip()  # where warnings must point


def test_a_broken_plugin_warns_at_the_users_line_and_the_rest_works(python):
    out = python(USE_A_PLUGIN, "alpha-1.0", "broken")
    assert out["first"] == {"value": [2, 3], "error": None, "warnings": [
        {"category": "PluginWarning", "message": BROKEN_FAILURE, "file": "user.py",
         "line": FIRST_LINE}]}
    assert out["again"] == {"value": [2, 3], "error": None, "warnings": []}, "warned once"


def test_a_spec_of_builtins_does_not_even_load_the_broken_plugin(python):
    out = python("""
        print(json.dumps(outcome(lambda: npframe.Network.from_spec(spec("relu")).sizes)))
    """, "broken", NPFRAME_STRICT_PLUGINS="1")
    assert out == {"value": [2, 3], "error": None, "warnings": []}


def test_strict_mode_makes_the_failure_an_error_at_first_use(python):
    out = python(USE_A_PLUGIN, "alpha-1.0", "broken", NPFRAME_STRICT_PLUGINS="1")
    assert out["first"]["value"] is None and out["first"]["warnings"] == []
    assert out["first"]["error"] == (
        "PluginLoadError: 1 npframe plugin(s) failed to load and NPFRAME_STRICT_PLUGINS is "
        f"set:\n  {BROKEN_FAILURE}\n(`npframe plugins -v` shows the tracebacks)")


@pytest.mark.parametrize("value", ["0", "", "false"])
def test_strict_mode_off_spelled_as_people_do(python, value):
    out = python(USE_A_PLUGIN, "alpha-1.0", "broken", NPFRAME_STRICT_PLUGINS=value)
    assert out["first"]["error"] is None
    assert [w["category"] for w in out["first"]["warnings"]] == ["PluginWarning"]


def test_excluding_the_broken_plugin_silences_it_even_in_strict_mode(python):
    for strict in ("0", "1"):
        out = python(USE_A_PLUGIN, "alpha-1.0", "broken", NPFRAME_PLUGINS="-npframe-broken",
                     NPFRAME_STRICT_PLUGINS=strict)
        assert out["first"] == {"value": [2, 3], "error": None, "warnings": []}, strict


def test_an_exclusion_with_a_typo_warns_at_the_users_line(python):
    out = python(USE_A_PLUGIN, "alpha-1.0", "broken", NPFRAME_PLUGINS="-npframe-brokn")
    assert out["first"]["error"] is None
    warned = {w["message"]: w for w in out["first"]["warnings"]}
    typo = next(m for m in warned if m.startswith("NPFRAME_PLUGINS names 'npframe-brokn'"))
    assert "matches no installed plugin distribution" in typo
    assert "npframe-alpha" in typo and "npframe-broken" in typo  # what is installed
    assert BROKEN_FAILURE in warned, "the typo excluded nothing"
    assert {(w["file"], w["line"]) for w in warned.values()} == {("user.py", FIRST_LINE)}


def test_an_unknown_name_a_failed_plugin_offered_says_so(python):
    out = python("""
        print(json.dumps(outcome(lambda: npframe.Network.from_spec(spec("gauss")))))
    """, "broken")
    assert out["error"].startswith(
        "UnknownComponentError: layers[0].activation: unknown activation 'gauss'")
    assert out["error"].endswith(
        f". A plugin that failed to load offered activation 'gauss': {BROKEN_FAILURE}")


def test_npframe_plugins_lists_the_failure_and_exits_0(npframe_cli):
    result = npframe_cli(["plugins"], "alpha-1.0", "broken")
    assert (result.returncode, result.stderr) == (0, "")
    assert re.search(r"^  npframe-broken 0\.1 +failed +0 components +broken = npframe_broken$",
                     result.stdout, re.M), result.stdout
    assert f"Failed plugins (1)\n  {BROKEN_FAILURE}\n" in result.stdout
    assert "(npframe plugins -v shows each failure's traceback)" in result.stdout
    assert "Traceback" not in result.stdout


def test_npframe_plugins_v_shows_the_traceback(npframe_cli, sites):
    result = npframe_cli(["plugins", "-v"], "broken")
    assert result.returncode == 0, result.stderr
    trace = result.stdout.split(f"  {BROKEN_FAILURE}\n", 1)[1]
    assert trace.startswith("    Traceback (most recent call last):\n")
    hook_file = sites["broken"] / "npframe_broken" / "__init__.py"
    assert re.search(rf'File "{re.escape(str(hook_file))}", line \d+, in npframe_register\n'
                     rf" +import {MISSING_MODULE}", trace), trace
    assert f"    ModuleNotFoundError: No module named '{MISSING_MODULE}'" in trace


@pytest.mark.parametrize(("args", "env"), [
    (["plugins", "--strict"], {}),
    (["plugins", "--strict", "--json"], {}),
    (["plugins"], {"NPFRAME_STRICT_PLUGINS": "1"}),
])
def test_npframe_plugins_in_strict_mode_reports_then_exits_2(npframe_cli, args, env):
    result = npframe_cli(args, "alpha-1.0", "broken", **env)
    assert result.returncode == 2
    if "--json" in args:
        assert json.loads(result.stdout)["failures"][0]["message"] == BROKEN_FAILURE
    else:
        assert f"Failed plugins (1)\n  {BROKEN_FAILURE}\n" in result.stdout
    why = "--strict" if "--strict" in args else "NPFRAME_STRICT_PLUGINS is set"
    assert result.stderr == f"npframe: error: {why}: 1 plugin failed to load: {BROKEN_FAILURE}\n"


def test_npframe_plugins_strict_passes_when_everything_loads(npframe_cli):
    result = npframe_cli(["plugins", "--strict"], "alpha-1.0", "beta", "hooked")
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert "Failed plugins (0)" in result.stdout
    excluded = npframe_cli(["plugins", "--strict"], "broken", NPFRAME_PLUGINS="-npframe-broken")
    assert (excluded.returncode, excluded.stderr) == (0, "")
    assert re.search(r"^  npframe-broken 0\.1 +skipped ", excluded.stdout, re.M)


# -- pluggy's semantics: wrapper, tryfirst, trylast ----------------------------------------
def test_a_wrapper_and_ordered_hookimpls_register_their_components(python):
    out = python("""
        registry = npframe.registry.default_registry()
        entries = [e for e in registry.entries("activation") if e.owner == "npframe-hooked"]
        import npframe_hooked
        print(json.dumps({"names": [e.name for e in entries], "calls": npframe_hooked.CALLS,
                          "failures": [str(f) for f in registry.failures()],
                          "sizes": npframe.Network.from_spec(spec("hooked_wrapped")).sizes}))
    """, "hooked")
    assert out["failures"] == []
    assert out["names"] == ["hooked_first", "hooked_last", "hooked_wrapped"]
    assert out["calls"] == ["wrapper: before", "first", "last", "wrapper: after"]
    assert out["sizes"] == [2, 3]


# -- the schema sees the installed plugins ---------------------------------------------------
def test_the_schema_offers_qualified_names_and_plugin_parameters(npframe_cli, tmp_path):
    result = npframe_cli(["schema", "--out", "spec.schema.json"], "alpha-1.0", "beta", "broken")
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"npframe: warning: {BROKEN_FAILURE}\n"
    schema = json.loads((tmp_path / "spec.schema.json").read_text())
    names = schema["$defs"]["activation.name"]["enum"]
    assert {"npframe-alpha:mish", "npframe-beta:mish", "relu", "npframe:relu"} <= set(names)
    assert "mish" not in names, "an ambiguous bare name is not offered"
    assert "gauss" not in names, "a failed plugin registered nothing"
    validator = jsonschema.Draft202012Validator(schema)

    def error(activation):
        found = jsonschema.exceptions.best_match(validator.iter_errors(
            {"input": 2, "layers": [{"units": 3, "activation": activation}]}))
        return found and found.message

    assert error("npframe-alpha:mish") is None
    assert error({"name": "npframe-alpha:mish", "gain": 0.5}) is None
    assert error({"name": "npframe-alpha:mish", "gain": 0}) == (
        "0 is less than or equal to the minimum of 0.0")
    assert error({"name": "npframe-beta:mish", "gain": 0.5}) == (
        "Additional properties are not allowed ('gain' was unexpected)")
    assert error("mish").startswith("'mish' is not one of ")


# -- what docs/plugins/diagnostics.md says about -W and pytest -----------------------------
FIRST_USE = """
import npframe
npframe.Network.from_spec({"input": 2, "layers": [{"units": 3, "activation": ACTIVATION}]})
print("built")
""".replace("ACTIVATION", repr("npframe-alpha:mish"))


@pytest.mark.parametrize(("option", "fatal"), [
    ("error:npframe plugin:UserWarning", True),   # what the docs recommend
    ("error::npframe.PluginWarning", False),      # what CPython cannot do at start-up
])
def test_the_w_option_the_docs_recommend_and_the_one_cpython_ignores(sites, tmp_path, option,
                                                                     fatal):
    script = tmp_path / "first_use.py"
    script.write_text(FIRST_USE)
    result = subprocess.run([sys.executable, "-W", option, str(script)], capture_output=True,
                            text=True, timeout=300, cwd=tmp_path, check=False,
                            env=_env(sites, ("alpha-1.0", "broken"), {}))
    if fatal:
        assert result.returncode == 1 and "built" not in result.stdout
        assert result.stderr.rstrip().endswith(f"npframe.errors.PluginWarning: {BROKEN_FAILURE}")
    else:
        assert (result.returncode, result.stdout) == (0, "built\n"), result.stderr
        assert "Invalid -W option ignored: invalid module name: 'npframe'" in result.stderr
        assert f"first_use.py:3: PluginWarning: {BROKEN_FAILURE}" in result.stderr


PYTEST_PROJECT = """
import npframe

def test_builtins_only():
    npframe.Network.from_spec({"input": 2, "layers": [{"units": 3, "activation": "relu"}]})

def test_a_plugin_component():
    layer = {"units": 3, "activation": "npframe-alpha:mish"}
    npframe.Network.from_spec({"input": 2, "layers": [layer]})
"""


def test_pytest_filterwarnings_error_on_plugin_warnings_works(sites, tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nfilterwarnings = ["error::npframe.PluginWarning"]\n')
    (tmp_path / "test_project.py").write_text(PYTEST_PROJECT)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rf"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False,
        env=_env(sites, ("alpha-1.0", "broken"), {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 1 passed" in result.stdout
    assert "FAILED test_project.py::test_a_plugin_component - " in result.stdout
    assert re.search(rf"^E +npframe\.errors\.PluginWarning: {re.escape(BROKEN_FAILURE)}$",
                     result.stdout, re.M), result.stdout


# -- in this process: the warning names the test's own line ----------------------------------
class _FailingEntryPoint:
    name, value, group = "failing", "npframe_failing", "npframe"

    class dist:  # what importlib.metadata's entry points carry
        metadata: ClassVar[dict[str, str]] = {"Name": "npframe-failing"}
        name, version = "npframe-failing", "0.2"

    def load(self) -> Any:
        raise ImportError("the plugin's own import failed")


def test_the_warning_points_at_the_calling_line_in_this_process(monkeypatch):
    from npframe.plugins import iter_entry_points
    from npframe.registry import Registry

    monkeypatch.delenv("NPFRAME_PLUGINS", raising=False)
    monkeypatch.delenv("NPFRAME_STRICT_PLUGINS", raising=False)
    builtins = [ep for ep in iter_entry_points() if ep.dist.name == "npframe"]
    registry = Registry(entry_points=[*builtins, _FailingEntryPoint()])
    with pytest.warns(npframe.PluginWarning, match="npframe-failing 0.2") as record:
        line = sys._getframe().f_lineno + 1
        registry.names("activation")
    assert [(w.filename, w.lineno) for w in record] == [(__file__, line)]


def test_strict_mode_on_the_command_line_is_one_error_line(npframe_cli, tmp_path):
    (tmp_path / "net.json").write_text(json.dumps(
        {"input": 2, "layers": [{"units": 3, "activation": "npframe-alpha:mish"}]}))
    relaxed = npframe_cli(["check", "net.json"], "alpha-1.0", "broken")
    assert relaxed.returncode == 0, relaxed.stderr
    assert relaxed.stderr == f"npframe: warning: {BROKEN_FAILURE}\n"
    strict = npframe_cli(["check", "net.json"], "alpha-1.0", "broken", NPFRAME_STRICT_PLUGINS="1")
    assert (strict.returncode, strict.stdout) == (2, "")
    assert strict.stderr == (
        "npframe: error: 1 npframe plugin(s) failed to load and "
        f"NPFRAME_STRICT_PLUGINS is set: {BROKEN_FAILURE} (`npframe plugins -v` shows the "
        "tracebacks)\n")
