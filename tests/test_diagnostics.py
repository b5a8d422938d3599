"""npframe.diagnostics.report / format_report: what is registered, by whom, and what failed."""

from __future__ import annotations

import json
import types
import warnings

import pytest

import npframe
from npframe._version import __version__
from npframe.diagnostics import PluginReport, format_report, report
from npframe.plugins import iter_entry_points
from npframe.registry import Registry


class FakeDist:
    def __init__(self, name: str, version: str) -> None:
        self.metadata = {"Name": name}
        self.name = name
        self.version = version


class FakeEntryPoint:
    group = "npframe"

    def __init__(self, name: str, value: str, dist: str, version: str, obj: object) -> None:
        self.name, self.value, self.dist, self.obj = name, value, FakeDist(dist, version), obj

    def load(self) -> object:
        if isinstance(self.obj, BaseException):
            raise self.obj
        return self.obj


class Double(npframe.Activation):
    def forward(self, z):
        return 2.0 * z

    def backward(self, z, a, grad_a):
        return 2.0 * grad_a


def plugin(*names: str) -> types.ModuleType:
    """A plugin module registering ``Double`` under each of ``names``."""
    module = types.ModuleType("npframe_fake")

    @npframe.hookimpl
    def npframe_register(registry):
        for name in names:
            registry.register("activation", name, Double)

    module.npframe_register = npframe_register
    return module


BUILTINS = [ep for ep in iter_entry_points() if ep.dist.name == "npframe"]


@pytest.fixture
def registry(monkeypatch) -> Registry:
    """Built-ins, a good plugin, one registering a name twice, one failing to import,
    and one left out by NPFRAME_PLUGINS."""
    monkeypatch.setenv("NPFRAME_PLUGINS", "npframe-good, npframe_clash, npframe-broken")
    eps = [
        *BUILTINS,
        FakeEntryPoint("good", "npframe_good", "npframe-good", "1.0", plugin("double", "twice")),
        FakeEntryPoint("clash", "npframe_clash", "npframe-clash", "0.3",
                       plugin("triple", "triple")),
        FakeEntryPoint("broken", "npframe_broken", "npframe-broken", "2.1",
                       ModuleNotFoundError("No module named 'scipy'")),
        FakeEntryPoint("other", "npframe_other", "npframe-other", "0.9", plugin("other")),
    ]
    reg = Registry(entry_points=eps)
    with pytest.warns(npframe.PluginWarning) as caught:
        reg.names("activation")
    assert len(caught) == 2
    return reg


def test_report_lists_components_with_distribution_and_version(registry):
    rep = report(registry)
    owners = {(e.kind, e.name): e.provider for e in rep.components}
    assert owners[("activation", "double")] == "npframe-good 1.0"
    assert owners[("activation", "twice")] == "npframe-good 1.0"
    assert owners[("activation", "relu")] == f"npframe {__version__}"
    assert ("activation", "triple") not in owners, "a failing plugin registers nothing"
    assert ("activation", "other") not in owners
    by_kind = rep.by_kind()
    assert list(by_kind) == list(npframe.registry.KINDS)
    assert [e.name for e in by_kind["activation"]] == sorted(e.name for e in by_kind["activation"])


def test_report_gives_each_distribution_a_status(registry):
    status = {d.name: (d.status, d.components, d.entry_points)
              for d in report(registry).distributions}
    assert status["npframe-good"] == ("loaded", 2, ("good = npframe_good",))
    assert status["npframe-clash"] == ("failed", 0, ("clash = npframe_clash",))
    assert status["npframe-broken"] == ("failed", 0, ("broken = npframe_broken",))
    assert status["npframe-other"] == ("skipped", 0, ("other = npframe_other",))
    assert status["npframe"][0] == "loaded"


def test_report_carries_each_failure_with_its_error(registry):
    rep = report(registry)
    messages = [str(f) for f in rep.failures]
    assert messages == [
        "npframe plugin 'clash' (npframe-clash 0.3) failed to load: RegistryError: "
        "npframe-clash 0.3 registers activation 'triple' twice",
        "npframe plugin 'broken' (npframe-broken 2.1) failed to load: ModuleNotFoundError: No "
        "module named 'scipy'",
    ]
    broken = next(d for d in rep.distributions if d.name == "npframe-broken")
    assert broken.errors == (messages[1],)


def test_report_to_dict_is_json(registry):
    data = json.loads(json.dumps(report(registry).to_dict()))
    assert data["npframe"] == __version__
    assert data["NPFRAME_PLUGINS"] == "npframe-good, npframe_clash, npframe-broken"
    assert {"name": "double", "qualified_name": "npframe-good:double",
            "distribution": "npframe-good", "version": "1.0",
            "factory": "test_diagnostics.Double"} in data["components"]["activation"]
    failure = data["failures"][1]
    assert failure.pop("traceback").startswith("Traceback (most recent call last)")
    assert failure == {
        "distribution": "npframe-broken", "version": "2.1", "entry_point": "broken",
        "error": "ModuleNotFoundError: No module named 'scipy'",
        "message": "npframe plugin 'broken' (npframe-broken 2.1) failed to load: "
                   "ModuleNotFoundError: No module named 'scipy'",
    }
    assert {d["name"]: d["status"] for d in data["distributions"]}["npframe-other"] == "skipped"


def test_format_report_shows_everything(registry):
    text = format_report(report(registry))
    lines = text.splitlines()
    assert lines[0] == f"npframe {__version__}"
    assert lines[1] == ("NPFRAME_PLUGINS=npframe-good, npframe_clash, npframe-broken: only what "
                        "it selects (and the built-ins) loads")
    assert any(line.split() == ["npframe-good", "1.0", "loaded", "2", "components", "good", "=",
                                "npframe_good"] for line in lines)
    assert any(line.split()[:3] == ["npframe-other", "0.9", "skipped"] for line in lines)
    assert any(line.split() == ["double", "npframe-good", "1.0", "test_diagnostics.Double"]
               for line in lines)
    assert "Failed plugins (2)" in lines
    assert ("  npframe plugin 'broken' (npframe-broken 2.1) failed to load: ModuleNotFoundError: "
            "No module named 'scipy'") in lines
    assert str(report(registry)) == text


def test_format_report_filters_by_kind_and_checks_the_kind(registry):
    text = format_report(report(registry), kind="optimizer")
    assert "optimizer (" in text and "activation (" not in text
    assert "Failed plugins (2)" in text
    with pytest.raises(npframe.RegistryError, match="did you mean 'optimizer'"):
        format_report(report(registry), kind="optimiser")


def test_in_process_registrations_and_empty_kinds_are_listed():
    reg = Registry(load_plugins=False)
    reg.register("activation", "double", Double)
    rep = report(reg)
    assert rep.distributions == () and rep.failures == ()
    text = format_report(rep)
    assert any(line.split() == ["double", "module", "test_diagnostics", "test_diagnostics.Double"]
               for line in text.splitlines())
    assert "loss (0)\n  (none)" in text and "Plugin distributions\n  (none)" in text


@pytest.mark.parametrize(("env", "line"), [
    (None, "NPFRAME_PLUGINS is not set: every installed plugin loads"),
    ("", "NPFRAME_PLUGINS is empty: only npframe's built-ins load"),
    ("npframe-a, -npframe-b", "NPFRAME_PLUGINS=npframe-a, -npframe-b: only what it selects "
                              "(and the built-ins) loads"),
    ("-npframe-a, -npframe-b", "NPFRAME_PLUGINS=-npframe-a, -npframe-b: every installed "
                               "plugin loads except those it excludes"),
])
def test_format_report_explains_npframe_plugins(monkeypatch, env, line):
    if env is None:
        monkeypatch.delenv("NPFRAME_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("NPFRAME_PLUGINS", env)
    assert format_report(report(Registry(load_plugins=False))).splitlines()[1] == line


def test_report_defaults_to_the_process_wide_registry():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", npframe.PluginWarning)
        rep = report()
    assert isinstance(rep, PluginReport)
    assert {e.name for e in rep.components if e.kind == "activation"} >= {"relu", "sigmoid"}
    assert any(d.name == "npframe" and d.status == "loaded" for d in rep.distributions)
