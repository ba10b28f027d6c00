"""The command tree of the argparse parser, as man pages and completions read it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from moss.cli.globals import subparsers_of


@dataclass
class Command:
    """One node of the command tree: its words, options, children and help."""

    path: tuple[str, ...]
    parser: argparse.ArgumentParser
    help: str = ""
    options: list[argparse.Action] = field(default_factory=list)
    children: dict[str, str] = field(default_factory=dict)  # name (and alias) -> help
    pages: dict[str, str] = field(default_factory=dict)  # name (and alias) -> its man page


def commands(parser: argparse.ArgumentParser) -> list[Command]:
    """Every command below ``parser``, depth first; an alias (``ar``, ``ls``) is listed
    as a child word but leads to its command's node, not to a page of its own."""
    out: list[Command] = []

    def visit(p: argparse.ArgumentParser, path: tuple[str, ...], helptext: str) -> None:
        node = Command(path, p, helptext,
                       [a for a in p._actions if a.option_strings and a.help != argparse.SUPPRESS])
        out.append(node)
        for action in subparsers_of(p):
            helps = {c.dest: c.help or "" for c in action._choices_actions}
            for name, child in action.choices.items():
                # argparse names a parser after its command: `moss repo add`, also as `ar`.
                node.children[name] = helps.get(name, "") or child.description or ""
                node.pages[name] = child.prog.replace(" ", "-")
            for name, child in action.choices.items():
                if child.prog == " ".join((*path, name)):
                    visit(child, (*path, name), helps.get(name, ""))

    visit(parser, ("moss",), parser.description or "")
    return out
