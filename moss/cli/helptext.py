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


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, with paragraphs (blank-line separated) wrapped one by one
    and an example paragraph left on its line."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out = []
        for paragraph in text.split("\n\n"):
            if paragraph.startswith(EXAMPLE):
                out.append(indent + paragraph.strip())
            else:
                out.append(super()._fill_text(paragraph, width, indent))
        return "\n\n".join(out)


def about(description: str, command: str) -> dict[str, Any]:
    """``add_parser`` keywords for a command's help: its description and its example."""
    return {"description": description, "epilog": example(command)}
