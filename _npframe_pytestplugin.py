"""npframe's pytest plugin: the ``npframe`` entry point of the ``pytest11`` group.

pytest imports this module in every test session of every environment where npframe
is installed, so it stays outside the ``npframe`` package (importing anything in a
package runs the package's ``__init__``) and imports nothing of npframe itself: the
kit (``npframe.testing``) loads only when a fixture is used. It provides

* the fixtures ``npframe_registry`` and ``npframe_rng``;
* the ini option ``npframe_distribution``: the distributions the session loads besides
  the built-ins (a plugin's own), so that other plugins installed in the environment,
  broken or clashing, cannot break its tests. It sets ``NPFRAME_PLUGINS`` for the
  session, before any conftest.py is imported, and restores it afterwards;
* the marker ``@pytest.mark.npframe_distribution(name, ...)``: which distributions one
  test's ``npframe_registry`` loads.

See docs/plugins/testing-plugins.md.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

#: Names shared with ``npframe.testing._fixtures`` and ``npframe.plugins``, repeated here
#: because importing them would import npframe.
OPTION = MARKER = "npframe_distribution"
ENV_VAR = "NPFRAME_PLUGINS"
_saved = pytest.StashKey[tuple[bool, str | None]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        OPTION, type="args", default=[],
        help="npframe: the plugin distribution(s) the tests load besides the built-ins "
             "(sets NPFRAME_PLUGINS for the session); other installed plugins are ignored")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Set ``NPFRAME_PLUGINS`` from the ini option before conftest.py files import."""
    names = early_config.getini(OPTION)
    if not names:
        return
    early_config.stash[_saved] = (ENV_VAR in os.environ, os.environ.get(ENV_VAR))
    os.environ[ENV_VAR] = ",".join(names)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*names): npframe_registry loads these plugin distributions and the "
        "built-ins only")


def pytest_unconfigure(config: pytest.Config) -> None:
    saved = config.stash.get(_saved, None)
    if saved is None:
        return
    was_set, value = saved
    if was_set:
        os.environ[ENV_VAR] = value or ""
    else:
        os.environ.pop(ENV_VAR, None)


@pytest.fixture
def npframe_registry(request: pytest.FixtureRequest) -> Any:
    """A fresh ``npframe.registry.Registry``: the built-ins plus the distributions of the
    ``npframe_distribution`` marker or ini option, or every installed plugin without
    either. Register test doubles on it freely: it is not the process-wide registry."""
    from npframe.testing._fixtures import registry_for  # the kit loads only when used

    return registry_for(request)


@pytest.fixture
def npframe_rng() -> Any:
    """An ``np.random.Generator`` with a fixed seed, so a failing test fails the same way
    every run."""
    from npframe.testing._fixtures import rng  # the kit loads only when used

    return rng()
