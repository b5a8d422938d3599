"""Plugin discovery from real (fake) distributions written to ``tmp_path``.

Each test writes ``*.dist-info`` directories (METADATA + entry_points.txt) and plugin
modules, puts ``tmp_path`` on ``sys.path`` and builds a fresh ``Registry``, exactly as
an installed third-party distribution would be found.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import npframe
from npframe import PluginWarning, SpecError
from npframe.plugins import iter_entry_points
from npframe.registry import Registry

_counter = itertools.count()

_GOOD_PLUGIN = """
import npframe

CALLS = []


class Swish(npframe.Activation):
    def forward(self, z):
        return z

    def backward(self, z, a, grad_a):
        return grad_a


@npframe.hookimpl
def npframe_register(registry):
    CALLS.append(registry)
    {body}
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A fresh directory on ``sys.path``; new plugin modules are forgotten afterwards."""
    npframe.registry.names("activation")  # the process-wide registry never sees the fakes
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("NPFRAME_PLUGINS", raising=False)
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("npf_fake_"):
            del sys.modules[name]


def make_dist(root: Path, dist: str, source: str, *, version: str = "0.3",
              entry_point: str = "plugin", value: str | None = None) -> str:
    """Write distribution ``dist`` with one ``npframe`` entry point and its module."""
    module = f"npf_fake_{next(_counter)}_{dist.replace('-', '_')}"
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[npframe]\n{entry_point} = {value or module}\n")
    return module


def good_plugin(body: str) -> str:
    return _GOOD_PLUGIN.replace("{body}", body)


# -- a working third-party plugin ---------------------------------------------------------------
def test_an_installed_plugin_is_found_and_registered_with_its_owner(site):
    module = make_dist(site, "npframe-swish", good_plugin(
        'registry.register("activation", "swish_test", Swish)'))
    reg = Registry()
    entry = reg.entry("activation", "swish_test")
    assert entry.owner == "npframe-swish"
    assert entry.version == "0.3"
    assert entry.factory is sys.modules[module].Swish
    assert "relu" in reg.names("activation")  # the built-ins load beside it
    assert reg.failures() == []
    spec = {"input": 2, "layers": [{"units": 1, "activation": "swish_test"}]}
    net = npframe.Network.from_spec(spec, registry=reg)
    assert isinstance(net.layers[0].activation, sys.modules[module].Swish)


def test_entry_points_can_be_passed_explicitly(site):
    make_dist(site, "npframe-explicit", good_plugin(
        'registry.register("activation", "explicit_test", Swish)'))
    eps = [ep for dist in importlib.metadata.distributions(path=[str(site)])
           for ep in dist.entry_points if ep.group == "npframe"]
    reg = Registry(entry_points=eps)
    assert reg.names("activation") == ["explicit_test"]  # only what was passed
    assert reg.entry("activation", "explicit_test").provider == "npframe-explicit 0.3"


def test_builtins_are_discovered_first_then_plugins_sorted(site):
    make_dist(site, "npframe-zzz", good_plugin("pass"))
    make_dist(site, "npframe-aaa", good_plugin("pass"))
    dists = [ep.dist.name for ep in iter_entry_points()]
    assert dists[0] == "npframe"
    assert dists.index("npframe-aaa") < dists.index("npframe-zzz")


# -- broken plugins ----------------------------------------------------------------------------
def test_a_plugin_that_fails_to_import_warns_and_the_rest_works(site):
    make_dist(site, "npframe-broken", "import npf_no_such_module_anywhere\n",
              entry_point="broken")
    make_dist(site, "npframe-works", good_plugin(
        'registry.register("activation", "works_test", Swish)'))
    reg = Registry()
    with pytest.warns(PluginWarning) as record:
        names = reg.names("activation")
    assert [str(w.message) for w in record] == [
        "npframe plugin 'broken' (npframe-broken 0.3) failed to load: ModuleNotFoundError: "
        "No module named 'npf_no_such_module_anywhere'"
    ]
    assert "relu" in names
    assert "works_test" in names
    net = npframe.Network.from_spec(
        {"input": 2, "layers": [{"units": 1, "activation": "relu"}]}, registry=reg)
    assert net.predict([[1.0, 2.0]]).shape == (1, 1)
    [failure] = reg.failures()
    assert (failure.distribution, failure.version, failure.entry_point) == (
        "npframe-broken", "0.3", "broken")
    assert failure.error.startswith("ModuleNotFoundError")


def test_a_plugin_raising_halfway_registers_nothing(site):
    module = make_dist(site, "npframe-halfway", good_plugin(
        'registry.register("activation", "half_one", Swish)\n'
        '    registry.register("activation", "half_two", Swish)\n'
        '    raise RuntimeError("out of coffee")'))
    reg = Registry()
    with pytest.warns(PluginWarning, match=r"^npframe plugin 'plugin' \(npframe-halfway 0\.3\) "
                                           r"failed to load: RuntimeError: out of coffee$"):
        names = reg.names("activation")
    assert "half_one" not in names
    assert "half_two" not in names
    assert len(sys.modules[module].CALLS) == 1


def test_a_plugin_reusing_a_builtin_name_sits_beside_it_qualified(site):
    module = make_dist(site, "npframe-fancy", good_plugin(
        'registry.register("activation", "fancy_test", Swish)\n'
        '    registry.register("activation", "relu", Swish)'))
    reg = Registry()
    names = reg.names("activation")
    assert "fancy_test" in names and names.count("relu") == 1
    assert reg.failures() == []
    assert reg.entry("activation", "relu").owner == "npframe"  # built-ins are never shadowed
    assert reg.entry("activation", "npframe:relu").owner == "npframe"
    assert reg.get("activation", "npframe-fancy:relu") is sys.modules[module].Swish
    assert "npframe-fancy:relu" in reg.qualified_names("activation")


def test_two_plugins_with_the_same_name_both_load_and_the_bare_name_is_ambiguous(site):
    first = make_dist(site, "npframe-first", good_plugin(
        'registry.register("activation", "contested", Swish)'))
    second = make_dist(site, "npframe-second", good_plugin(
        'registry.register("activation", "uncontested", Swish)\n'
        '    registry.register("activation", "contested", Swish)'))
    reg = Registry()
    assert {"contested", "uncontested"} <= set(reg.names("activation"))
    assert reg.failures() == []
    with pytest.raises(SpecError, match=r"^activation 'contested' is ambiguous: 2 installed "
                                        r"distributions register it; name one of "
                                        r"'npframe-first:contested', 'npframe-second:contested'"):
        reg.entry("activation", "contested")
    spec = {"input": 2, "layers": [{"units": 1, "activation": "contested"}]}
    with pytest.raises(SpecError, match=r"^layers\[0\]\.activation: activation 'contested' is "
                                        r"ambiguous"):
        npframe.Network.from_spec(spec, registry=reg)
    assert reg.get("activation", "npframe-first:contested") is sys.modules[first].Swish
    assert reg.get("activation", "NPFrame_Second:contested") is sys.modules[second].Swish


def test_a_module_without_a_hookimpl_warns(site):
    module = make_dist(site, "npframe-nohook", "def npframe_register(registry):\n    pass\n")
    reg = Registry()
    with pytest.warns(PluginWarning, match=rf"^npframe plugin 'plugin' \(npframe-nohook 0\.3\) "
                                           rf"failed to load: LookupError: {module} defines no "
                                           r"npframe_register hook; decorate it with "
                                           r"@npframe\.hookimpl$"):
        reg.names("activation")


def test_a_hookimpl_with_unknown_arguments_warns(site):
    make_dist(site, "npframe-badargs", """
        import npframe

        @npframe.hookimpl
        def npframe_register(registry, config):
            pass
    """)
    reg = Registry()
    with pytest.warns(PluginWarning, match=r"\(npframe-badargs 0\.3\) failed to load: "
                                           r"PluginValidationError: .*config"):
        reg.names("activation")


def test_a_plugin_registering_a_wrong_type_warns(site):
    make_dist(site, "npframe-wrongtype", good_plugin(
        'registry.register("loss", "not_a_loss", Swish)'))
    reg = Registry()
    with pytest.warns(PluginWarning, match=r"RegistryError: loss 'not_a_loss': .*Swish must "
                                           r"subclass npframe\.Loss"):
        assert "not_a_loss" not in reg.names("loss")


def test_warnings_as_errors_do_not_stop_later_plugins_from_loading(site):
    make_dist(site, "npframe-aaa-broken", "raise ImportError('nope')\n")
    make_dist(site, "npframe-zzz-good", good_plugin(
        'registry.register("activation", "after_broken", Swish)'))
    reg = Registry()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(PluginWarning, match=r"npframe-aaa-broken 0\.3\) failed to load: "
                                                r"ImportError: nope"):
            reg.names("activation")
    assert "after_broken" in reg.names("activation")  # loaded, and no second warning
    assert len(reg.failures()) == 1


# -- selection, laziness, once -------------------------------------------------------------------
@pytest.fixture
def two_plugins(site):
    make_dist(site, "npframe-alpha", good_plugin(
        'registry.register("activation", "alpha_test", Swish)'))
    make_dist(site, "npframe-beta", good_plugin(
        'registry.register("activation", "beta_test", Swish)'))
    return site


@pytest.mark.parametrize(("env", "expected"), [
    (None, {"alpha_test", "beta_test"}),
    ("npframe-alpha", {"alpha_test"}),
    ("NPFRAME_BETA", {"beta_test"}),
    ("-npframe-alpha", {"beta_test"}),
    ("npframe-alpha,npframe-beta,-npframe-beta", {"alpha_test"}),
    ("npframe-alpha,npframe-beta", {"alpha_test", "beta_test"}),
    ("", set()),
])
def test_npframe_plugins_selects_distributions(two_plugins, monkeypatch, env, expected):
    if env is not None:
        monkeypatch.setenv("NPFRAME_PLUGINS", env)
    names = set(Registry().names("activation"))
    assert names & {"alpha_test", "beta_test"} == expected
    assert {"relu", "linear", "sigmoid"} <= names  # the built-ins always load


def test_plugins_load_once_on_first_use(site):
    module = make_dist(site, "npframe-counted", good_plugin(
        'registry.register("activation", "counted_test", Swish)'))
    reg = Registry()
    assert module not in sys.modules  # nothing imported before first use
    reg.names("activation")
    reg.get("activation", "counted_test")
    reg.create("activation", "counted_test")
    reg.entries()
    reg.failures()
    reg.register("activation", "late", sys.modules[module].Swish)
    assert len(sys.modules[module].CALLS) == 1
    Registry().names("activation")  # a fresh registry loads afresh
    assert len(sys.modules[module].CALLS) == 2


def test_importing_npframe_loads_no_plugin():
    code = (
        "import sys, npframe\n"
        "assert 'npframe_builtins' not in sys.modules, 'built-ins imported'\n"
        "assert npframe.registry._default is None, 'default registry built'\n"
        "assert 'relu' in npframe.registry.names('activation')\n"
        "assert 'npframe_builtins' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
