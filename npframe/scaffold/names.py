"""From one name a user types to the four names a plugin needs, or an error saying why not.

``npframe-mish`` gives the distribution ``npframe-mish`` (what ``pip install`` and
``NPFRAME_PLUGINS`` take), the import package ``npframe_mish``, the component name
``mish`` (what a spec writes) and its class ``Mish``. Every check says what is wrong
and what would be right, because the name is the first thing a plugin author types.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import sys

import attrs

from npframe.errors import NpframeError

__all__ = [
    "CONVENTION",
    "MAX_COMPONENT_NAME",
    "PluginNames",
    "ScaffoldError",
    "check_not_importable",
    "plugin_names",
]

#: The naming convention for plugin distributions: ``npframe-<thing>``.
CONVENTION = "npframe-<thing>"
#: Longest component name: specs and error messages quote it, and the generated code
#: stays within a 100-character line with it.
MAX_COMPONENT_NAME = 32
#: A PEP 508 project name: letters, digits, ``-_.``, starting and ending alphanumeric.
_PROJECT_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_PREFIX = "npframe-"
#: Import packages a plugin must never install: npframe's own.
_RESERVED = {
    "npframe": "npframe itself",
    "npframe_builtins": "npframe's built-in components",
}


class ScaffoldError(NpframeError, ValueError):
    """A plugin name or destination that ``npframe new-plugin`` cannot use."""


@attrs.frozen
class PluginNames:
    """The names of one plugin, all derived from its distribution name."""

    #: PEP 503-normalized distribution name: ``npframe-mish``.
    distribution: str
    #: The import package: ``npframe_mish``.
    package: str
    #: The registered component name, lowercase snake_case: ``mish``.
    component: str
    #: The component's class: ``Mish``.
    cls: str

    @property
    def follows_convention(self) -> bool:
        """Whether the distribution is named ``npframe-<thing>``."""
        return self.distribution.startswith(_PREFIX)


def _normalize(name: str) -> str:
    """PEP 503: runs of ``-_.`` become one ``-``, and everything is lowercase."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _example(typed: str) -> str:
    """A conventional name made from what the user typed, for messages."""
    thing = re.sub(r"[^a-z0-9]+", "-", typed.lower()).strip("-")
    thing = re.sub(r"^npframe(-|$)", "", thing)[:MAX_COMPONENT_NAME].strip("-")
    return _PREFIX + (thing if thing[:1].isalpha() else "mish")


def plugin_names(name: str) -> PluginNames:
    """Validate ``name`` and derive the plugin's names from it; ``ScaffoldError`` if unusable.

    ``name`` is a distribution name (``npframe-mish``, ``NPFrame_Mish`` normalizes to
    the same). The component name is the part after ``npframe-`` in snake_case, or the
    whole name when it does not follow the ``npframe-<thing>`` convention.
    """
    if not isinstance(name, str) or not name.strip():
        msg = f"the plugin needs a distribution name, such as npframe-mish (got {name!r})"
        raise ScaffoldError(msg)
    if not _PROJECT_NAME.fullmatch(name):
        msg = (
            f"plugin name {name!r} is not a valid distribution name: use letters, digits and "
            f"'-', starting and ending with a letter or digit, for example {_example(name)}"
        )
        raise ScaffoldError(msg)
    distribution = _normalize(name)
    package = distribution.replace("-", "_")
    if package in _RESERVED:
        msg = (
            f"plugin name {name!r} would install the package {package!r}, which is "
            f"{_RESERVED[package]}; name your plugin {CONVENTION}, for example npframe-mish"
        )
        raise ScaffoldError(msg)
    if not package.isidentifier():
        msg = (
            f"plugin name {name!r} gives the import package {package!r}, which is not a "
            f"Python identifier (it must start with a letter); for example {_example(name)}"
        )
        raise ScaffoldError(msg)
    if keyword.iskeyword(package):
        msg = (
            f"plugin name {name!r} gives the import package {package!r}, which is a Python "
            f"keyword and cannot be imported; for example {_example(name)}"
        )
        raise ScaffoldError(msg)
    if package in sys.stdlib_module_names:
        msg = (
            f"plugin name {name!r} gives the import package {package!r}, which would shadow "
            f"Python's standard-library module {package}; for example {_example(name)}"
        )
        raise ScaffoldError(msg)
    thing = distribution.removeprefix(_PREFIX)
    component = thing.replace("-", "_")
    if not component[0].isalpha():
        msg = (
            f"plugin name {name!r}: the component name {component!r} (the part after "
            f"'{_PREFIX}') must start with a letter; for example {_example(name)}"
        )
        raise ScaffoldError(msg)
    if len(component) > MAX_COMPONENT_NAME:
        msg = (
            f"plugin name {name!r}: the component name {component!r} is {len(component)} "
            f"characters; keep it to {MAX_COMPONENT_NAME} or fewer (specs and error messages "
            "quote it)"
        )
        raise ScaffoldError(msg)
    cls = "".join(word[:1].upper() + word[1:] for word in component.split("_"))
    return PluginNames(distribution, package, component, cls)


def check_not_importable(names: PluginNames) -> None:
    """``ScaffoldError`` if the package name is already importable here.

    Installing the plugin next to a module of the same name would shadow one with the
    other; the check costs one ``find_spec`` and imports nothing.
    """
    spec = importlib.util.find_spec(names.package)
    if spec is None:
        return
    where = spec.origin or ", ".join(spec.submodule_search_locations or []) or "?"
    msg = (
        f"plugin name {names.distribution!r}: a package named {names.package!r} is already "
        f"importable in this environment ({where}); installing the plugin would clash with "
        "it: choose another name (or, if it is an old copy of this plugin, pip uninstall it)"
    )
    raise ScaffoldError(msg)
