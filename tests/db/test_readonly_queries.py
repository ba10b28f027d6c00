"""Queries write nothing: not on a writable root, and they work on a read-only one.

Every byte of ``.moss/db`` is compared before and after each query (no
migration, no journal-mode change, no ``-wal``/``-shm`` left behind); on a
read-only bind mount of the root (in a private mount namespace) the same
queries must succeed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.db.conftest import moss_cli

QUERIES: list[tuple[str, ...]] = [
    ("state", "list"), ("state", "active"), ("list", "installed"), ("info", "hello"),
    ("search", "hello"), ("search-file", "bin/hello"), ("boot", "status", "--boot", "/"),
]


def db_bytes(root: Path) -> dict[str, str]:
    db = root / ".moss/db"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in db.iterdir()}


@pytest.mark.parametrize("query", QUERIES, ids=" ".join)
def test_query_writes_no_byte(query: tuple[str, ...], work: Path) -> None:
    root = work / "root"
    before = db_bytes(root)
    proc = moss_cli(root, *query)
    assert proc.returncode == 0, proc.stderr
    assert db_bytes(root) == before


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare for a private read-only bind mount")
def test_queries_work_on_a_read_only_root(work: Path) -> None:
    root = work / "root"
    before = db_bytes(root)
    for query in QUERIES:
        script = ('mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && '
                  'exec "$@"')
        proc = subprocess.run(
            ["unshare", "-m", "sh", "-c", script, "sh", str(root), sys.executable, "-m", "moss",
             "-D", str(root), "--quiet", *query],
            capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (query, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert db_bytes(root) == before


def test_query_on_an_older_schema_migrates_nothing_on_disk(work: Path) -> None:
    """A database at an older ``user_version`` (0: real moss's diesel-era releases,
    same tables) is read through an in-memory migrated copy, the file left as it is."""
    root = work / "root"
    for name in ("install", "state", "layout"):
        conn = sqlite3.connect(root / ".moss/db" / name)
        conn.execute("PRAGMA user_version = 0")
        conn.close()
    before = db_bytes(root)
    for query in (("info", "hello", "--files"), ("state", "list"), ("list", "installed")):
        proc = moss_cli(root, *query)
        assert proc.returncode == 0, proc.stderr
    assert "/usr/bin/hello" in moss_cli(root, "info", "hello", "--files").stdout
    assert db_bytes(root) == before
