"""``npframe schema``: the JSON Schema of specs agrees with npframe on the repo's specs.

Every example spec in the repo (docs/examples, the specs shown in the docs and READMEs,
the example plugin's) validates against the schema, and npframe builds it; every error
example of docs/spec.md is rejected by the schema at the same entry. What a schema
cannot say is listed below with the reason, and checked to stay so.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
import types
from pathlib import Path
from typing import Any, ClassVar, Literal

import jsonschema
import pytest
from attrs import field, frozen, validators

import npframe
from npframe import cli
from npframe.assembly import assemble, check_spec
from npframe.plugins import iter_entry_points
from npframe.registry import Registry
from npframe.schema import DRAFT, METADATA_KEY, spec_schema, write_schema
from npframe.spec import EarlyStoppingSpec, NetworkSpec, TrainSpec

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLE = ROOT / "plugins" / "npframe-example-plugin"


# -- a registry with everything the docs use -----------------------------------------------
class _Dist:
    def __init__(self, name: str, version: str) -> None:
        self.metadata = {"Name": name}
        self.name, self.version = name, version


class _ExampleFromSource:
    """The example plugin's entry point, importing the package from the source tree."""

    name, value, group = "example", "npframe_example", "npframe"
    dist = _Dist("npframe-example", "0.1.0")

    def load(self) -> Any:
        sys.path.insert(0, str(EXAMPLE / "src"))
        try:
            import npframe_example
        finally:
            sys.path.remove(str(EXAMPLE / "src"))
        return npframe_example


def _walkthrough_mish() -> type:
    """The ``mish`` that docs/plugins/writing-plugins.md has readers write."""
    text = (DOCS / "plugins" / "writing-plugins.md").read_text(encoding="utf-8")
    code = re.search(r"<!-- file: src/npframe_mish/mish.py -->\n```python\n(.*?)^```", text,
                     re.S | re.M).group(1)
    module = types.ModuleType("npframe_mish.mish")
    exec(compile(code, "writing-plugins.md", "exec"), module.__dict__)
    return module.Mish


def _docs_registry() -> Registry:
    builtins = [ep for ep in iter_entry_points() if ep.dist.name == "npframe"]
    registry = Registry(entry_points=[*builtins, _ExampleFromSource()])
    registry.register("activation", "mish", _walkthrough_mish(), owner="npframe-mish")
    return registry


@pytest.fixture(scope="module")
def registry() -> Registry:
    return _docs_registry()


@pytest.fixture(scope="module")
def validator(registry) -> Any:
    schema = spec_schema(registry)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def best_error(validator: Any, spec: Any) -> Any:
    return jsonschema.exceptions.best_match(validator.iter_errors(spec))


# -- the repo's specs validate ---------------------------------------------------------------
def _example_files() -> list[Path]:
    return sorted([*DOCS.glob("examples/*.toml"), *DOCS.glob("examples/*.json")])


def _fenced_specs() -> list[tuple[str, dict[str, Any]]]:
    """``(where, spec)`` for every TOML or JSON block in the docs holding spec keys only;
    fragments (a few keys, to show them) get a minimal ``input`` and ``layers``."""
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md")), *sorted(DOCS.glob("plugins/*.md")),
             EXAMPLE / "README.md"]
    keys = {*NetworkSpec.KEYS, "$schema"}
    found = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"^```(toml|json)\n(.*?)^```", text, re.S | re.M):
            try:
                data = (tomllib.loads if match.group(1) == "toml" else json.loads)(
                    match.group(2))
            except ValueError:
                continue  # a fragment that is not a document (a hostile-file example...)
            if not isinstance(data, dict) or not data or not set(data) <= keys:
                continue  # pyproject.toml, sweep files
            line = text[:match.start()].count("\n") + 1
            spec = {"input": 2, "layers": [{"units": 1, "activation": "linear"}]} | data
            found.append((f"{page.relative_to(ROOT)}:{line}", spec))
    return found


def test_the_docs_show_specs_to_check():
    where = [w for w, _ in _fenced_specs()]
    assert len(where) >= 6, where
    assert any(w.startswith("plugins/npframe-example-plugin/README.md") for w in where)
    assert len(_example_files()) >= 5


@pytest.mark.parametrize("path", _example_files(), ids=lambda p: p.name)
def test_every_example_file_validates(validator, registry, path):
    spec = npframe.spec.read_spec_file(path)
    assert list(validator.iter_errors(spec)) == []
    assemble(NetworkSpec.from_mapping(spec), registry)  # and npframe agrees


@pytest.mark.parametrize(("where", "spec"), _fenced_specs(), ids=[w for w, _ in _fenced_specs()])
def test_every_spec_shown_in_the_docs_validates(validator, registry, where, spec):
    assert [e.message for e in validator.iter_errors(spec)] == []
    assemble(NetworkSpec.from_mapping(spec), registry)


def test_a_saved_models_spec_validates(validator):
    net = npframe.Network.from_spec(DOCS / "examples" / "tutorial.toml")
    assert list(validator.iter_errors(net.to_spec())) == []


# -- the documented errors are rejected, at the same entry ---------------------------------
ROW = re.compile(r"^\| `(\{.*\})` \| `(.+)` \|$")


def _documented_errors() -> list[tuple[dict, str]]:
    rows = [ROW.match(line) for line in (DOCS / "spec.md").read_text().splitlines()]
    return [(json.loads(m.group(1)), m.group(2)) for m in rows if m]


#: docs/spec.md's error examples a schema cannot reject, with the reason: none today.
#: (Add one here only with its reason; the test below fails when it becomes expressible.)
DOCUMENTED_BUT_INEXPRESSIBLE: dict[str, str] = {}


def _json_path(spec_path: str) -> str:
    return "$." + spec_path


def _parent(json_path: str) -> str:
    return re.sub(r"(\.[^.\[]+|\[\d+\])$", "", json_path)


def test_the_table_is_found():
    assert len(_documented_errors()) >= 20


@pytest.mark.parametrize(("spec", "message"), _documented_errors(),
                         ids=[m for _, m in _documented_errors()])
def test_every_documented_error_is_rejected_by_the_schema(validator, spec, message):
    error = best_error(validator, spec)
    if message in DOCUMENTED_BUT_INEXPRESSIBLE:
        assert error is None, f"expressible now: remove {message!r} from the list"
        return
    assert error is not None, f"the schema accepts {spec}, which npframe refuses"
    target = _json_path(message.split(": ", 1)[0])
    # a missing or unknown key is reported on the table that holds it
    assert error.json_path in (target, _parent(target)), (error.json_path, error.message)


# -- what a JSON Schema cannot say -----------------------------------------------------------
BASE = {"input": 2, "layers": [{"units": 3, "activation": "linear"}]}
#: Specs npframe refuses that the schema accepts, each with why a schema cannot tell.
INEXPRESSIBLE = {
    "JSON numbers have no int/float distinction: 4.0 is an 'integer' to JSON Schema": (
        {"input": 2, "layers": [{"units": 4.0, "activation": "relu"}]},
        "layers[0].units: must be an int (got float 4.0; write 4)"),
    "uniqueItems compares spellings, not the component a name means": (
        BASE | {"metrics": ["mae", "npframe:mae"]},
        "metrics[1]: metric 'mae' is listed twice"),
    "whether a network fits depends on the machine's memory": (
        {"input": 1_000_000, "layers": [{"units": 1_000_000, "activation": "relu"}]},
        "layers: the network has 1,000,001,000,000 parameters"),
    "JSON has no inf or nan, so a schema cannot refuse TOML's": (
        BASE | {"optimizer": {"name": "sgd", "learning_rate": float("inf")}},
        "optimizer.learning_rate: must be a finite number (got inf)"),
}
#: Specs npframe takes that the schema refuses: it is stricter, to keep editors' hints clear.
STRICTER = {
    "null for a component means its default to npframe; the schema offers no null there":
        BASE | {"optimizer": None},
    "distribution names compare as pip's do; the schema lists the normalized spelling":
        {"input": 2, "layers": [{"units": 3, "activation": "NPFrame:relu"}]},
}


@pytest.mark.parametrize(("spec", "message"), INEXPRESSIBLE.values(), ids=list(INEXPRESSIBLE))
def test_what_the_schema_cannot_express_npframe_still_refuses(validator, registry, spec,
                                                              message):
    assert best_error(validator, spec) is None, "expressible now: move it to docs/spec.md"
    with pytest.raises(npframe.SpecError) as info:
        check_spec(spec, registry)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("spec", STRICTER.values(), ids=list(STRICTER))
def test_where_the_schema_is_stricter_than_npframe(validator, registry, spec):
    assert best_error(validator, spec) is not None
    check_spec(spec, registry)


# -- how components become schemas ------------------------------------------------------------
@frozen
class Shaped(npframe.Activation):
    """Bounds, choices, optional and declared constraints.

    Only this first paragraph becomes the description.
    """

    rate: float = field(default=0.5, converter=float,
                        validator=[validators.ge(0.0), validators.lt(1.0)])
    scale: float = field(default=1.0, converter=float, validator=validators.gt(0.0))
    cap: float | None = field(default=None, validator=validators.optional(validators.le(10.0)))
    mode: str = field(default="fast", validator=validators.in_(["fast", "exact"]))
    shape: Literal["round", "square"] = "round"
    widths: list[int] = field(factory=lambda: [1, 2])
    steps: int = field(default=3, validator=lambda self, attribute, value: None,
                       metadata={METADATA_KEY: {"minimum": 1, "multipleOf": 1}})

    def forward(self, z):
        return z

    def backward(self, z, a, grad_a):
        return grad_a


@frozen
class NeedsWidth(npframe.Activation):
    width: int

    def forward(self, z):
        return z

    def backward(self, z, a, grad_a):
        return grad_a


def anything_goes(**options: Any) -> npframe.Activation:
    return Shaped()


def make_data(n_samples: int, noise: float = 0.1, name: str | None = None) -> Any:
    """A dataset factory written as a function."""
    raise NotImplementedError


class Stack(npframe.Layer):
    components: ClassVar[dict[str, str]] = {"inner": "activation", "init": "initializer"}

    def __init__(self, inner: npframe.Activation, init: npframe.Initializer | None = None,
                 depth: int = 2) -> None:
        self.inner, self.init, self.depth = inner, init, depth

    def output_size(self, input_size: int) -> int:
        return input_size

    def forward(self, x, params, *, training, rng=None):
        return x, None

    def backward(self, grad_y, cache, params, grads):
        return grad_y


@pytest.fixture(scope="module")
def custom() -> dict[str, Any]:
    registry = Registry(load_plugins=False)
    registry.register("activation", "shaped", Shaped, owner="npframe-shapes")
    registry.register("activation", "needs/width", NeedsWidth)
    registry.register("activation", "anything", anything_goes)
    registry.register("dataset", "made", make_data)
    registry.register("layer", "stack", Stack)
    return spec_schema(registry)


def branch(schema: dict[str, Any], definition: str, name: str) -> dict[str, Any]:
    key = "type" if definition == "layer" else "name"
    return next(b["then"] for b in schema["$defs"][definition]["allOf"]
                if name in b["if"]["properties"][key]["enum"])


def test_parameters_carry_types_defaults_and_declared_bounds(custom):
    shaped = branch(custom, "activation.table", "shaped")
    assert shaped["description"] == (
        "activation npframe-shapes:shaped (npframe-shapes): Bounds, choices, optional and "
        "declared constraints.")
    assert shaped["additionalProperties"] is False and "required" not in shaped
    assert shaped["properties"] == {
        "name": True,
        "rate": {"type": "number", "minimum": 0.0, "exclusiveMaximum": 1.0, "default": 0.5},
        "scale": {"type": "number", "exclusiveMinimum": 0.0, "default": 1.0},
        "cap": {"type": ["number", "null"], "maximum": 10.0},
        "mode": {"type": "string", "enum": ["fast", "exact"], "default": "fast"},
        "shape": {"enum": ["round", "square"], "default": "round"},
        "widths": {"type": "array", "items": {"type": "integer"}, "default": [1, 2]},
        "steps": {"type": "integer", "default": 3, "minimum": 1, "multipleOf": 1},
    }


def test_names_alone_only_for_components_without_required_parameters(custom):
    alone = custom["$defs"]["activation.name"]["enum"]
    every = custom["$defs"]["activation.table"]["properties"]["name"]["enum"]
    assert "shaped" in alone and "npframe-shapes:shaped" in alone
    assert "needs/width" not in alone and "needs/width" in every
    needs = branch(custom, "activation.table", "needs/width")
    assert needs["required"] == ["width"]


def test_a_factory_taking_kwargs_accepts_any_parameter(custom):
    assert "properties" not in branch(custom, "activation.table", "anything")
    validator = jsonschema.Draft202012Validator(custom)
    layer = {"type": "stack", "inner": {"name": "anything", "whatever": [1, {"a": 2}]}}
    assert list(validator.iter_errors({"input": 2, "layers": [layer]})) == []


def test_a_layers_components_are_references_and_functions_are_read_too(custom):
    stack = branch(custom, "layer", "stack")
    assert stack["properties"]["inner"] == {"$ref": "#/$defs/activation"}
    assert stack["properties"]["init"] == {"$ref": "#/$defs/initializer"}
    assert stack["properties"]["depth"] == {"type": "integer", "default": 2}
    assert stack["required"] == ["inner"]
    made = branch(custom, "dataset.table", "made")
    assert made["properties"]["noise"] == {"type": "number", "default": 0.1}
    assert made["properties"]["name"] is True, "the parameter 'name' cannot be set"


def test_names_needing_escapes_validate(custom):
    validator = jsonschema.Draft202012Validator(custom)
    good = {"input": 2, "layers": [{"type": "stack", "inner": {"name": "needs/width",
                                                                 "width": 3}}]}
    assert list(validator.iter_errors(good)) == []
    bad = {"input": 2, "layers": [{"type": "stack", "inner": {"name": "needs/width"}}]}
    assert best_error(validator, bad).message == "'width' is a required property"


def test_the_schema_covers_every_key_npframe_reads():
    schema = spec_schema()
    assert schema["$schema"] == DRAFT
    assert set(schema["properties"]) == {*NetworkSpec.KEYS, "$schema"}
    train = schema["$defs"]["train"]["properties"]
    assert set(train) == set(TrainSpec.KEYS)
    assert set(train["early_stopping"]["else"]["properties"]) == set(EarlyStoppingSpec.KEYS)
    assert schema["additionalProperties"] is False
    json.dumps(schema)  # plain JSON
    assert spec_schema() == schema, "the same registry gives the same schema"


def test_a_table_without_a_type_is_a_dense_layer(validator):
    assert best_error(validator, {"input": 2, "layers": [{"units": 3}]}).message == (
        "'activation' is a required property")
    dropout = {"input": 2, "layers": [{"type": "dropout", "rate": 0.5, "units": 3}]}
    assert "'units' was unexpected" in best_error(validator, dropout).message


# -- $schema in a spec, and the command ------------------------------------------------------
def test_a_json_spec_may_name_its_schema(tmp_path, validator):
    spec = {"$schema": "./npframe-spec.schema.json", **BASE, "seed": 1}
    path = tmp_path / "net.json"
    path.write_text(json.dumps(spec))
    assert list(validator.iter_errors(spec)) == []
    net = npframe.Network.from_spec(path)
    assert "$schema" not in net.to_spec()
    assert net.to_spec() == npframe.Network.from_spec({**BASE, "seed": 1}).to_spec()


def test_npframe_schema_prints_the_schema(capsys):
    assert cli.main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == spec_schema()


def test_npframe_schema_out_writes_a_file(tmp_path, capsys):
    out = tmp_path / "spec.schema.json"
    assert cli.main(["schema", "--out", str(out)]) == 0
    n = len(npframe.registry.entries())
    assert capsys.readouterr().out == f"wrote the spec schema ({n} components) to {out}\n"
    assert json.loads(out.read_text()) == spec_schema()
    assert [p.name for p in tmp_path.iterdir()] == [out.name], "no temporary file is left"


@pytest.mark.parametrize(("name", "message"), [
    ("schema.txt", "the file name must end in .json"),
    ("missing/schema.json", "does not exist (create it first)"),
])
def test_npframe_schema_out_refuses_what_it_cannot_write(tmp_path, monkeypatch, capsys, name,
                                                         message):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["schema", "--out", name]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_write_schema_replaces_a_file_readable_as_any_new_file(tmp_path):
    out = tmp_path / "s.json"
    out.write_text("old")
    schema = write_schema(out)
    assert json.loads(out.read_text()) == schema
    fresh = tmp_path / "fresh.txt"
    fresh.write_text("")
    assert out.stat().st_mode == fresh.stat().st_mode, "the umask applies, nothing more"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.txt", "s.json"]


def test_the_docs_explain_editor_support():
    text = (DOCS / "spec.md").read_text(encoding="utf-8")
    section = text.split("## Editor support", 1)[1].split("\n## ", 1)[0]
    for needle in ("npframe schema --out", '"$schema"', "#:schema", "json.schemas"):
        assert needle in section, needle
    assert "npframe schema" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## `npframe schema`" in (DOCS / "cli.md").read_text(encoding="utf-8")
