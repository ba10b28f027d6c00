"""Failures a user meets at the terminal: one line on stderr and a documented status.

Each test runs moss as a user does, in a subprocess: its output into a pipe that
``head`` already closed, its prompt on a pseudo-terminal answered with "n",
Ctrl-D or Ctrl-C, SIGINT while it starts up or works, and file names that hold
control characters.  ``-v`` still shows the traceback.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from moss.cli import main
from tests.support.interrupt import sigint_default
from tests.support.packages import make_package, tree_snapshot
from tests.support.terminal import Terminal

MOSS = [sys.executable, "-m", "moss"]


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MOSS, "-D", str(root), *args], capture_output=True, text=True,
                          timeout=120, check=False)


def one_line(stderr: str) -> str:
    """The whole of stderr, which must be one line and no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def active(root: Path) -> str:
    return (root / "usr/.stateID").read_text()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root with two states of ``hello`` and a package with many files."""
    work = tmp_path_factory.mktemp("template")
    root = work / "root"
    for release in (1, 2):
        pkg = make_package(work, "hello", {"bin/hello": f"hello {release}\n"}, release=release)
        assert main(["-D", str(root), "-y", "--quiet", "install", str(pkg)]) == 0
    # Long names: `info many --files` prints ~190 KB, more than a pipe holds (64 KB).
    many = make_package(work, "many", {f"share/many/{'long-name-' * 10}{i:04}": f"{i}\n"
                                       for i in range(1500)})
    assert main(["-D", str(root), "-y", "--quiet", "install", str(many)]) == 0
    return root


@pytest.fixture
def root(template: Path, tmp_path: Path) -> Path:
    """A copy of the template for one test to change."""
    return Path(shutil.copytree(template, tmp_path / "root", symlinks=True))


# --- output into a closed pipe: `moss ... | head -1` ---------------------------------------

PIPED_COMMANDS = [
    ("list", "installed"),  # short: fails at the final flush
    ("info", "many", "--files"),  # long: fails in the middle of printing
    ("info", "many", "--json"),
    ("search-file", "share/many"),
    ("state", "list"),
]


def run_into_closed_pipe(argv: list[str]) -> tuple[int, str]:
    """stdout is a pipe whose reader is gone before moss writes a byte."""
    reader, writer = os.pipe()
    os.close(reader)
    proc = subprocess.Popen(argv, stdout=writer, stderr=subprocess.PIPE)
    os.close(writer)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err.decode()


@pytest.mark.parametrize("args", PIPED_COMMANDS, ids=" ".join)
def test_output_into_a_closed_pipe_exits_quietly(root: Path, args: tuple[str, ...]) -> None:
    status, err = run_into_closed_pipe([*MOSS, "-D", str(root), *args])
    assert (status, err) == (141, "")


def test_head_reading_one_line_of_a_long_listing(root: Path) -> None:
    """The real `| head -1`: the reader takes one line, then goes away."""
    reader, writer = os.pipe()
    proc = subprocess.Popen([*MOSS, "-D", str(root), "info", "many", "--files"],
                            stdout=writer, stderr=subprocess.PIPE)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        first = pipe.readline()
    _, err = proc.communicate(timeout=120)
    assert first
    assert (proc.returncode, err.decode()) == (141, "")


def test_broken_pipe_with_verbose_shows_the_traceback(root: Path) -> None:
    status, err = run_into_closed_pipe([*MOSS, "-v", "-D", str(root), "info", "many", "--files"])
    assert status == 141
    assert "Traceback" in err and "BrokenPipeError" in err


# --- the confirmation prompt on a terminal ----------------------------------------------


def moss_lines(shown: str) -> list[str]:
    assert "Traceback" not in shown and "Error" not in shown, shown
    return [line for line in shown.splitlines() if line.startswith("moss:")]


PROMPTING = [
    ("install", "NEW"),
    ("remove", "hello"),
    ("state", "activate", "1"),
    ("state", "remove", "1"),
    ("state", "prune", "--keep", "1"),
]


@pytest.fixture
def prompting(root: Path, tmp_path: Path) -> tuple[Path, Path]:
    new = make_package(tmp_path, "extra", {"bin/extra": "extra\n"})
    return root, new


def prompt_argv(root: Path, new: Path, args: tuple[str, ...]) -> list[str]:
    return [*MOSS, "-D", str(root), *(str(new) if a == "NEW" else a for a in args)]


@pytest.mark.parametrize("args", PROMPTING, ids=" ".join)
def test_answering_no_exits_1_and_changes_nothing(
        prompting: tuple[Path, Path], args: tuple[str, ...]) -> None:
    root, new = prompting
    before = tree_snapshot(root / ".moss/root"), tree_snapshot(root / "usr")
    term = Terminal(prompt_argv(root, new, args))
    term.wait_for(b"[y/N]")
    term.type(b"n\n")
    status, shown = term.finish()
    assert status == 1, shown
    assert moss_lines(shown) == ["moss: cancelled; nothing was changed"]
    assert (tree_snapshot(root / ".moss/root"), tree_snapshot(root / "usr")) == before


@pytest.mark.parametrize("args", PROMPTING[:3], ids=" ".join)
def test_ctrl_d_at_the_prompt_cancels(prompting: tuple[Path, Path],
                                      args: tuple[str, ...]) -> None:
    root, new = prompting
    before = tree_snapshot(root / "usr")
    term = Terminal(prompt_argv(root, new, args))
    term.wait_for(b"[y/N]")
    term.type(b"\x04")  # Ctrl-D: end of input
    status, shown = term.finish()
    assert status == 1, shown
    assert moss_lines(shown) == ["moss: cancelled; nothing was changed"]
    assert tree_snapshot(root / "usr") == before


@pytest.mark.parametrize("args", PROMPTING[:3], ids=" ".join)
def test_ctrl_c_at_the_prompt_exits_130(prompting: tuple[Path, Path],
                                        args: tuple[str, ...]) -> None:
    root, new = prompting
    before = tree_snapshot(root / "usr")
    term = Terminal(prompt_argv(root, new, args))
    term.wait_for(b"[y/N]")
    term.wait_reading()
    term.proc.send_signal(signal.SIGINT)  # what the terminal sends for Ctrl-C
    status, shown = term.finish()
    assert status == 130, shown
    assert moss_lines(shown) == ["moss: interrupted at the prompt; nothing was changed"]
    assert tree_snapshot(root / "usr") == before
    assert cli(root, "-y", "--quiet", "install", str(new)).returncode == 0  # no stale lock


def test_ctrl_c_with_verbose_shows_the_traceback(prompting: tuple[Path, Path]) -> None:
    root, new = prompting
    term = Terminal([*MOSS, "-v", "-D", str(root), "install", str(new)])
    term.wait_for(b"[y/N]")
    term.wait_reading()
    term.proc.send_signal(signal.SIGINT)
    status, shown = term.finish()
    assert status == 130
    assert "Traceback" in shown and "KeyboardInterrupt" in shown


def test_ctrl_c_during_start_up_is_one_line(root: Path) -> None:
    """SIGINT at many moments from exec to the end of a query: never a moss traceback.

    Before moss's first line runs, the interrupt is Python's own business: it dies
    of the signal (-SIGINT), or its start-up (site, .pth files) reports what it
    caught and carries on or gives up.  From moss/__main__.py on, moss says it in
    one line with status 130, or finishes (0) if the signal came too late.
    """
    interrupted = 0
    for delay in [i * 0.04 for i in range(25)]:
        proc = subprocess.Popen([*MOSS, "-D", str(root), "list", "installed"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                preexec_fn=sigint_default)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        stderr = err.decode()
        assert "moss/__main__.py" not in stderr, (delay, stderr)  # in every moss traceback
        ours = [line for line in stderr.splitlines() if line.startswith("moss:")]
        if ours:
            # -SIGINT too: CPython re-raises SIGINT at exit when the interrupt escaped an
            # exec() of a string (dataclasses makes __init__ so), though moss caught it.
            # A shell shows both as 130.
            assert proc.returncode in (130, -signal.SIGINT), (delay, proc.returncode, stderr)
            assert len(ours) == 1 and ours[0].startswith("moss: interrupted"), stderr
            assert stderr.splitlines()[-1] == ours[0], stderr
        interrupted += proc.returncode != 0
    assert interrupted, "no run was interrupted: the signal never reached moss"


# --- messages naming odd paths ----------------------------------------------------------


def test_control_characters_in_a_path_are_escaped(root: Path, tmp_path: Path) -> None:
    bad = tmp_path / "two\nlines\x1b[31m.stone"
    bad.write_bytes(b"not a stone file at all, but long enough to have a header" * 4)
    before = tree_snapshot(root / "usr")
    proc = cli(root, "-y", "install", str(bad))
    assert proc.returncode == 1
    line = one_line(proc.stderr)
    assert line.startswith("moss: error: ")
    assert "two\\nlines\\x1b[31m.stone" in line
    assert tree_snapshot(root / "usr") == before


def test_a_damaged_stone_file_is_one_line_from_every_command(tmp_path: Path) -> None:
    """The format's own error reaches the user through the same path as MossError."""
    bad = tmp_path / "damaged.stone"
    good = make_package(tmp_path, "hello", {"bin/hello": "hello\n"})
    bad.write_bytes(good.read_bytes()[:-40])  # truncated in its last payload
    for args in (["inspect", str(bad)], ["extract", str(bad), "-C", str(tmp_path / "x")],
                 ["-y", "install", str(bad)]):
        proc = cli(tmp_path / "root", *args)
        assert proc.returncode == 1, (args, proc.stderr)
        assert one_line(proc.stderr).startswith(f"moss: error: {bad}"), (args, proc.stderr)
