"""Building a network's components from its spec: each exactly once, nothing allocated.

``assemble`` turns a ``NetworkSpec`` into a ``Blueprint``: every layer (with the
components its table names), the loss, initializer, optimizer, metrics and schedule,
built from the registry, plus every layer's output size and parameter shapes. Every
mistake is a ``SpecError`` at its spec path. Nothing the size of the network is
allocated here, so ``npframe check`` can describe (and refuse) a network with 10**12
parameters in milliseconds; ``Blueprint.check_fits`` compares what training it would
take with what this process may use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from npframe._names import unknown
from npframe.errors import SpecError
from npframe.interfaces import Initializer, Layer, Loss, Metric, Optimizer, Schedule
from npframe.memory import available_memory, format_bytes
from npframe.registry import Entry, Registry, default_registry
from npframe.signature import check_parameters, parameters_of
from npframe.spec import ComponentSpec, LayerSpec, NetworkSpec, SpecLike

__all__ = ["MEMORY_FACTOR", "Blueprint", "assemble", "build_layer", "check_spec"]

#: Training keeps about this many arrays the size of the parameters: the parameters,
#: their gradients, two rollback snapshots and up to three optimizer buffers.
MEMORY_FACTOR = 7

_LAYER_HINTS = {
    "units": "the layer's number of outputs, e.g. units = 4",
    "activation": 'a registered activation name, e.g. activation = "relu"',
}


@attrs.frozen(eq=False)
class Blueprint:
    """A network's built components and shapes, before any parameter exists."""

    spec: NetworkSpec
    layers: tuple[Layer, ...]
    #: ``(input, output of layer 1, ..., output of layer L)``.
    sizes: tuple[int, ...]
    #: Each layer's parameters by name and shape.
    shapes: tuple[dict[str, tuple[int, ...]], ...]
    loss: Loss
    initializer: Initializer
    optimizer: Optimizer
    metrics: dict[str, Metric]
    schedule: Schedule | None
    #: ``(kind, path, reference, entry)`` of every component, for diagnostics.
    entries: tuple[tuple[str, str, ComponentSpec, Entry], ...]

    @property
    def n_parameters(self) -> int:
        return sum(math.prod(s) for layer in self.shapes for s in layer.values())

    def layer_parameters(self, i: int) -> int:
        return sum(math.prod(s) for s in self.shapes[i].values())

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.spec.dtype)

    def training_bytes(self) -> int:
        """About what training takes besides the data and the batch buffers."""
        return self.n_parameters * self.dtype.itemsize * MEMORY_FACTOR

    def check_fits(self) -> None:
        """``SpecError`` when training this network would not fit in memory."""
        need, have = self.training_bytes(), available_memory()
        if need <= have:
            return
        widest = max(range(len(self.layers)), key=self.layer_parameters)
        msg = (
            f"the network has {self.n_parameters:,} parameters "
            f"({format_bytes(self.n_parameters * self.dtype.itemsize)} of {self.spec.dtype}); "
            f"training it takes about {format_bytes(need)} (parameters, gradients, "
            f"snapshots and optimizer state), more than the {format_bytes(have)} this "
            f"process may use. The largest layer is layers[{widest}] with "
            f"{self.layer_parameters(widest):,} parameters: use fewer or narrower layers"
        )
        raise SpecError(msg, "layers")


def assemble(spec: NetworkSpec, registry: Registry | None = None, *,
             check_dataset: bool = True) -> Blueprint:
    """Build every component ``spec`` names, each once; errors carry spec paths.

    ``check_dataset=False`` skips ``[train] dataset``: using or resuming a saved model
    needs no training data set.
    """
    registry = registry or default_registry()
    entries: list[tuple[str, str, ComponentSpec, Entry]] = []

    def build(kind: str, ref: ComponentSpec, path: str) -> Any:
        component = registry.build(kind, ref.name, ref.params, path=path)
        entries.append((kind, path, ref, registry.entry(kind, ref.name)))
        return component

    def record(kind: str, ref: ComponentSpec, path: str, entry: Entry) -> None:
        entries.append((kind, path, ref, entry))

    layers = tuple(_build_layer(registry, layer, f"layers[{i}]", build, record)
                   for i, layer in enumerate(spec.layers))
    sizes, shapes = _shapes(spec, layers)
    loss = build("loss", spec.loss, "loss")
    initializer = build("initializer", spec.initializer, "initializer")
    optimizer = build("optimizer", spec.optimizer, "optimizer")
    metrics: dict[str, Metric] = {}
    for i, ref in enumerate(spec.metrics):
        key = ref.name.rpartition(":")[2]
        if key in metrics:
            raise SpecError(f"metric {key!r} is listed twice", f"metrics[{i}]")
        metrics[key] = build("metric", ref, f"metrics[{i}]")
    schedule = None if spec.schedule is None else build("schedule", spec.schedule, "schedule")
    if check_dataset and spec.train is not None and spec.train.dataset is not None:
        entry = registry.entry("dataset", spec.train.dataset.name) if _known(
            registry, "dataset", spec.train.dataset, "train.dataset") else None
        if entry is not None:
            entries.append(("dataset", "train.dataset", spec.train.dataset, entry))
    _check_combination(spec, loss, optimizer, schedule)
    return Blueprint(spec, layers, sizes, shapes, loss, initializer, optimizer, metrics,
                     schedule, tuple(entries))


def _known(registry: Registry, kind: str, ref: ComponentSpec, path: str) -> bool:
    """The dataset exists and takes these parameters (it is loaded only when trained on)."""
    try:
        factory = registry.get(kind, ref.name)
    except SpecError as exc:
        raise type(exc)(exc.reason, path) from None
    check_parameters(factory, ref.name, ref.params, path)
    return True


def build_layer(table: Any, registry: Registry | None = None, *, path: str = "layer") -> Layer:
    """One layer from its spec table (``{"type": "dense", "units": 4, ...}``), components
    included, as a network builds it (``npframe.testing.check_registered`` uses it)."""
    registry = registry or default_registry()
    spec = LayerSpec.parse(table, path)

    def build(kind: str, ref: ComponentSpec, where: str) -> Any:
        return registry.build(kind, ref.name, ref.params, path=where)

    return _build_layer(registry, spec, path, build, lambda *args: None)


def _build_layer(registry: Registry, layer: LayerSpec, path: str, build: Any,
                 record: Any) -> Layer:
    try:
        entry = registry.entry("layer", layer.type)
    except SpecError as exc:
        raise type(exc)(exc.reason, f"{path}.type") from None
    record("layer", ComponentSpec(name=layer.type), f"{path}.type", entry)
    cls = entry.factory
    components: Mapping[str, str] = getattr(cls, "components", {}) or {}
    accepted = parameters_of(cls)
    if accepted is not None:
        names = [p.name for p in accepted]
        for key in layer.params:
            if key not in names:
                msg = unknown("key", key, ["type", *names], "allowed").replace(
                    f"key {key!r}", f"key {key!r} for layer {layer.type!r}", 1)
                raise SpecError(msg, f"{path}.{key}")
        for p in accepted:
            if p.required and p.name not in layer.params:
                hint = _LAYER_HINTS.get(p.name, f"a required parameter of layer {layer.type!r}")
                raise SpecError(f"required key is missing ({hint})", f"{path}.{p.name}")
    kwargs: dict[str, Any] = {}
    for key, value in layer.params.items():
        kind = components.get(key)
        if kind is not None and value is not None:
            ref = ComponentSpec.parse(value, f"{path}.{key}", kind)
            kwargs[key] = build(kind, ref, f"{path}.{key}")
        else:
            kwargs[key] = value
    built = registry.build("layer", layer.type, kwargs, path=path)
    return built


def _size(value: Any, what: str, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise SpecError(f"{what} must be a positive int (got {value!r})", path)
    return int(value)


def _shapes(spec: NetworkSpec, layers: tuple[Layer, ...],
            ) -> tuple[tuple[int, ...], tuple[dict[str, tuple[int, ...]], ...]]:
    sizes = [spec.input]
    shapes = []
    for i, layer in enumerate(layers):
        path = f"layers[{i}]"
        name = spec.layers[i].type
        shape = layer.parameter_shapes(sizes[-1])
        checked = {}
        for key, dims in shape.items():
            dims = tuple(dims)
            checked[key] = tuple(_size(d, f"layer {name!r} parameter {key!r} dimension", path)
                                 for d in dims)
        shapes.append(checked)
        sizes.append(_size(layer.output_size(sizes[-1]), f"layer {name!r} output size", path))
    return tuple(sizes), tuple(shapes)


def _check_combination(spec: NetworkSpec, loss: Loss, optimizer: Optimizer,
                       schedule: Schedule | None) -> None:
    if spec.scales_targets and loss.classification:
        msg = (
            f"cannot standardize the targets of loss {spec.loss.name!r}, which takes class "
            "labels or probabilities (standardized, they are neither); use "
            'standardize = "inputs"'
        )
        raise SpecError(msg, "standardize")
    if schedule is not None:
        rate = getattr(optimizer, "learning_rate", None)
        if isinstance(rate, bool) or not isinstance(rate, float | int):
            msg = (
                f"optimizer {spec.optimizer.name!r} has no numeric 'learning_rate' "
                "attribute, so a schedule cannot drive it"
            )
            raise SpecError(msg, "schedule")


def check_spec(spec: SpecLike | NetworkSpec, registry: Registry | None = None) -> Blueprint:
    """Validate a spec completely (every component built, every size checked against
    this machine's memory) without allocating the network; the ``Blueprint`` describes
    it (``npframe check`` prints it)."""
    blueprint = assemble(NetworkSpec.load(spec), registry)
    blueprint.check_fits()
    return blueprint
