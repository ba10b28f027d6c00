"""Every command's ``--help`` says what it does and shows one example that works.

The commands are found by walking the real parser (a new command is covered
without touching this file); each ``moss CMD... --help`` runs through ``main``,
the CLI's entry point (the narrow-terminal case in a process of its own).  The
example is parsed by the same parser ``main`` uses, so an example with a misspelt
option or a missing argument fails here, not in front of a reader.
The man pages carry the same description and example.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from moss.cli import build_parser, main
from moss.cli.cmdtree import Command, commands
from moss.cli.globals import bare_provides
from moss.cli.helptext import examples

REPO = Path(__file__).resolve().parents[2]
MIN_WORDS = 8  # "a one-paragraph description": more than a restated name


def squeeze(text: str) -> str:
    """Text without whitespace: argparse wraps (and breaks at hyphens) as it likes."""
    return "".join(text.split())


def shown_help(path: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    """``moss PATH... --help`` through ``main``, in this process: 46 interpreters
    starting on a busy machine took three minutes."""
    argv = [*path[1:], "--help"]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            status = main(argv)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess(["moss", *argv], status, stdout.getvalue(),
                                       stderr.getvalue())


def example_lines(stdout: str) -> list[str]:
    return [line.strip().removeprefix("example:").strip() for line in stdout.splitlines()
            if line.strip().lower().startswith("example:")]


def parse_error(words: list[str]) -> str | None:
    """What the real parser says about ``moss WORDS`` (None: it is accepted)."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            args = build_parser().parse_args(bare_provides(words))
    except SystemExit:
        return stderr.getvalue().strip() or "exited while parsing"
    if getattr(args, "handler", None) is None:
        return "parsed, but names no command that runs"
    return None


def problems(node: Command, proc: subprocess.CompletedProcess[str]) -> list[str]:
    """What is wrong with one command's help (empty: nothing)."""
    name = " ".join(node.path)
    if proc.returncode != 0:
        return [f"{name} --help: exit {proc.returncode}: {proc.stderr.strip()}"]
    out: list[str] = []
    description = node.parser.description or ""
    if len(description.split()) < MIN_WORDS:
        out.append(f"{name}: no description (a paragraph) in --help")
    elif squeeze(description) not in squeeze(proc.stdout):
        out.append(f"{name}: --help does not show its description")
    lines = example_lines(proc.stdout)
    if len(lines) != 1:
        return [*out, f"{name}: --help shows {len(lines)} example lines, not one"]
    words = shlex.split(lines[0])
    if words[:len(node.path)] != list(node.path):
        out.append(f"{name}: the example {lines[0]!r} is not a `{name}` command")
    error = parse_error(words[1:])
    if error:
        out.append(f"{name}: the example {lines[0]!r} is refused: {error}")
    return out


def test_every_command_has_a_description_and_an_example_that_parses(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    nodes = commands(build_parser())
    assert len(nodes) > 40  # the walk found the nested commands (state list, repo add...)
    found = [p for node in nodes for p in problems(node, shown_help(node.path))]
    assert not found, "\n".join(found)


def test_a_long_example_stays_on_one_line_in_a_narrow_terminal() -> None:
    proc = subprocess.run([sys.executable, "-m", "moss", "pack", "--help"], capture_output=True,
                          text=True, timeout=120, check=True, cwd=REPO,
                          env={**os.environ, "COLUMNS": "40"})
    (line,) = example_lines(proc.stdout)
    assert parse_error(shlex.split(line)[1:]) is None


def roff_text(page: str) -> str:
    return page.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "")


def test_man_pages_carry_the_description_and_the_example(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "moss", "--generate-manpages",
                           str(tmp_path)], capture_output=True, text=True, timeout=120,
                          check=False, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    missing = []
    for node in commands(build_parser()):
        page = roff_text((tmp_path / ("-".join(node.path) + ".1")).read_text())
        description = node.parser.description or ""
        sections = page.split(".SH ")
        described = [s for s in sections if s.startswith("DESCRIPTION")]
        example = [s for s in sections if s.startswith("EXAMPLE")]
        if not described or squeeze(description) not in squeeze(described[0]):
            missing.append(f"{node.path}: description")
        if not example or f"\n{' '.join(examples(node.parser.epilog))}\n" not in example[0]:
            missing.append(f"{node.path}: example")
    assert not missing, missing
    if shutil.which("man") is None:
        pytest.skip("man(1) is not installed")
    shown = subprocess.run(["man", "-l", str(tmp_path / "moss-state-list.1")],
                           capture_output=True, text=True, check=True,
                           env={**os.environ, "MANWIDTH": "100", "MANPAGER": "cat"}).stdout
    assert "EXAMPLE" in shown and "moss state list" in shown


def test_the_parser_tree_is_walked_not_listed() -> None:
    """A command added later is covered: the walk sees a parser it was never told of."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub.add_parser("newcomer", help="added by this test")
    assert ("moss", "newcomer") in {n.path for n in commands(parser)}
