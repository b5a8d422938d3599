"""Shared fixtures. Test modules add their own next to the tests that use them."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

import npframe
from npframe.registry import Registry

# CI runs a fixed set of examples (reproducible, nothing stored between runs); local runs
# explore new ones each time and remember failures in .hypothesis/.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

TUTORIAL_SPEC = {
    "input": 2,
    "seed": 42,
    "loss": "mse",
    "initializer": "he",
    "optimizer": {"name": "sgd", "learning_rate": 0.01},
    "layers": [
        {"units": 4, "activation": "relu"},
        {"units": 4, "activation": "relu"},
        {"units": 3, "activation": "linear"},
    ],
}


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator; tests never touch NumPy's global random state."""
    return np.random.default_rng(12345)


@pytest.fixture
def registry() -> Registry:
    """A fresh registry loaded from the installed entry points (built-ins included)."""
    return Registry()


@pytest.fixture
def tutorial_spec() -> dict:
    """The tutorial's 2-4-4-3 network as a spec mapping (a fresh copy per test)."""
    import copy

    return copy.deepcopy(TUTORIAL_SPEC)


@pytest.fixture(scope="session")
def tutorial_data() -> npframe.Dataset:
    """The tutorial's 7,000 / 3,000 split, raw scale."""
    return npframe.registry.create("dataset", "tutorial")
