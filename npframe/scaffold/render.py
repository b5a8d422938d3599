"""The files of a new plugin, rendered from the templates shipped in this package.

Templates are plain text with ``{{placeholder}}`` fields (``.tmpl`` files, so neither
pytest, ruff nor the byte-compiler ever treats them as code of npframe's own). Each
kind has the module with its example component and the tests for it; the project
files around them are shared.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources

import attrs

from npframe._version import __version__
from npframe.scaffold.names import PluginNames

__all__ = ["KINDS", "Kind", "render"]


@attrs.frozen
class Kind:
    """What the scaffold generates for one component kind."""

    #: The module in the package that holds the component: ``activations``.
    module: str
    #: The example's math, for people: ``squareplus``.
    example: str
    #: One line on what it computes, for the README.
    summary: str
    #: Its parameters with their defaults, for the README.
    parameters: str
    #: The line of the README's spec that uses the component (``{name}`` is filled in).
    spec_line: str


KINDS: Mapping[str, Kind] = {
    "activation": Kind(
        "activations", "squareplus",
        "`(z + sqrt(z**2 + b)) / 2`, a smooth ReLU without exponentials",
        "`b = 4.0` (> 0): the value at 0 is `sqrt(b) / 2`",
        'activation = {{ name = "{name}", b = 1.0 }}',
    ),
    "loss": Kind(
        "losses", "pseudo-Huber",
        "mean of `delta**2 * (sqrt(1 + (d / delta)**2) - 1)`: squared error near 0, "
        "absolute error far out, smooth everywhere",
        "`delta = 1.0` (> 0): where quadratic turns linear",
        'loss = {{ name = "{name}", delta = 1.0 }}',
    ),
    "initializer": Kind(
        "initializers", "variance scaling",
        "weights of variance `scale / n` (`n` from `mode`), normal or uniform",
        '`scale = 1.0` (> 0), `mode = "fan_in"` (or `"fan_out"`, `"fan_avg"`), '
        '`distribution = "normal"` (or `"uniform"`)',
        'initializer = {{ name = "{name}", scale = 2.0 }}',
    ),
    "optimizer": Kind(
        "optimizers", "Adamax",
        "Adam with an infinity-norm second moment; keeps state, saved with the model",
        "`learning_rate = 0.002`, `beta1 = 0.9`, `beta2 = 0.999`, `eps = 1e-8`",
        'optimizer = {{ name = "{name}", learning_rate = 0.01 }}',
    ),
    "metric": Kind(
        "metrics", "quantile absolute error",
        "the `q`-quantile of the absolute errors: the median by default",
        "`q = 0.5` (0 to 1)",
        'metrics = [{{ name = "{name}", q = 0.9 }}]',
    ),
    "schedule": Kind(
        "schedules", "triangular cyclical learning rate",
        "the learning-rate factor rises from `min_factor` to 1 and back every `period` epochs",
        "`period = 10` (an int >= 2), `min_factor = 0.1` (0 to 1)",
        'schedule = {{ name = "{name}", period = 10 }}',
    ),
}

#: The spec in the README: npframe's tutorial data with one line using the component.
_SPEC_LINES = {
    "loss": 'loss = "mse"',
    "initializer": 'initializer = "he"',
    "optimizer": 'optimizer = { name = "adam", learning_rate = 0.01 }',
    "activation": 'activation = "tanh"',
}
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_LINE_LENGTH = 100


def _template(path: str) -> str:
    return resources.files("npframe.scaffold").joinpath("templates", path).read_text("utf-8")


def _fill(text: str, values: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        return values[match.group(1)]  # a KeyError here is a typo in a template

    return _PLACEHOLDER.sub(value, text)


def _isort_key(name: str) -> tuple[int, str]:
    """isort's ``order-by-type``: CONSTANTS, then Classes, then everything else."""
    if len(name) > 1 and name.isupper():
        return 0, name.lower()
    return (1 if name[:1].isupper() else 2), name.lower()


def _from_import(module: str, names: list[str]) -> str:
    """One ``from ... import ...`` line, sorted and wrapped the way isort (and ruff) do."""
    names = sorted(names, key=_isort_key)
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= _LINE_LENGTH:
        return line
    return f"from {module} import (\n" + "".join(f"    {n},\n" for n in names) + ")"


def _requirement() -> str:
    """``npframe>=X.Y.Z``: the version the plugin is generated (and first tested) with."""
    release = re.match(r"\d+(?:\.\d+)*", __version__)
    return f"npframe>={release.group(0)}" if release else "npframe"


def _spec(kind: str, line: str) -> str:
    """The README's spec: ``line`` replaces the default for ``kind``, or is added to it."""
    lines = dict(_SPEC_LINES)
    extra = ""
    if kind in lines:
        lines[kind] = line
    else:
        extra = line + "\n"
    return _fill(_template("spec.toml.tmpl"), {**lines, "extra": extra})


def render(names: PluginNames, kind: str) -> dict[str, str]:
    """``{relative path: text}`` of every file of the new plugin, in writing order."""
    info = KINDS[kind]
    usage = info.spec_line.format(name=names.component)
    values = {
        "distribution": names.distribution,
        "package": names.package,
        "name": names.component,
        "cls": names.cls,
        "kind": kind,
        "module": info.module,
        "example": info.example,
        "summary": info.summary,
        "parameters": info.parameters,
        "requirement": _requirement(),
        "usage": usage,
        "spec": _spec(kind, usage),
        "init_import": _from_import(f"{names.package}.{info.module}", [names.cls]),
        "test_imports": "\n".join([
            "import npframe",
            "import numpy as np",
            "import pytest",
            "from npframe.testing import check_component, check_registered, components_of",
            "",
            _from_import(names.package, ["COMPONENTS", names.cls]),
        ]),
    }
    tests = _template("test_header.py.tmpl") + _template(f"{kind}/test.py.tmpl")
    return {
        "pyproject.toml": _fill(_template("pyproject.toml.tmpl"), values),
        "README.md": _fill(_template("README.md.tmpl"), values),
        f"src/{names.package}/__init__.py": _fill(_template("__init__.py.tmpl"), values),
        f"src/{names.package}/{info.module}.py": _fill(_template(f"{kind}/module.py.tmpl"),
                                                         values),
        f"tests/test_{names.component}.py": _fill(tests, values),
    }
