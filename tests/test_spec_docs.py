"""docs/spec.md's error examples are the messages users really get."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import npframe

SPEC_DOC = Path(__file__).parent.parent / "docs" / "spec.md"
ROW = re.compile(r"^\| `(\{.*\})` \| `(.+)` \|$")


def _documented_errors() -> list[tuple[dict, str]]:
    rows = [ROW.match(line) for line in SPEC_DOC.read_text(encoding="utf-8").splitlines()]
    return [(json.loads(m.group(1)), m.group(2)) for m in rows if m]


def test_the_reference_documents_errors():
    assert len(_documented_errors()) >= 15


@pytest.mark.parametrize(("spec", "message"), _documented_errors(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_documented_error_is_raised(spec, message):
    with pytest.raises(npframe.SpecError) as info:
        npframe.Network.from_spec(spec)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("net.toml", 'input = 2\nseed = 1\nlayers "x"\n',
         "net.toml: invalid TOML: Expected '=' after a key in a key/value pair "
         "(at line 3, column 8)"),
        ("net.json", '{"input": 2,\n "seed": 1\n "layers": []}\n',
         "net.json: invalid JSON: Expecting ',' delimiter (at line 3, column 2)"),
        ("net.yaml", "input: 2\n",
         "net.yaml: unsupported spec file type '.yaml'; use .json or .toml"),
    ],
)
def test_file_errors_name_the_file_and_line(tmp_path, monkeypatch, name, text, message):
    monkeypatch.chdir(tmp_path)
    Path(name).write_text(text, encoding="utf-8")
    with pytest.raises(npframe.SpecError) as info:
        npframe.Network.from_spec(name)
    assert str(info.value) == message


def test_missing_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(npframe.SpecError, match=r"^net\.toml: no such file"):
        npframe.Network.from_spec("net.toml")
