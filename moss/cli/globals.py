"""Global flags anywhere on the line, and real moss's top-level aliases.

Real moss's global flags (``global = true`` in clap) are accepted before and
after the command: ``moss it -y pkg -D ROOT``.  argparse only knows options of
the parser they are declared on, so :func:`spread` declares them again on every
subparser, with ``default=SUPPRESS``: a subparser that did not see the flag
leaves the value given before the command (or the top-level default) alone.

Real moss's aliases (``ls`` for ``list sync``, ``er`` for ``repo enable``, ...)
are the very parser of the command they stand for, so they cannot drift apart.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from moss.cli.logconfig import parse_log_config


class Flag(NamedTuple):
    """One global option: its spellings and ``add_argument`` keywords (a NamedTuple:
    every command loads this module, and ``dataclasses`` is slow to import)."""

    names: tuple[str, ...]
    kwargs: dict[str, Any]


GLOBAL_FLAGS: tuple[Flag, ...] = (
    Flag(("-D", "--directory"), {"type": Path, "default": Path("/"), "metavar": "ROOT",
                                 "help": "root of the system to operate on (default: /)"}),
    Flag(("-y", "--yes-all"), {"action": "store_true", "help": "never ask, assume yes"}),
    Flag(("-v", "--verbose"), {"action": "store_true",
                               "help": "say more; show tracebacks on errors"}),
    Flag(("-V", "--version"), {"action": "store_true", "dest": "show_version",
                               "help": "print moss's version (then run the command, if any)"}),
    Flag(("--quiet",), {"action": "store_true", "help": "no progress display"}),
    Flag(("--cache",), {"type": Path, "metavar": "DIR",
                        "help": "cache directory (default: ROOT/.moss/cache)"}),
    Flag(("--log",), {"type": parse_log_config, "metavar": "LEVEL[:FORMAT][:DEST]",
                      "help": "log records: level trace|debug|info|warn|error, format "
                      "text|json, destination stderr or a file"}),
)

# Real moss's top-level aliases (its `replace_aliases`) and what each stands for.
ALIASES: dict[str, tuple[str, ...]] = {
    "li": ("list", "installed"), "la": ("list", "available"),
    "ls": ("list", "sync"), "lu": ("list", "sync"),
    "ar": ("repo", "add"), "lr": ("repo", "list"), "rr": ("repo", "remove"),
    "ur": ("repo", "update"), "er": ("repo", "enable"), "dr": ("repo", "disable"),
    "fe": ("fetch",), "ix": ("index",), "it": ("install",), "rm": ("remove",),
    "up": ("sync",), "sr": ("search",), "sf": ("search-file",),
}


def add_global_flags(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Declare the global flags on ``parser``; below the top, without defaults.

    A spelling the subparser already uses for its own option (``pack --version``)
    stays the subparser's: that flag is then given before the command.
    """
    taken = set(parser._option_string_actions)
    for flag in GLOBAL_FLAGS:
        names = [n for n in flag.names if n not in taken]
        if not names:
            continue
        kwargs = dict(flag.kwargs)
        if not top:
            kwargs["default"] = argparse.SUPPRESS
        kwargs.setdefault("dest", flag.names[-1].lstrip("-").replace("-", "_"))
        parser.add_argument(*names, **kwargs)


def subparsers_of(parser: argparse.ArgumentParser) -> list[argparse._SubParsersAction[Any]]:
    return [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]


def walk(parser: argparse.ArgumentParser,
         visit: Callable[[argparse.ArgumentParser], None]) -> None:
    """Call ``visit`` once on every parser below ``parser`` (aliases share one)."""
    seen: set[int] = set()

    def go(p: argparse.ArgumentParser) -> None:
        for action in subparsers_of(p):
            for child in action.choices.values():
                if id(child) not in seen:
                    seen.add(id(child))
                    visit(child)
                    go(child)

    go(parser)


def spread(parser: argparse.ArgumentParser, words: Sequence[str] | None = None) -> None:
    """The global flags on every subparser, so they work after the command too.

    With ``words`` (the command line), only on the commands it names and those below
    them: seven options on each of ~45 parsers, each ``add_argument`` asking for the
    terminal's size, were a third of ``moss --version`` (issue 18).  A parser the line
    does not name is never used to parse it; one named needlessly costs only time.
    """
    def add(p: argparse.ArgumentParser) -> None:
        add_global_flags(p, top=False)

    if words is None:
        walk(parser, add)
        return
    for action in subparsers_of(parser):
        for word in dict.fromkeys(words):
            child = action.choices.get(word)
            if child is not None:
                add(child)
                walk(child, add)


def find(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> argparse.ArgumentParser:
    """The parser of ``moss PATH...`` (``("repo", "add")``)."""
    for word in path:
        parser = next(a.choices[word] for a in subparsers_of(parser) if word in a.choices)
    return parser


def install_aliases(parser: argparse.ArgumentParser) -> None:
    """Each alias is the parser of its command: ``moss ls`` is ``moss list sync``."""
    top = subparsers_of(parser)[0]
    for alias, path in ALIASES.items():
        top.choices[alias] = find(parser, path)
    aliases = "aliases: " + ", ".join(
        f"{alias} = {' '.join(path)}" for alias, path in ALIASES.items())
    parser.epilog = aliases + (f"\n\n{parser.epilog}" if parser.epilog else "")


# Top-level options that take a value: the word after them is not the command.
_VALUED = {"-D", "--directory", "--cache", "--log", "--generate-manpages",
           "--generate-completions"}


def command_index(argv: list[str]) -> int | None:
    """Where the command word is in ``argv`` (skipping global options and their values)."""
    skip = False
    for i, word in enumerate(argv):
        if skip:
            skip = False
        elif word in _VALUED:
            skip = True
        elif word == "--":
            return i + 1 if i + 1 < len(argv) else None
        elif not word.startswith("-"):
            return i
    return None


def bare_provides(argv: list[str]) -> list[str]:
    """``search -p KEYWORD`` is ``-p=binary``: real moss's ``-p`` takes its KIND only
    after ``=`` (clap's require_equals), which argparse cannot say."""
    at = command_index(argv)
    if at is None or argv[at] not in ("search", "sr"):
        return argv
    return [*argv[:at + 1],
            *("--provides=binary" if w in ("-p", "--provides") else w for w in argv[at + 1:])]
