"""The ``npframe new-plugin`` subcommand: the parser and what it prints.

``npframe.cli`` calls ``add_parser`` with its subparsers; the handler follows the
CLI's contract (``handler(args, out) -> exit code``; bad input raises an
``NpframeError``, which the CLI prints as one ``npframe: error: ...`` line, exit 2).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import IO, Any

from npframe.scaffold.render import KINDS
from npframe.scaffold.writer import new_plugin

__all__ = ["add_parser"]

_DESCRIPTION = """\
Write a ready plugin distribution in a new folder: pyproject.toml with the npframe
entry point, a src/ package with the npframe_register hook and one working component
of --kind, tests using npframe's conformance kit, and a README. It installs
(pip install -e ".[test]") and passes its own tests (pytest) as it is.

NAME is the distribution name, by convention npframe-<thing> (npframe-mish): the
import package is npframe_mish and the component is registered as 'mish'.
"""

_EPILOG = """\
examples:
  npframe new-plugin npframe-mish                        activation 'mish' in ./npframe-mish
  npframe new-plugin npframe-adamax --kind optimizer --dir plugins/adamax
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``new-plugin`` to ``subparsers`` (what ``ArgumentParser.add_subparsers`` returns)."""
    parser = subparsers.add_parser(
        "new-plugin", help="write a new plugin distribution, ready to install and test",
        description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", metavar="NAME",
                        help="the distribution name, e.g. npframe-mish")
    parser.add_argument("--kind", choices=list(KINDS), default="activation",
                        help="the kind of component to start with (default: activation)")
    parser.add_argument("--dir", metavar="PATH", dest="directory",
                        help="the project folder to create; it may exist if empty "
                             "(default: ./NAME)")
    parser.set_defaults(handler=_cmd_new_plugin)
    return parser


def _cmd_new_plugin(args: argparse.Namespace, out: IO[str]) -> int:
    made = new_plugin(args.name, args.kind, args.directory)
    for note in made.notes:
        print(f"npframe: note: {note}", file=sys.stderr)
    shown = shlex.quote(args.directory if args.directory is not None else made.names.distribution)
    names, info = made.names, KINDS[made.kind]
    what = shown if shown == names.distribution else f"{shown} ({names.distribution})"
    print(f"created {what} with the {made.kind} '{names.component}' "
          f"({names.package}.{info.module}.{names.cls}: a working {info.example} to make "
          "your own)", file=out)
    for rel in made.files:
        print(f"  {rel}", file=out)
    print("next:", file=out)
    print(f"  cd {shown}", file=out)
    print('  pip install -e ".[test]"', file=out)
    print("  pytest", file=out)
    return 0
