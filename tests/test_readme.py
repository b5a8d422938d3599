"""The README's tour and docs/cli.md work as written, command by command.

Every ``$ npframe ...`` line of their console blocks runs, in order, through
``npframe.cli.main`` (the console script's entry), in a temporary folder holding a copy
of ``docs/examples`` (so the paths are those of the repository
root, and the outputs land in the temporary folder). A command shown with an
``npframe: error: ...`` line must fail with exactly that line and exit code 2; the
others must succeed, and print the first line shown. The Python tour runs as written.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

import npframe
from npframe import cli

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")

#: Files the error examples of docs/cli.md point at (they show what a mistake prints).
MISTAKES = {
    "typo.toml": 'input = 2\n\n[[layers]]\nunits = 3\nactivation = "ReLU"\n',
    "bad.csv": "rooms,area,age,price\n2,57.4,10,184.5\n3,x,12,201.0\n",
}


def _block(pattern: str) -> str:
    match = re.search(pattern, README, re.S)
    assert match, f"README no longer has the block matching {pattern!r}"
    return match.group(1)


def console_commands(text: str) -> list[tuple[str, list[str]]]:
    """``(command, output lines shown)`` for every ``$ npframe`` line of console blocks."""
    commands: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                command = line[2:].split("  #")[0].strip()
                commands.append((command, []))
            elif commands:
                commands[-1][1].append(line)
    return commands


@pytest.fixture
def tour_folder(tmp_path) -> Path:
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    for name, text in MISTAKES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def run_tour(commands: list[tuple[str, list[str]]], cwd: Path,
             monkeypatch: pytest.MonkeyPatch) -> int:
    """Each command through ``cli.main`` (what the console script calls; test_cli.py and
    test_tables_cli.py run the real script in subprocesses), from ``cwd``."""
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("NPFRAME_PLUGINS", raising=False)
    version = f"npframe {npframe.__version__}"
    ran = 0
    for command, shown in commands:
        argv = shlex.split(command)
        assert argv[0] == "npframe", command
        if "tutorial.toml" in command:  # the tutorial's 200 epochs take seconds: 2 do here
            argv += ["--epochs", "2"]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv[1:])
        shown = [line.replace("npframe 0.1.0", version) for line in shown]
        if shown and shown[0].startswith("npframe: error:"):
            assert code == 2, (command, err.getvalue())
            assert err.getvalue().splitlines()[0] == shown[0], command
        else:
            assert code == 0, (command, err.getvalue())
            if shown:
                assert out.getvalue().splitlines()[0] == shown[0], command
        ran += 1
    return ran


def test_two_commands_lead_the_readme():
    commands = re.findall(r"```bash\n(.*?)\n```", README, re.S)[:2]
    assert commands == [
        "python -m pip install . && npframe train docs/examples/tutorial.toml",
        'python -m pip install -e ".[test]" && python -m pytest',
    ]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command in commands:
        assert command in ci, f".ci/run must run the README's command {command!r}"


def test_the_readme_tour_runs_command_by_command(tour_folder, monkeypatch):
    commands = console_commands(README)
    assert len(commands) >= 6
    assert run_tour(commands, tour_folder, monkeypatch) == len(commands)
    for name in ("model.npz", "fruit.npz", "loss.png", "predictions.csv"):
        assert (tour_folder / name).is_file(), name
    lines = (tour_folder / "predictions.csv").read_text().splitlines()
    assert lines[0] == "price" and len(lines) == 6  # houses_new.csv: 5 houses


def test_the_cli_reference_runs_command_by_command(tour_folder, monkeypatch):
    commands = console_commands(CLI_DOC)
    assert len(commands) >= 15
    assert sum(1 for _, shown in commands if shown and shown[0].startswith("npframe: error:")
               ) >= 4
    assert run_tour(commands, tour_folder, monkeypatch) == len(commands)


def test_the_tour_spec_is_the_shipped_one():
    shown = _block(r"```toml\n# docs/examples/houses.toml[^\n]*\n(.*?)```")
    shipped = (ROOT / "docs" / "examples" / "houses.toml").read_text(encoding="utf-8")
    body = shipped[shipped.index("input = "):]
    assert shown == body


def test_python_tour_runs(tour_folder, monkeypatch):
    monkeypatch.chdir(tour_folder)
    code = _block(r"### Python\n\n```python\n(.*?)```")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    net, clf = namespace["net"], namespace["clf"]
    assert Path("model.npz").is_file()
    assert (net.feature_names, net.target_names) == (["rooms", "area", "age"], ["price"])
    assert net.predict([[3, 85.0, 20]]).shape == (1, 1)
    assert np.isfinite(namespace["history"].val_loss).all()
    assert clf.classes.tolist() == ["apple", "lemon", "orange"]
    assert clf.predict_labels([[150.0, 7.0, 7.5]]).tolist() == ["apple"]


def test_plugin_example_passes_the_kit_and_registers():
    from npframe.plugins import Staging
    from npframe.registry import Registry
    from npframe.testing import check_activation

    code = _block(r"# npframe_swish/plugin.py\n(.*?)```")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    check_activation(namespace["Swish"](beta=1.5))
    registry = Registry(load_plugins=False)
    staging = Staging("npframe-swish 1.0", registry.get, registry.names)
    namespace["npframe_register"](staging)
    assert [(r.kind, r.name) for r in staging.staged.values()] == [("activation", "my_swish")]
    for r in staging.staged.values():
        registry.register(r.kind, r.name, r.factory, owner="npframe-swish")
    assert registry.names("activation") == ["my_swish"]
