"""``npframe new-plugin``: names checked, files written, and the result works unchanged.

The in-process tests cover naming, the destination folder and the command line. The
rest generates one plugin of every kind, pip-installs all six offline into a temporary
folder (``--target``, as test_example_plugin.py does) and, in subprocesses whose
``PYTHONPATH`` is that folder: runs each project's own tests under its own pytest
configuration, lists the components with ``npframe plugins``, and trains, saves and
loads a network whose spec uses all six. Ruff checks the generated code, including
names at the edges of what is allowed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from npframe import Activation
from npframe.cli import main
from npframe.registry import Registry
from npframe.scaffold import KINDS, ScaffoldError, new_plugin, plugin_names
from npframe.scaffold import render as render_module

PREFIX = "npframe-scaffold-"


@pytest.fixture(scope="module")
def builtins_registry() -> Registry:
    """The installed plugins (in this environment: npframe's built-ins)."""
    return Registry()


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


# -- names --------------------------------------------------------------------------------
@pytest.mark.parametrize(("typed", "expected"), [
    ("npframe-mish", ("npframe-mish", "npframe_mish", "mish", "Mish")),
    ("NPFrame_Soft.Clip", ("npframe-soft-clip", "npframe_soft_clip", "soft_clip", "SoftClip")),
    ("npframe--x1", ("npframe-x1", "npframe_x1", "x1", "X1")),
    ("mish", ("mish", "mish", "mish", "Mish")),
])
def test_names_derive_from_the_distribution_name(typed, expected):
    names = plugin_names(typed)
    assert (names.distribution, names.package, names.component, names.cls) == expected
    assert names.follows_convention is expected[0].startswith("npframe-")


@pytest.mark.parametrize(("typed", "message"), [
    ("", r"needs a distribution name, such as npframe-mish \(got ''\)"),
    ("npframe mish!", r"not a valid distribution name: .*for example npframe-mish$"),
    ("-mish", r"starting and ending with a letter or digit, for example npframe-mish$"),
    ("npframe", r"would install the package 'npframe', which is npframe itself; name your "
                r"plugin npframe-<thing>"),
    ("NPFrame.Builtins", r"the package 'npframe_builtins', which is npframe's built-in"),
    ("3d-act", r"import package '3d_act', which is not a Python identifier"),
    ("class", r"import package 'class', which is a Python keyword .*npframe-class$"),
    ("json", r"would shadow Python's standard-library module json; for example npframe-json$"),
    ("npframe-3d", r"the component name '3d' \(the part after 'npframe-'\) must start with a "
                   "letter"),
    ("npframe-" + "x" * 33, r"is 33 characters; keep it to 32"),
])
def test_unusable_names_are_refused_with_what_would_work(typed, message):
    with pytest.raises(ScaffoldError, match=message):
        plugin_names(typed)


def test_a_name_already_importable_here_is_refused(tmp_path, builtins_registry):
    with pytest.raises(ScaffoldError, match=r"a package named 'numpy' is already importable "
                                            r"in this environment \(.*numpy"):
        new_plugin("numpy", "activation", tmp_path / "x", registry=builtins_registry)
    assert not (tmp_path / "x").exists()


def test_a_builtin_component_name_is_refused_for_its_kind_only(tmp_path, builtins_registry):
    with pytest.raises(ScaffoldError, match=r"activation 'relu' is one of npframe's built-ins "
                                            r".*such as npframe-my-relu$"):
        new_plugin("npframe-relu", "activation", tmp_path / "a", registry=builtins_registry)
    made = new_plugin("npframe-relu", "loss", tmp_path / "b", registry=builtins_registry)
    assert made.names.component == "relu" and made.notes == ()


class _Other(Activation):
    def forward(self, z):
        return z.copy()

    def backward(self, z, a, grad_a):
        return grad_a.copy()


def test_notes_advise_the_convention_and_flag_names_other_plugins_use(tmp_path):
    registry = Registry(load_plugins=False)
    registry.register("activation", "mish", _Other, owner="npframe-other")
    made = new_plugin("mish", "activation", tmp_path / "p", registry=registry)
    first, second = made.notes
    assert first.startswith("plugin distributions are named npframe-<thing>")
    assert "consider npframe-mish" in first
    assert "also registered by npframe-other" in second
    # Its own earlier installation is not another plugin.
    registry.register("activation", "swish2", _Other, owner="npframe_swish2")
    assert new_plugin("npframe-swish2", "activation", tmp_path / "q",
                      registry=registry).notes == ()


# -- the destination ----------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(KINDS))
def test_exactly_the_project_files_are_written(tmp_path, builtins_registry, kind):
    made = new_plugin("npframe-mish", kind, tmp_path / "p", registry=builtins_registry)
    module = KINDS[kind].module
    expected = {"pyproject.toml", "README.md", "src/npframe_mish/__init__.py",
                f"src/npframe_mish/{module}.py", "tests/test_mish.py"}
    assert set(made.files) == expected
    assert files_under(tmp_path) == {f"p/{rel}" for rel in expected}  # no staging leftovers
    for rel in expected:
        text = (made.path / rel).read_text(encoding="utf-8")
        assert not re.search(r"\{\{\w+\}\}", text), f"{rel}: a placeholder was not filled"
    links = re.findall(r"\]\(([^)]+)\)", (made.path / "README.md").read_text(encoding="utf-8"))
    assert not links, f"the README links {links}, which do not exist in a new project"


def test_the_default_folder_is_the_distribution_name(tmp_path, monkeypatch, builtins_registry):
    monkeypatch.chdir(tmp_path)
    made = new_plugin("NPFrame_Mish", registry=builtins_registry)
    assert made.path == tmp_path / "npframe-mish"
    assert made.kind == "activation"
    assert "src/npframe_mish/activations.py" in made.files


def test_an_empty_folder_is_filled(tmp_path, builtins_registry):
    (tmp_path / "p").mkdir()
    made = new_plugin("npframe-mish", "metric", tmp_path / "p", registry=builtins_registry)
    assert (made.path / "src" / "npframe_mish" / "metrics.py").is_file()


def test_a_folder_that_is_not_empty_is_left_untouched(tmp_path, builtins_registry):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ScaffoldError, match=r"p: the folder exists and is not empty; "
                                            r"new-plugin never overwrites files"):
        new_plugin("npframe-mish", "activation", folder, registry=builtins_registry)
    assert files_under(tmp_path) == {"p/notes.txt"}


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.write_text("x", encoding="utf-8"), r"exists and is not a folder"),
    (lambda p: None, r"folder '.*missing' does not exist \(create it first\)"),
])
def test_a_destination_that_cannot_be_a_project_folder_is_refused(tmp_path, builtins_registry,
                                                                  make, message):
    target = tmp_path / "p" if "not a folder" in message else tmp_path / "missing" / "p"
    make(target)
    with pytest.raises(ScaffoldError, match=message):
        new_plugin("npframe-mish", "activation", target, registry=builtins_registry)


def test_a_failure_while_writing_leaves_nothing_behind(tmp_path, monkeypatch, builtins_registry):
    calls = []
    original = Path.write_text

    def flaky(self, *args, **kwargs):
        calls.append(self)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", flaky)
    with pytest.raises(OSError, match="No space left"):
        new_plugin("npframe-mish", "activation", tmp_path / "p", registry=builtins_registry)
    assert len(calls) == 3
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_kind_is_refused(tmp_path, builtins_registry):
    with pytest.raises(ScaffoldError, match=r"unknown kind 'dataset'; new-plugin makes one of: "
                                            r"activation, loss, initializer, optimizer"):
        new_plugin("npframe-mish", "dataset", tmp_path / "p", registry=builtins_registry)


def test_every_template_is_used(tmp_path, monkeypatch, builtins_registry):
    read = set()
    original = render_module._template

    def recording(path: str) -> str:
        read.add(path)
        return original(path)

    monkeypatch.setattr(render_module, "_template", recording)
    for kind in KINDS:
        new_plugin("npframe-mish", kind, tmp_path / kind, registry=builtins_registry)
    root = resources.files("npframe.scaffold") / "templates"
    shipped = {p.relative_to(Path(str(root))).as_posix()
               for p in Path(str(root)).rglob("*.tmpl")}
    assert read == shipped


# -- the command line ---------------------------------------------------------------------
def test_the_command_writes_the_project_and_says_what_next(tmp_path, capsys):
    assert main(["new-plugin", "npframe-adamax", "--kind", "optimizer",
                 "--dir", str(tmp_path / "my plugin")]) == 0
    out, err = capsys.readouterr()
    first, *rest = out.splitlines()
    assert first == (f"created '{tmp_path / 'my plugin'}' (npframe-adamax) with the optimizer "
                     "'adamax' (npframe_adamax.optimizers.Adamax: a working Adamax to make your "
                     "own)")
    assert "  src/npframe_adamax/optimizers.py" in rest
    assert rest[-4:] == ["next:", f"  cd '{tmp_path / 'my plugin'}'",
                         '  pip install -e ".[test]"', "  pytest"]
    assert err == ""


def test_the_command_prints_notes_on_stderr(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["new-plugin", "mish"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("created mish with the activation 'mish' (mish.activations.Mish")
    assert err.startswith("npframe: note: plugin distributions are named npframe-<thing>")


@pytest.mark.parametrize(("argv", "message"), [
    (["new-plugin", "npframe"], "npframe: error: plugin name 'npframe' would install the "
                                "package 'npframe'"),
    (["new-plugin", "npframe-relu"], "npframe: error: plugin name 'npframe-relu': activation "
                                     "'relu' is one of npframe's built-ins"),
])
def test_bad_input_is_one_error_line_and_exit_2(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(message) and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_exit_2(tmp_path, capsys):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "keep.txt").write_text("", encoding="utf-8")
    assert main(["new-plugin", "npframe-mish", "--dir", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert err == f"npframe: error: {tmp_path / 'p'}: the folder exists and is not empty; " \
                  "new-plugin never overwrites files: choose another --dir, or move the " \
                  "folder away first\n"


def test_an_unknown_kind_is_a_usage_error(capsys):
    assert main(["new-plugin", "npframe-mish", "--kind", "layer"]) == 2
    assert "argument --kind: invalid choice: 'layer'" in capsys.readouterr().err


# -- the docs show what the command does --------------------------------------------------
DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_scaffold_section_of_writing_plugins_works_as_written(tmp_path, monkeypatch):
    text = (DOCS / "plugins" / "writing-plugins.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- scaffold -->\n```console\n(.*?)```", text, re.S).group(1)
    command = block.splitlines()[0].removeprefix("$ npframe ").split()
    monkeypatch.chdir(tmp_path)
    assert main(command) == 0
    section = text[text.index("## Start from the scaffold"):text.index("## The example plugin")]
    for path in files_under(tmp_path / "npframe-mish"):
        assert Path(path).name in section, path
    for kind, info in KINDS.items():
        row = rf"^\| `{kind}`[^|]*\| {re.escape(info.example)}"
        assert re.search(row, section, re.M), f"the table of kinds lacks {kind}: {info.example}"


def test_the_cli_docs_show_the_real_output(tmp_path, monkeypatch, capsys):
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    example = re.search(r"```console\n\$ (npframe new-plugin [^\n]*)\n(.*?)```", text, re.S)
    monkeypatch.chdir(tmp_path)
    assert main(example.group(1).split()[1:]) == 0
    assert capsys.readouterr().out == example.group(2)


# -- ruff: the generated code is lint-clean, also for names at the edges -----------------
EDGE_NAMES = ["npframe-mish", "npframe-a", "npframe-x1",
              "npframe-abcdefghijabcdefghijabcdefghijab",  # the longest component name
              "abcdefghijabcdefghijabcdefghijab",  # ... without the prefix: a long package
              "npframe-a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p"]  # an upper-case class name


def test_the_generated_code_passes_ruff(tmp_path, builtins_registry):
    ruff = shutil.which("ruff") or pytest.skip("ruff is not installed (pip install ruff)")
    for i, name in enumerate(EDGE_NAMES):
        for kind in KINDS:
            new_plugin(name, kind, tmp_path / f"{i}-{kind}", registry=builtins_registry)
    result = subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise", "."],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    # The generated pyproject.toml is the configuration ruff used: I (isort) is selected.
    assert '"I"' in (tmp_path / "0-activation" / "pyproject.toml").read_text(encoding="utf-8")


# -- installed for real: one plugin of each kind, used from subprocesses ------------------
def environment(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NPFRAME_PLUGINS", "PYTHONPATH", "PYTEST_ADDOPTS",
                        "PYTEST_DISABLE_PLUGIN_AUTOLOAD")}
    env.update(PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1")
    return env


def run(site: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          env=environment(site), timeout=300, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory, builtins_registry) -> Iterator[tuple[Path, dict[str, Path]]]:
    """``(site, {kind: project folder})``: six generated plugins, pip-installed into ``site``."""
    base = tmp_path_factory.mktemp("scaffold")
    projects = {kind: new_plugin(PREFIX + kind, kind, base / kind,
                                 registry=builtins_registry).path for kind in KINDS}
    site = base / "site"
    cmd = ["-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
           "--no-cache-dir", "--disable-pip-version-check", "--quiet", "--target", str(site),
           *map(str, projects.values())]
    result = run(site, cmd, base)
    assert result.returncode == 0, f"pip install failed:\n{result.stdout}\n{result.stderr}"
    yield site, projects


def component(kind: str) -> str:
    return (PREFIX + kind).removeprefix("npframe-").replace("-", "_")


@pytest.fixture(scope="module")
def own_test_runs(installed) -> Iterator[dict[str, subprocess.CompletedProcess]]:
    """Each project's own pytest run, two at a time, in its folder and configuration."""
    site, projects = installed
    running: dict[str, subprocess.Popen] = {}
    done: dict[str, subprocess.CompletedProcess] = {}
    try:
        pending = list(projects)
        while pending or running:
            while pending and len(running) < 2:
                kind = pending.pop(0)
                running[kind] = subprocess.Popen(
                    [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v"],
                    cwd=projects[kind], env=environment(site), text=True,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            kind = next(iter(running))
            out, err = running[kind].communicate(timeout=300)
            done[kind] = subprocess.CompletedProcess([], running.pop(kind).returncode, out, err)
        yield done
    finally:
        for proc in running.values():
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_generated_project_passes_its_own_tests(own_test_runs, kind):
    result = own_test_runs[kind]
    assert result.returncode == 0, result.stdout + result.stderr
    name = component(kind)
    assert f"test_component_passes_the_kit[{kind}:{name}] PASSED" in result.stdout
    assert "test_every_component_is_registered_by_this_distribution PASSED" in result.stdout
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed in ", summary) and "failed" not in summary, summary
    assert "skipped" not in summary and "warning" not in summary, summary


def test_npframe_plugins_lists_every_component_under_its_distribution(installed):
    site, _ = installed
    listed = run(site, ["-m", "npframe.cli", "plugins"], site)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    for kind in KINDS:
        row = next(line for line in lines if line.split()[:1] == [component(kind)])
        assert f"{PREFIX}{kind} 0.1.0" in row, row
        assert f"npframe_scaffold_{kind}.{KINDS[kind].module}." in row, row
        dist_row = next(line for line in lines if line.strip().startswith(PREFIX + kind + " "))
        assert re.search(rf"0\.1\.0\s+loaded\s+1 components?\s+{component(kind)} = "
                         rf"npframe_scaffold_{kind}$", dist_row), dist_row
    assert "Failed plugins (0)" in listed.stdout


ALL_SIX = """
input = 2
seed = 0
standardize = true
loss = {{ name = "{loss}", delta = 1.0 }}
initializer = {{ name = "{initializer}", scale = 2.0, mode = "fan_avg" }}
optimizer = {{ name = "{optimizer}", learning_rate = 0.01 }}
schedule = {{ name = "{schedule}", period = 4 }}
metrics = [{{ name = "{metric}", q = 0.9 }}, "mae"]

[[layers]]
units = 8
activation = {{ name = "{activation}", b = 1.0 }}

[[layers]]
units = 3
activation = "linear"

[train]
dataset = "tutorial"
epochs = 4
batch_size = 256
"""

LOAD_AND_RESUME = """
    import json, sys
    import numpy as np
    import npframe

    data = npframe.registry.create("dataset", "tutorial")
    spec = npframe.NetworkSpec.from_path(sys.argv[1])
    net = npframe.Network.from_spec(spec)
    net.fit(data.X, data.y, epochs=4, batch_size=256)
    loaded = npframe.load(sys.argv[2])
    same = all(np.array_equal(a, b) for a, b in zip(net.get_weights(), loaded.get_weights()))
    net.fit(data.X, data.y, epochs=2, batch_size=256)
    loaded.fit(data.X, data.y, epochs=2, batch_size=256)
    resumed = all(np.array_equal(a, b) for a, b in zip(net.get_weights(), loaded.get_weights()))
    print(json.dumps({"same": same, "resumed": resumed, "spec": loaded.to_spec(),
                      "state": sorted(loaded.optimizer.state_dict())}))
"""


def test_a_spec_using_all_six_trains_saves_loads_and_resumes(installed, tmp_path):
    site, _ = installed
    names = {kind: component(kind) for kind in KINDS}
    spec = tmp_path / "six.toml"
    spec.write_text(ALL_SIX.format(**names), encoding="utf-8")
    trained = run(site, ["-m", "npframe.cli", "train", str(spec), "--out",
                         str(tmp_path / "six.npz"), "--quiet"], tmp_path)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "4 epochs" in trained.stdout and f"{names['metric']} " in trained.stdout
    used = run(site, ["-c", textwrap.dedent(LOAD_AND_RESUME), str(spec),
                      str(tmp_path / "six.npz")], tmp_path)
    assert used.returncode == 0, used.stdout + used.stderr
    out: dict[str, Any] = json.loads(used.stdout.strip().splitlines()[-1])
    assert out["same"], "npframe train and the same spec in Python gave different weights"
    assert out["resumed"], "training after save/load did not continue identically"
    refs = out["spec"]
    assert refs["layers"][0]["activation"]["name"] == names["activation"]
    for kind in ("loss", "initializer", "optimizer", "schedule"):
        assert refs[kind]["name"] == names[kind], kind
    assert out["state"] == ["m.0", "m.1", "m.2", "m.3", "t", "u.0", "u.1", "u.2", "u.3"]


def test_the_readme_spec_trains_as_written(installed, tmp_path):
    site, projects = installed
    readme = (projects["activation"] / "README.md").read_text(encoding="utf-8")
    spec = re.search(r"```toml\n(.*?)```", readme, re.S).group(1)
    assert f'activation = {{ name = "{component("activation")}", b = 1.0 }}' in spec
    (tmp_path / "net.toml").write_text(spec, encoding="utf-8")
    trained = run(site, ["-m", "npframe.cli", "train", "net.toml", "--epochs", "2", "--quiet"],
                  tmp_path)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert (tmp_path / "net.npz").is_file()


@pytest.mark.slow
def test_npframes_wheel_ships_every_template(tmp_path):
    """The templates are package data: a wheel built from the checkout must hold them."""
    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
           "--no-index", "--no-cache-dir", "--disable-pip-version-check", "--quiet",
           "--wheel-dir", str(tmp_path), str(root)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = tmp_path.glob("npframe-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {n for n in archive.namelist() if n.startswith("npframe/scaffold/templates/")}
    templates = Path(str(resources.files("npframe.scaffold") / "templates"))
    expected = {f"npframe/scaffold/templates/{p.relative_to(templates).as_posix()}"
                for p in templates.rglob("*.tmpl")}
    assert shipped == expected
