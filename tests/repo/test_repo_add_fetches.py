"""`moss repo add` fetches the index at once, as real moss refreshes a repository it adds
(issue 25 item 3): the next `install NAME` finds its packages.  When the fetch fails the
repository stays added, and moss exits 1 with one line saying how to retry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from moss.stonetools.index import build_index
from tests.support.packages import make_package


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), *args],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def served(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    make_package(repo, "hello", {"bin/hello": "hello\n"}, depends=("zlib",))
    make_package(repo, "zlib", {"lib/libz.so.1": "z\n"})
    build_index(repo)
    return repo


def test_added_repository_is_installable_at_once(served: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    added = moss(root, "repo", "add", "main", (served / "stone.index").as_uri())
    assert added.returncode == 0, added.stderr
    assert "main: 2 packages" in added.stdout
    listed = moss(root, "repo", "list", "--json")
    assert [(r["id"], r["fetched"]) for r in json.loads(listed.stdout)] == [("main", True)]
    installed = moss(root, "install", "-y", "hello")
    assert installed.returncode == 0, installed.stderr
    assert (root / "usr/bin/hello").read_text() == "hello\n"


@pytest.mark.parametrize("damage", ["missing", "not an index"])
def test_failed_fetch_keeps_the_repository_and_says_so(served: Path, tmp_path: Path,
                                                       damage: str) -> None:
    index = served / "stone.index"
    if damage == "missing":
        index.unlink()
    else:
        index.write_bytes(b"this is not a stone index\n")
    root = tmp_path / "root"
    added = moss(root, "repo", "add", "main", index.as_uri())
    assert added.returncode == 1
    assert "Traceback" not in added.stderr
    lines = added.stderr.strip().splitlines()
    assert len(lines) == 1 and "repository main is added" in lines[0], added.stderr
    assert "moss repo update main" in lines[0]
    listed = moss(root, "repo", "list", "--json")
    assert [(r["id"], r["fetched"]) for r in json.loads(listed.stdout)] == [("main", False)]
    # Once the index is there, the retry the message names works.
    build_index(served)
    retried = moss(root, "repo", "update", "main")
    assert retried.returncode == 0 and "main: 2 packages" in retried.stdout
