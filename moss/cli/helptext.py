"""How a command's ``--help`` reads: a description, then one example to copy.

Every command's epilog ends with ``example: moss ...``, one command line a user
can type as it is (argparse's own headings, ``usage:`` and ``options:``, are
lowercase too).  argparse re-wraps an epilog to the terminal's width, which would
cut a long example in two; :class:`HelpFormatter` wraps every other paragraph but
keeps an example on its line, so it can be copied, and the man pages
(:mod:`moss.cli.docgen`) and tests read it back with :func:`examples`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

EXAMPLE = "example: "


def example(command: str) -> str:
    """The epilog paragraph that shows ``command`` (a whole ``moss ...`` line)."""
    return EXAMPLE + command


def examples(text: str | None) -> list[str]:
    """The command lines of the example paragraphs in an epilog."""
    return [line.removeprefix(EXAMPLE).strip() for line in (text or "").splitlines()
            if line.startswith(EXAMPLE)]


def without_examples(text: str | None) -> str:
    """An epilog's other paragraphs (the top level's list of aliases)."""
    kept = [p for p in (text or "").split("\n\n") if p.strip() and not p.startswith(EXAMPLE)]
    return "\n\n".join(kept)


def terminal_columns() -> int:
    """The terminal's width as :func:`shutil.get_terminal_size` gives it (``COLUMNS``,
    else the size of stdout's terminal, else 80), without importing :mod:`shutil`:
    it brings bz2, lzma and zlib, which ``moss --help`` never uses (issue 18)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, with paragraphs (blank-line separated) wrapped one by one
    and an example paragraph left on its line."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        # argparse makes one formatter per ``add_argument`` (to check its metavar):
        # the width comes from terminal_columns(), as argparse's own default has it.
        super().__init__(prog, indent_increment, max_help_position,
                         terminal_columns() - 2 if width is None else width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out = []
        for paragraph in text.split("\n\n"):
            if paragraph.startswith(EXAMPLE):
                out.append(indent + paragraph.strip())
            else:
                out.append(super()._fill_text(paragraph, width, indent))
        return "\n\n".join(out)


@contextlib.contextmanager
def translations_looked_up_once() -> Iterator[None]:
    """argparse's messages translated as gettext would, with the catalogue looked up once.

    argparse passes each message it builds through :func:`gettext.gettext`, which
    searches the disk for a catalogue every time, found or not: four ``stat`` calls
    for each of the ~140 messages of the command tree, a third of ``moss --help``
    (issue 18).  For the block, argparse uses the one catalogue gettext would find
    (none: the message as it is), then its own functions again.
    """
    import gettext

    domain = gettext.textdomain()
    found = gettext.translation(domain, gettext.bindtextdomain(domain), fallback=True)
    saved = argparse._, argparse.ngettext  # type: ignore[attr-defined]
    argparse._, argparse.ngettext = found.gettext, found.ngettext  # type: ignore[attr-defined]
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved  # type: ignore[attr-defined]


def about(description: str, command: str) -> dict[str, Any]:
    """``add_parser`` keywords for a command's help: its description and its example."""
    return {"description": description, "epilog": example(command)}
