"""What a state command changes is shown before it asks, as a user at a terminal sees it.

``state activate N`` lists the packages it adds, removes and changes; ``state
prune`` and ``state remove`` list the states they remove and the space freed;
``state diff A B`` shows the difference between any two states; and a state
that does not exist is refused before any question.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.packages import make_package
from tests.support.terminal import Terminal, run_with_keyboard


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "--quiet", *args],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def answer_no(root: Path, *args: str) -> str:
    """Run on a terminal, answer "n" to the question, return everything shown."""
    term = Terminal([sys.executable, "-m", "moss", "-D", str(root), "--quiet", *args])
    term.wait_for(b"[y/N]")
    term.type(b"n\n")
    status, shown = term.finish()
    # Answering N exits 1, like apt and dnf (README, exit statuses).
    assert status == 1, shown
    return shown


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """States 1 (hello r1), 2 (+ other), 3 (hello r2, other), 4 (hello r2, no other)."""
    hello1 = make_package(tmp_path, "hello", {"bin/hello": "1\n", "share/big": "x" * 300_000},
                          release=1)
    hello2 = make_package(tmp_path, "hello", {"bin/hello": "2\n"}, release=2)
    other = make_package(tmp_path, "other", {"bin/other": "o\n"})
    root = tmp_path / "root"
    for args in (("install", str(hello1)), ("install", str(other)), ("install", str(hello2)),
                 ("remove", "other")):
        assert moss(root, "-y", *args).returncode == 0
    return root


def test_state_diff(root: Path) -> None:
    shown = moss(root, "state", "diff", "1", "4").stdout
    assert "change  hello 1.0-1 -> 1.0-2" in shown
    shown = moss(root, "state", "diff", "4", "2").stdout
    assert "add     other 1.0-1" in shown and "change  hello 1.0-2 -> 1.0-1" in shown
    report = json.loads(moss(root, "state", "diff", "3", "4", "--json").stdout)
    assert report == {"from": 3, "to": 4, "added": [], "changed": [],
                      "removed": [{"name": "other", "version": "1.0-1"}]}
    missing = moss(root, "state", "diff", "1", "42")
    assert missing.returncode == 1 and missing.stderr.strip().splitlines() == [
        "moss: error: no state 42; `moss state list` shows the states"]


def test_activate_shows_the_package_changes_before_asking(root: Path) -> None:
    shown = answer_no(root, "state", "activate", "2")
    question = shown.index("[y/N]")
    assert -1 < shown.index("add     other 1.0-1") < question
    assert -1 < shown.index("change  hello 1.0-2 -> 1.0-1") < question
    assert "moss: cancelled; nothing was changed" in shown
    assert (root / "usr/bin/hello").read_text() == "2\n"


def test_prune_shows_states_and_space_before_asking(root: Path) -> None:
    shown = answer_no(root, "state", "prune", "--keep", "2")
    question = shown.index("[y/N]")
    listed = shown[:question]
    assert "These states will be removed:" in listed
    lines = [line.split() for line in listed.splitlines()]
    assert sorted(int(words[0]) for words in lines if words and words[0].isdigit()) == [1, 2]
    assert "This frees about 29" in listed  # hello r1's 300 000-byte blob: 293.0 KiB
    assert "KiB" in listed
    assert (root / ".moss/root/1/usr/.stateID").exists()


def test_remove_passes_over_an_unknown_state_as_real_moss(root: Path) -> None:
    """Real moss's ``state remove`` removes the ids it knows and passes over the rest
    (status 0); here a note on stderr names them, and nothing is asked or removed."""
    trees = sorted(p.name for p in (root / ".moss/root").iterdir())
    proc = run_with_keyboard([sys.executable, "-m", "moss", "-D", str(root), "state", "remove",
                              "42"])
    assert proc.returncode == 0
    assert proc.stderr.strip().splitlines() == [
        "moss: note: no state 42; skipped (`moss state list` shows the states)"]
    assert "[y/N]" not in proc.stdout and "Removed states: none" in proc.stdout
    assert sorted(p.name for p in (root / ".moss/root").iterdir()) == trees
    gappy = moss(root, "-y", "state", "remove", "1-2", "40-41")
    assert gappy.returncode == 0, gappy.stderr
    assert "Removed states: 1, 2" in gappy.stdout
    assert "no state 40, 41; skipped" in gappy.stderr
    assert not (root / ".moss/root/1").exists() and not (root / ".moss/root/2").exists()
    assert (root / ".moss/root/3/usr/.stateID").exists()
    shown = answer_no(root, "state", "remove", "3")
    assert "These states will be removed:" in shown and shown.index("3   ") < shown.index("[y/N]")
