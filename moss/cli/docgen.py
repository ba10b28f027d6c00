"""Man pages and shell completions, generated from the argparse parser: real moss's
``--generate-manpages DIR`` (``moss.1``, ``moss-repo-add.1``, ... one page per
command, as clap_mangen writes them) and ``--generate-completions DIR``
(``moss.bash``, ``_moss`` for zsh, ``moss.fish``, as clap_complete names them).

Both read the same parser the command line uses, so they cannot drift from it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from moss import __version__
from moss.cli import completions
from moss.cli.cmdtree import Command, commands
from moss.cli.helptext import examples, without_examples


def _roff(text: str) -> str:
    out = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line
                     for line in out.splitlines())


def manpage(node: Command) -> str:
    name = "-".join(node.path)
    usage = " ".join(node.parser.format_usage().removeprefix("usage: ").split())
    lines = [f'.TH {name.upper()} 1 "" "moss {__version__}" "moss"', ".SH NAME",
             f"{_roff(name)} \\- {_roff(node.help or node.parser.description or '')}",
             ".SH SYNOPSIS", _roff(usage)]
    if node.parser.description:
        lines += [".SH DESCRIPTION", _roff(node.parser.description)]
    lines.append(".SH OPTIONS")
    for action in node.options:
        flags = ", ".join(action.option_strings)
        value = f" {action.metavar or action.dest.upper()}" if action.nargs != 0 else ""
        lines += [".TP", f"\\fB{_roff(flags)}\\fR{_roff(value)}", _roff(action.help or "")]
    if node.children:
        lines.append(".SH COMMANDS")
        for child, helptext in node.children.items():
            lines += [".TP", f"\\fB{_roff(child)}\\fR", _roff(helptext)]
            lines.append(f"See \\fB{_roff(node.pages[child])}\\fR(1).")
    notes, shown = without_examples(node.parser.epilog), examples(node.parser.epilog)
    if shown:  # one command line each, not refilled: it is meant to be copied
        lines += [".SH EXAMPLE", ".nf", *(_roff(e) for e in shown), ".fi"]
    if notes:
        lines += [".SH NOTES", _roff(notes)]
    return "\n".join(lines) + "\n"


def write_manpages(parser: argparse.ArgumentParser, directory: Path) -> list[Path]:
    """One page per command; an alias gets a page too when real moss has a name for it."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for node in commands(parser):
        path = directory / ("-".join(node.path) + ".1")
        path.write_text(manpage(node), encoding="utf-8")
        written.append(path)
    return written


def write_completions(parser: argparse.ArgumentParser, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    nodes = commands(parser)
    files = {"moss.bash": completions.bash(nodes), "_moss": completions.zsh(nodes),
             "moss.fish": completions.fish(nodes)}
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return [directory / name for name in files]
