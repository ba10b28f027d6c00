"""Another tool's command (``moss update``, ``moss rollback``...) gets a usage error that
names moss's own command, never a guess at a look-alike (``uninstall`` is not ``install``)."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moss.cli import build_parser, main
from moss.cli.foreign import FOREIGN_VERBS
from moss.cli.globals import subparsers_of

MOSS = [sys.executable, "-m", "moss"]
# A placeholder in a suggestion, and a value that parses in its place.
# moss's own top-level commands and aliases.
COMMANDS = frozenset(subparsers_of(build_parser([]))[0].choices)
PLACEHOLDERS = {"NAME": "hello", "ID": "1", "PATH": "/usr/bin/hello", "A": "1", "B": "2"}


@pytest.mark.parametrize(("verb", "meant"), [
    ("update", "moss repo update"), ("upgrade", "moss sync"),
    ("rollback", "moss state activate"), ("history", "moss state list"),
    ("uninstall", "moss remove"), ("purge", "moss remove"), ("show", "moss info"),
    ("list-installed", "moss list installed"),
])
def test_a_foreign_verb_points_to_moss_command(verb: str, meant: str, tmp_path: Path) -> None:
    proc = subprocess.run([*MOSS, "-D", str(tmp_path), verb], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("moss")]
    assert len(errors) == 1 and errors[0].startswith(f"moss: error: unknown command '{verb}'")
    assert f"`{meant}" in errors[0], errors[0]
    assert "did you mean" not in errors[0]
    assert proc.stdout == "" and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("verb", sorted(FOREIGN_VERBS))
def test_every_suggestion_is_a_moss_command(verb: str) -> None:
    """The rule behind the table: a foreign verb is not moss's (else it would run), and
    every command its hint names parses as it is written."""
    assert verb not in COMMANDS
    named = re.findall(r"`moss ([^`]*)`", FOREIGN_VERBS[verb])
    assert named, FOREIGN_VERBS[verb]
    for command in named:
        argv = [PLACEHOLDERS.get(word, word) for word in command.split()]
        args = build_parser(argv).parse_args(argv)
        assert getattr(args, "handler", None) is not None, command


@settings(max_examples=80, deadline=None)
@given(st.one_of(st.sampled_from(sorted(FOREIGN_VERBS)),
                 st.from_regex(r"[a-z][a-z-]{0,11}", fullmatch=True)))
def test_any_unknown_word_is_one_usage_line(word: str) -> None:
    """A word that is no command: status 2 and one error line, a foreign verb's hint or
    the generic one; a real command is left alone."""
    if word in COMMANDS:
        return  # a moss command (or alias): not this test's business
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exited:
        main([word])
    assert exited.value.code == 2
    errors = [line for line in err.getvalue().splitlines() if "error" in line]
    assert errors == [errors[0]] and errors[0].startswith(f"moss: error: unknown command '{word}'")
    if word in FOREIGN_VERBS:
        assert FOREIGN_VERBS[word] in errors[0]
    else:
        assert "`moss --help` lists them" in errors[0]
