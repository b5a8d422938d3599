"""Conformance checks for npframe components, shipped to plugin authors.

``check_activation``, ``check_loss``, ``check_initializer``, ``check_optimizer``,
``check_metric``, ``check_schedule``, ``check_layer`` and ``check_dataset`` each
return ``None`` or raise ``AssertionError`` saying what is wrong, where, and by how
much (values at full precision). ``check_component`` picks the right one from an
object's base class; ``check_registered`` builds a registered component by name (as
a spec would) and checks it, parameters included; ``components_of`` lists what a
distribution registers, from a registry (``isolated_registry``) that loads only the
built-ins and that distribution.

npframe runs exactly these checks over its own built-ins, so a plugin that passes
them behaves like a built-in: its gradients match finite differences, the fast
variants the training loop calls (``forward_into``, ``value_and_gradient_into``,
``step_flat``, ``bind``, ``at``) agree bit for bit with the plain methods, float32
stays float32, inputs (passed read-only) are never written, nothing warns or
overflows at boundary inputs, its parameters survive a spec round trip, and it never
touches NumPy's global random state.

One module per job: ``_activation``, ``_loss``, ``_initializer``, ``_optimizer``,
``_metric``, ``_schedule``, ``_layer``, ``_dataset`` hold the checks; ``_inputs``
the data they feed, ``_arrays``, ``_gradient``, ``_guard``, ``_messages`` and
``_parameters`` what they share; ``_registered`` the checks by name. The pytest
plugin (fixtures ``npframe_registry`` and ``npframe_rng``, the ``npframe_distribution``
ini option and marker) is the top-level module ``_npframe_pytestplugin``, which
imports none of this until a fixture is used.
"""

from npframe.testing._activation import check_activation
from npframe.testing._dataset import check_dataset
from npframe.testing._initializer import check_initializer
from npframe.testing._inputs import DOMAINS
from npframe.testing._layer import check_layer
from npframe.testing._loss import check_loss
from npframe.testing._metric import check_metric
from npframe.testing._optimizer import check_optimizer
from npframe.testing._registered import (
    check_component,
    check_registered,
    components_of,
    isolated_registry,
)
from npframe.testing._schedule import check_schedule

__all__ = [
    "DOMAINS",
    "check_activation",
    "check_component",
    "check_dataset",
    "check_initializer",
    "check_layer",
    "check_loss",
    "check_metric",
    "check_optimizer",
    "check_registered",
    "check_schedule",
    "components_of",
    "isolated_registry",
]

try:  # the fixtures need pytest; the checks do not
    from _npframe_pytestplugin import npframe_registry, npframe_rng
except ImportError:  # pragma: no cover - pytest is in the test extra
    pass
else:
    __all__ += ["npframe_registry", "npframe_rng"]
