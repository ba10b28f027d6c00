"""Command-line entry point: global flags, dispatch, and error reporting.

Each command group lives in its own module and exposes ``register(subparsers)``;
the handlers it installs take the parsed arguments and return an exit status.
The handlers only parse and print: the work is done by library functions that
tests call directly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from moss import __version__
from moss.cli import failures
from moss.core.errors import BROKEN_PIPE

Handler = Callable[[argparse.Namespace], int]
Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _registrars() -> list[Registrar]:
    """The command groups, imported here so a new group is one line."""
    from moss.cli import (
        boot_commands,
        cache_commands,
        hardware_commands,
        install_commands,
        query_commands,
        repo_commands,
        state_commands,
        stone_commands,
        subscription_commands,
    )

    return [
        stone_commands.register,
        install_commands.register,
        state_commands.register,
        query_commands.register,
        repo_commands.register,
        boot_commands.register,
        cache_commands.register,
        subscription_commands.register,
        hardware_commands.register,
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moss",
        description=(
            "moss installs packages into atomic, numbered states of /usr. "
            "Every transaction can be rolled back, from here or from the boot menu."
        ),
    )
    parser.add_argument("--version", action="version", version=f"moss {__version__}")
    parser.add_argument(
        "-D",
        "--directory",
        type=Path,
        default=Path("/"),
        metavar="ROOT",
        help="root of the system to operate on (default: /)",
    )
    parser.add_argument("-y", "--yes-all", action="store_true", help="never ask, assume yes")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="say more; show tracebacks on errors"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    parser.add_argument(
        "--cache", type=Path, metavar="DIR", help="cache directory (default: ROOT/.moss/cache)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for register in _registrars():
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure a user can act on ends as one line and a status.

    The statuses are README.md's table ("Using moss"): 0 done, 1 failed, 2 usage,
    3 done but boot entries not updated, 130 interrupted, 141 output pipe closed.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    context = failures.Context(verbose=any(a in ("-v", "--verbose") for a in argv))
    try:
        args = build_parser().parse_args(argv)
        context = failures.Context(args.verbose, [p for p in (args.directory, args.cache) if p])
        handler: Handler = args.handler
        context.started = True
        status = handler(args)
        sys.stdout.flush()  # a closed pipe is reported here, not at exit
        return status
    except SystemExit:
        _flush_quietly()  # --help into a closed pipe
        raise
    except failures.KNOWN as exc:
        explained = failures.report(exc, context)
        if explained is None:
            raise
        return explained


def _flush_quietly() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        failures.silence_stdout()
        sys.exit(BROKEN_PIPE)


def run() -> None:
    sys.exit(main())
