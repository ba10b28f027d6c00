"""A root of this project's earlier releases is upgraded once to real moss's schemas.

``tests/data/legacy-root-1739e36.tar.gz`` is a root built by this project at
commit 1739e36 (before issue 14): ``moss install`` of hello release 1, then 2,
so its databases have the old schemas (``selections``, ``licenses``,
``assets``..., ``user_version`` 1 and 3, WAL mode).  Queries read it without a
byte written; the first mutating command converts it, keeping the old files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import tarfile
from pathlib import Path

import pytest

from tests.db import realmoss
from tests.db.conftest import moss_cli
from tests.db.test_realmoss import assert_schemas_untouched, read_only_run

ARCHIVE = Path(__file__).parent.parent / "data/legacy-root-1739e36.tar.gz"


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    with tarfile.open(ARCHIVE) as tar:
        tar.extractall(tmp_path, filter="tar")
    return tmp_path / "root"


def tree_bytes(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def old_rows(db: Path) -> tuple[list[tuple[object, ...]], dict[str, str], int]:
    with contextlib.closing(sqlite3.connect(db / "state")) as state:
        states = state.execute("SELECT id, created, summary FROM state ORDER BY id").fetchall()
        seq = state.execute("SELECT seq FROM sqlite_sequence WHERE name='state'").fetchone()[0]
    with contextlib.closing(sqlite3.connect(db / "layout")) as layout:
        assets = dict(layout.execute("SELECT digest, blake3 FROM assets").fetchall())
    return states, assets, seq


def test_queries_on_a_legacy_root_write_nothing(legacy: Path) -> None:
    before = tree_bytes(legacy / ".moss")
    for query in (("state", "list"), ("list", "installed"), ("info", "hello", "--files")):
        proc = moss_cli(legacy, *query)
        assert proc.returncode == 0, (query, proc.stderr)
    assert "/usr/share/only-2" in moss_cli(legacy, "info", "hello", "--files").stdout
    assert "replace hello-1.0-1 with hello-1.0-2" in moss_cli(legacy, "state", "list").stdout
    assert tree_bytes(legacy / ".moss") == before


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare for a private read-only bind mount")
def test_queries_on_a_read_only_legacy_root(legacy: Path) -> None:
    before = tree_bytes(legacy / ".moss")
    for query in (("state", "list"), ("list", "installed"), ("info", "hello", "--files")):
        proc = read_only_run(legacy, *query)
        assert proc.returncode == 0, (query, proc.stderr)
    assert tree_bytes(legacy / ".moss") == before


def test_first_mutating_command_upgrades_once(legacy: Path) -> None:
    db = legacy / ".moss/db"
    states, assets, seq = old_rows(db)
    old = tree_bytes(db)
    proc = moss_cli(legacy, "state", "activate", "1")
    assert proc.returncode == 0, proc.stderr
    assert (legacy / "usr/.stateID").read_text() == "1"
    assert tree_bytes(legacy / ".moss/db.legacy") == old  # the old files, kept as they were
    assert_schemas_untouched(db)
    real = realmoss.states(db)
    assert [(s["id"], s["created"], s["summary"]) for s in real] == states
    with contextlib.closing(sqlite3.connect(db / "state")) as conn:
        assert conn.execute("SELECT seq FROM sqlite_sequence").fetchone()[0] == seq
    with contextlib.closing(sqlite3.connect(db / "extras")) as conn:
        assert dict(conn.execute("SELECT digest, blake3 FROM assets").fetchall()) == assets
    ids = [p for s in real for p, _ in s["selections"]]
    assert {realmoss.metas(db)[p]["name"] for p in ids} == {"hello"}
    layouts = realmoss.layouts(db, ids)
    assert sorted(v2 for _, _, v2 in layouts[ids[0]] if v2) == [
        "bin/hello", "share/a/b", "share/only-1"]
    assert moss_cli(legacy, "state", "verify").returncode == 0
    assert moss_cli(legacy, "state", "activate", "2").returncode == 0
    assert tree_bytes(legacy / ".moss/db.legacy") == old  # upgraded once only
