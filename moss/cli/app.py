"""The full command line: global flags, dispatch, and error reporting.

Each command group lives in its own module and exposes ``register(subparsers)``;
the handlers it installs take the parsed arguments and return an exit status.
The handlers only parse and print: the work is done by library functions that
tests call directly.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from moss import __version__
from moss.cli import failures, logconfig
from moss.cli.globals import add_global_flags, bare_provides, install_aliases, spread
from moss.cli.helptext import HelpFormatter, example, translations_looked_up_once
from moss.core.errors import BROKEN_PIPE

if TYPE_CHECKING:
    from typing import Any, NoReturn

Handler = Callable[[argparse.Namespace], int]
Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _registrars() -> list[Registrar]:
    """The command groups, imported here so a new group is one line."""
    from moss.cli import (
        boot_commands,
        cache_commands,
        hardware_commands,
        install_commands,
        meta_commands,
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
        meta_commands.register,
    ]


class Parser(argparse.ArgumentParser):
    """argparse, with a suggestion for a mistyped command instead of the list of all.

    Subparsers are made of the same class (argparse's default), so ``moss state
    actvate`` gets the suggestion too.  Every parser formats its help with
    :class:`HelpFormatter`, which keeps the example on its line.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        wrong = re.match(r"argument \S+: invalid choice: '([^']*)' \(choose from (.*)\)$",
                         message)
        if wrong:
            import difflib

            from moss.cli.foreign import foreign_hint

            word, choices = wrong[1], re.findall(r"'([^']*)'", wrong[2])
            near = difflib.get_close_matches(word, choices, n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(near)}?" if near else ""
            theirs = foreign_hint(word) if self.prog == "moss" else None
            message = (f"unknown command {word!r}; {theirs}" if theirs else
                       f"unknown command {word!r}{hint} (`{self.prog} --help` lists them)")
        super().error(message)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole command tree; given the command line, the global flags go only on the
    parsers it names (:func:`moss.cli.globals.spread`), which is all it needs."""
    parser: argparse.ArgumentParser = Parser(
        prog="moss",
        description=(
            "moss installs packages into atomic, numbered states of /usr. "
            "Every transaction can be rolled back, from here or from the boot menu. "
            "`moss COMMAND --help` describes each command, with an example."
        ),
        epilog=example("moss install hello -y"),
    )
    add_global_flags(parser, top=True)
    parser.add_argument("--generate-manpages", type=Path, metavar="DIR",
                        help="write a man page for every command into DIR and exit")
    parser.add_argument("--generate-completions", type=Path, metavar="DIR",
                        help="write bash, zsh and fish completions into DIR and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in _registrars():
        register(sub)
    install_aliases(parser)
    spread(parser, argv)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure a user can act on ends as one line and a status.

    The statuses are README.md's table ("Using moss"): 0 done, 1 failed, 2 usage,
    3 done but boot entries not updated, 130 interrupted, 141 output pipe closed.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    context = failures.Context(verbose=any(a in ("-v", "--verbose") for a in argv))
    try:
        generating = any(a.startswith("--g") for a in argv)  # --generate-*, abbreviated too
        with translations_looked_up_once():
            parser = build_parser(None if generating else argv)
            args = parser.parse_args(bare_provides(argv))
            context = failures.Context(args.verbose,
                                       [p for p in (args.directory, args.cache) if p])
            handler = _handler(parser, args)
        if handler is None:
            return 0
        context.started = True
        _refuse_borrowed(args.directory)
        from moss.cli.modelnotice import print_notice

        print_notice(args.directory, args.verbose)  # read only in a root that is its own
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


def _handler(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Handler | None:
    """What to run, after what real moss does before any command (-V, --log, generation)."""
    logconfig.configure(args.log)
    if args.show_version:
        print(f"moss {__version__}")
    if args.generate_manpages or args.generate_completions:
        from moss.cli import docgen

        if args.generate_manpages:
            docgen.write_manpages(parser, args.generate_manpages)
        if args.generate_completions:
            docgen.write_completions(parser, args.generate_completions)
        return None
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None and not args.show_version:
        parser.print_help()  # `moss` alone: what there is to do (status 2, a usage error)
        raise SystemExit(2)
    if args.cache is not None and not args.cache.is_dir():
        from moss.core.errors import MossError

        # As real moss ("Cache dir is invalid"): a mistyped --cache would otherwise
        # fill a new folder with downloads nobody finds again.
        raise MossError(f"--cache {args.cache}: no such folder; create it first")
    need = root_needed(handler, args) if handler is not None else None
    if need is not None:
        from moss.core.root import check_moss_root

        check_moss_root(args.directory, installed=need == "state")
    if handler is not None and args.log is not None:  # no --log: the record goes nowhere
        import logging

        logging.getLogger("moss").debug("moss %s: %s on %s", __version__, args.command,
                                        args.directory)
    return handler


def _refuse_borrowed(directory: Path) -> None:
    """Every command on a root, even one that finds no databases there, refuses a root
    whose ``.moss`` folders link to another's (:func:`moss.core.root.refuse_borrowed`)."""
    from moss.core.root import Root, refuse_borrowed

    refuse_borrowed(Root(directory))


# Commands that read or change what moss installed: they refuse a root without it.
# The others make a root (install, repo add, sync --import), read files, or the machine.
_ON_STATES = ("moss.cli.state_commands", "moss.cli.query_commands",
              "moss.cli.boot_commands", "moss.cli.cache_commands")


def root_needed(handler: Handler, args: argparse.Namespace) -> str | None:
    """``state``: ROOT must hold what moss installed; ``dir``: ROOT must exist (the
    repository commands, whose files may be written before the first install)."""
    module, name = getattr(handler, "__module__", ""), getattr(handler, "__name__", "")
    if module == "moss.cli.install_commands":
        on_states = name == "_remove" or (name == "_sync" and args.import_model is None
                                          and args.to is None)
        return "state" if on_states else None
    if module == "moss.cli.repo_commands":
        return None if name == "cmd_add" else "dir"
    return "state" if module in _ON_STATES else None


def _flush_quietly() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        failures.silence_stdout()
        sys.exit(BROKEN_PIPE)
