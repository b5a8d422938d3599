"""The README's tour works as written (with fewer epochs, to stay fast)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def _block(pattern: str) -> str:
    match = re.search(pattern, README, re.S)
    assert match, f"README no longer has the block matching {pattern!r}"
    return match.group(1)


def test_two_commands_lead_the_readme():
    commands = re.findall(r"```bash\n(.*?)\n```", README, re.S)[:2]
    assert commands == [
        "python -m pip install . && npframe train docs/examples/tutorial.toml",
        'python -m pip install -e ".[test]" && python -m pytest',
    ]
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    for command in commands:
        assert command in ci, f".ci/run must run the README's command {command!r}"


def test_python_tour_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("net.toml").write_text(_block(r"```toml\n# net.toml\n(.*?)```"), encoding="utf-8")
    code = _block(r"### Python\n\n```python\n(.*?)```").replace("epochs=200", "epochs=3")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    net = namespace["net"]
    assert net.epoch == 3
    assert Path("model.npz").is_file()
    assert net.predict([[30, 70], [70, 30]]).shape == (2, 3)
    assert np.isfinite(namespace["history"].val_loss).all()


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
