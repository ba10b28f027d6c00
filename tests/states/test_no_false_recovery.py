"""A clean run leaves nothing unfinished, and the next run says nothing about recovering
(issue 25 item 8: "Removing unfinished store files" showed before `up`, `state activate`
and `state prune` after runs that had all succeeded: an empty `incoming/` was left)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from moss.cli import main
from moss.core.root import Root
from moss.stonetools.index import build_index
from tests.support.packages import make_package
from tests.support.terminal import run_on_terminal

CLEAN_RUNS = {
    "install": ["install", "hello"],
    "install a file": ["install", "FILE"],
    "remove": ["remove", "tool"],
    "sync": ["sync"],
    "state activate": ["state", "activate", "1"],
    "state prune": ["state", "prune", "-k", "1"],
    "cache prune": ["cache", "prune"],
}


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


@pytest.mark.parametrize("clean", list(CLEAN_RUNS))
def test_a_clean_run_leaves_nothing_for_the_next_to_recover(tmp_path: Path,
                                                            clean: str) -> None:
    repo, root = tmp_path / "repo", tmp_path / "root"
    repo.mkdir()
    make_package(repo, "hello", {"bin/hello": "hello\n"})
    make_package(repo, "tool", {"bin/tool": "tool\n"})
    build_index(repo)
    local = make_package(tmp_path, "extra", {"bin/extra": "extra\n"})
    assert moss(root, "repo", "add", "main", (repo / "stone.index").as_uri()) == 0
    assert moss(root, "install", "tool") == 0
    args = [str(local) if a == "FILE" else a for a in CLEAN_RUNS[clean]]
    # The clean run itself, on a terminal as a user runs it (progress lines shown).
    run_on_terminal([sys.executable, "-m", "moss", "-D", str(root), "-y", *args])
    assert not Root(root).incoming.exists()
    shown = run_on_terminal([sys.executable, "-m", "moss", "-D", str(root), "-y",
                             "state", "activate", "1"])
    assert "unfinished" not in shown and "recovered" not in shown, shown
