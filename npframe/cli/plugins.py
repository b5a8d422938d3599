"""``npframe plugins``: every registered component by distribution, and every plugin
that failed to load; ``--strict`` makes a failure the exit code."""

from __future__ import annotations

import argparse
import json
import warnings
from typing import IO, Any

from npframe import diagnostics
from npframe.cli.common import EXIT_OK, plural
from npframe.errors import CLIError, PluginLoadError, PluginWarning
from npframe.kinds import KINDS
from npframe.plugins import STRICT_ENV_VAR, strict
from npframe.registry import default_registry


def add_parser(sub: Any) -> None:
    plugins = sub.add_parser(
        "plugins", help="list registered components and plugins that failed to load",
        description=(
            "List every registered component by kind, with the distribution and version "
            "that provides it, then every plugin that failed to load, with its error."
        ),
    )
    plugins.add_argument("--kind", choices=list(KINDS), help="only this kind of component")
    plugins.add_argument("--json", action="store_true",
                         help="the whole report as JSON, for scripts")
    plugins.add_argument("--verbose", "-v", action="store_true",
                         help="show each failed plugin's whole traceback")
    plugins.add_argument("--strict", action="store_true",
                         help="exit with code 2 when any plugin failed to load (as "
                              f"{STRICT_ENV_VAR}=1 does), after printing the report")
    plugins.set_defaults(handler=run)


def run(args: argparse.Namespace, out: IO[str]) -> int:
    """The report; in strict mode (``--strict`` or the variable) it is still printed,
    and a failed plugin then makes the exit code 2."""
    if not (args.strict or strict()):
        _report(args, out)
        return EXIT_OK
    try:
        _report(args, out)
    except PluginLoadError:
        # the variable made loading raise once every plugin had been tried; the failures
        # are recorded, so the report can be made now
        _report(args, out)
    failures = default_registry().failures()
    if failures:
        why = "--strict" if args.strict else f"{STRICT_ENV_VAR} is set"
        listed = "; ".join(str(f) for f in failures)
        raise CLIError(f"{why}: {plural(len(failures), 'plugin')} failed to load: {listed}")
    return EXIT_OK


def _report(args: argparse.Namespace, out: IO[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)  # the report lists the failures
        report = diagnostics.report()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2), file=out)
    else:
        out.write(diagnostics.format_report(report, kind=args.kind, verbose=args.verbose))
