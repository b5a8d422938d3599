"""``npframe schema``: the JSON Schema of specs, for editors."""

from __future__ import annotations

import argparse
import json
from typing import IO, Any

from npframe.cli.common import EXIT_OK, check_output, plural
from npframe.registry import default_registry
from npframe.schema import spec_schema, write_schema


def add_parser(sub: Any) -> None:
    schema = sub.add_parser(
        "schema", help="write the JSON Schema of specs, for editors",
        description=(
            "Write the JSON Schema (draft 2020-12) of the spec language: every key, and "
            "every registered component with its parameters, plugins included. Editors "
            "validate and complete specs with it (docs/spec.md, 'Editor support'); run it "
            "again after installing or removing a plugin."
        ),
    )
    schema.add_argument("--out", metavar="FILE.json",
                        help="write it to this file (default: standard output)")
    schema.set_defaults(handler=run)


def run(args: argparse.Namespace, out: IO[str]) -> int:
    if args.out is None:
        print(json.dumps(spec_schema(), indent=2, ensure_ascii=False), file=out)
        return EXIT_OK
    path = check_output(args.out, ".json", "--out")
    registry = default_registry()
    write_schema(path, registry)
    print(f"wrote the spec schema ({plural(len(registry.entries()), 'component')}) to {path}",
          file=out)
    return EXIT_OK
