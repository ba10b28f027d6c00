"""``install --to DIR`` and ``sync --to DIR`` through the CLI: real moss's ephemeral root.

DIR gets a whole root (``usr`` from the store, root links, ``etc``, the system
model); the ``-D`` root records no state and its ``/usr`` is untouched.  Its
``install`` and ``layout`` databases learn the downloaded packages, as real
moss's ``cache_packages`` records them (moss/src/client/mod.rs); its ``state``
database is byte for byte the same.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from moss.stone import FileKind, open_stone, xxh3_128
from tests.db import realmoss
from tests.support.packages import tree_snapshot

PINEAPPLE = "pineapple-1-1-1-x86_64.stone"
BASH_COMPLETION = "bash-completion-2.11-1-1-x86_64.stone"



def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), *args],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root as real moss leaves it (state 1: bash-completion) with a repository of
    real stones (pineapple, italian-pizza) added and its index fetched."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in (PINEAPPLE, "italian-pizza-1-1-1-x86_64.stone"):
        shutil.copy(realmoss.STONES / name, repo / name)
    assert moss(tmp_path, "index", str(repo)).returncode == 0
    path = tmp_path / "root"
    realmoss.build_root(path, [BASH_COMPLETION])
    for args in (["repo", "add", "main", (repo / "stone.index").as_uri()], ["repo", "update"]):
        proc = moss(path, *args)
        assert proc.returncode == 0, proc.stderr
    return path


def fingerprint(root: Path) -> tuple[bytes, object, object, list[str]]:
    """What must not change: the state database's bytes, the states real moss's own
    query returns, the live /usr, and the state trees on disk."""
    db = root / ".moss/db"
    return ((db / "state").read_bytes(), realmoss.states(db), tree_snapshot(root / "usr"),
            sorted(p.name for p in (root / ".moss/root").iterdir())
            if (root / ".moss/root").exists() else [])


def assert_files_of(stone: Path, usr: Path) -> int:
    """Every entry of ``stone``'s layout is in ``usr`` with its digest, mode or target."""
    with open_stone(stone) as reader:
        layout = reader.layout()
    for entry in layout:
        path = usr / entry.target
        if entry.file_kind is FileKind.REGULAR:
            assert stat.S_IMODE(path.lstat().st_mode) == entry.mode & 0o7777, entry.target
            assert xxh3_128(path) == entry.digest, entry.target
        elif entry.file_kind is FileKind.SYMLINK:
            assert os.readlink(path) == entry.source
    return len(layout)


def test_install_to_builds_a_root_and_records_no_state(root: Path, tmp_path: Path) -> None:
    before = fingerprint(root)
    out = tmp_path / "out"
    proc = moss(root, "install", "--to", str(out), "-y", "pineapple")
    assert proc.returncode == 0, proc.stderr
    assert "no state recorded" in proc.stdout
    assert assert_files_of(realmoss.STONES / PINEAPPLE, out / "usr") > 0
    # Only what was asked for (and what it needs), not the root's bash-completion.
    assert not (out / "usr/share/bash-completion").exists()
    assert (root / "usr/share/bash-completion").is_dir()
    assert not (out / "usr/.stateID").exists()
    assert "pineapple" in (out / "usr/lib/system-model.kdl").read_text()
    assert os.readlink(out / "bin") == "usr/bin" and (out / "etc").is_dir()
    assert fingerprint(root) == before
    # As real moss's cache_packages: the root's install database now knows pineapple.
    assert "pineapple" in {m["name"] for m in realmoss.metas(root / ".moss/db").values()}
    assert moss(root, "state", "verify").returncode == 0


def test_sync_to_builds_the_whole_selection_into_an_emptied_dir(root: Path,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "stale").mkdir(parents=True)
    (out / "stale/file").write_text("from before\n")
    before = fingerprint(root)
    proc = moss(root, "sync", "--to", str(out), "-y")
    assert proc.returncode == 0, proc.stderr
    assert assert_files_of(realmoss.STONES / BASH_COMPLETION, out / "usr") > 0
    assert not (out / "stale").exists()  # real moss empties DIR first
    assert fingerprint(root) == before


def test_dry_run_writes_nothing(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = fingerprint(root)
    proc = moss(root, "install", "--to", str(out), "--dry-run", "pineapple")
    assert proc.returncode == 0, proc.stderr
    assert "pineapple" in proc.stdout
    assert not out.exists()
    assert fingerprint(root) == before


@pytest.mark.parametrize("where", ["file", "root", "parent"])
def test_bad_target_is_one_line_and_changes_nothing(root: Path, tmp_path: Path,
                                                   where: str) -> None:
    target = {"file": tmp_path / "a-file", "root": root, "parent": tmp_path}[where]
    (tmp_path / "a-file").write_text("keep me\n")
    before = fingerprint(root)
    install_db = (root / ".moss/db/install").read_bytes()
    proc = moss(root, "install", "--to", str(target), "-y", "pineapple")
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "--to" in proc.stderr
    assert (tmp_path / "a-file").read_text() == "keep me\n"
    assert fingerprint(root) == before
    assert (root / ".moss/db/install").read_bytes() == install_db
