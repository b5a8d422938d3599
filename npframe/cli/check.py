"""``npframe check``: validate a spec and print the network it describes."""

from __future__ import annotations

import argparse
import json
from typing import IO, Any

from npframe.assembly import assemble
from npframe.cli.common import EXIT_OK, architecture, in_spec, load_spec, plural
from npframe.memory import format_bytes
from npframe.spec import TrainSpec
from npframe.summary import describe_component, layer_table, table


def add_parser(sub: Any) -> None:
    check = sub.add_parser(
        "check", help="validate a spec and print the network it describes",
        description=(
            "Validate SPEC and print the network: layers with shapes, the parameter count, "
            "and every component with the distribution that provides it."
        ),
    )
    check.add_argument("spec", metavar="SPEC", help="the network spec (.toml or .json)")
    check.set_defaults(handler=run)


def run(args: argparse.Namespace, out: IO[str]) -> int:
    spec = load_spec(args.spec)
    with in_spec(args.spec):
        blueprint = assemble(spec)
        blueprint.check_fits()
    print(f"{args.spec}: ok", file=out)
    print(f"network: {architecture(spec)}", file=out)
    print(layer_table(blueprint), file=out)
    options = [f"standardize = {json.dumps(spec.standardize)}", f"seed {spec.seed}",
               f"training takes about {format_bytes(blueprint.training_bytes())} "
               "besides the data"]
    print(f"  {', '.join(options)}", file=out)
    print("components:", file=out)
    components: list[tuple[str, str, str]] = []
    for kind, _path, ref, entry in blueprint.entries:
        row = (kind, describe_component(ref), entry.provider)
        if row not in components:
            components.append(row)
    print(table(components), file=out)
    if spec.train is not None:
        print(f"train: {_train_line(spec.train)}", file=out)
    return EXIT_OK


def _train_line(t: TrainSpec) -> str:
    parts = [f"dataset {describe_component(t.dataset)}" if t.dataset else "no dataset (use --data)",
             plural(t.epochs, "epoch"),
             "full batch" if t.batch_size is None else f"batch size {t.batch_size}",
             "shuffled" if t.shuffle else "in order"]
    if t.validation_split:
        parts.append(f"validation split {t.validation_split}"
                     + (" (random draw)" if t.validation_shuffle else ""))
    if t.early_stopping is not None:
        es = t.early_stopping
        parts.append(f"early stopping on {es.monitor} (patience {es.patience})")
    if t.class_weight is not None:
        parts.append(f"class weights {json.dumps(t.class_weight)}")
    if t.test is not None:
        parts.append(f"test file {t.test}")
    return ", ".join(parts)
