"""The ``npframe`` command: one module per subcommand, this one dispatches.

Exit codes: 0 success; 2 a usage error or bad input (a wrong spec, a malformed data
file, a missing model file, training that diverged), reported as one ``npframe: error:
...`` line on standard error; 130 after Ctrl-C; 1 an unexpected error, reported with its
traceback because it is a bug. Results go to standard output, progress and diagnostics
to standard error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Sequence

from npframe._version import __version__
from npframe.cli import check, evaluate, plugins, predict, schema, train
from npframe.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNEXPECTED,
    PROG,
    one_line,
    short_warnings,
)
from npframe.errors import CLIError, NpframeError
from npframe.scaffold import add_parser as add_new_plugin_parser
from npframe.sweeps import command as sweep_command

__all__ = ["CLIError", "build_parser", "main"]

_EPILOG = """\
examples:
  npframe train docs/examples/tutorial.toml          the tutorial, end to end
  npframe train net.toml --data houses.csv --targets price --out model.npz
  npframe predict model.npz --data houses_new.csv --out predictions.csv
  npframe evaluate model.npz --data houses_test.csv --metrics mae,r2
  npframe check net.toml
  npframe plugins

exit codes: 0 ok, 2 usage error or bad input (one line on stderr), 130 interrupted,
1 unexpected error
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``npframe`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train and use npframe networks described by spec files (.toml / .json).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add_parser in (train.add_parser, predict.add_parser, evaluate.add_parser,
                       check.add_parser, plugins.add_parser, add_new_plugin_parser,
                       schema.add_parser, sweep_command.add_parser):
        add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    try:
        with short_warnings(sys.stderr):
            code: int = args.handler(args, sys.stdout)
            return code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `npframe predict ... | head`: the reader left
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        if _is_bad_input(exc):
            print(f"{PROG}: error: {_error_line(exc)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        traceback.print_exc()
        print(f"{PROG}: unexpected error (a bug): please report it with the traceback above",
              file=sys.stderr)
        return EXIT_UNEXPECTED


def _is_bad_input(exc: BaseException) -> bool:
    """Errors about what the user gave us; everything else is a bug worth a traceback."""
    if isinstance(exc, NpframeError):
        return True
    return isinstance(exc, OSError) and exc.filename is not None


def _error_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return one_line(f"{exc.filename}: {exc.strerror}")
    return one_line(str(exc) or type(exc).__name__)
