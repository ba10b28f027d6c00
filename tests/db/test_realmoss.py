"""Both directions with real moss (AerynOS/os-tools): a root either one built, the other uses.

A root is built here exactly as real moss builds it (its schemas, its inserts,
real ``.stone`` files unpacked into the store, a ``/usr`` with ``.stateID``);
this moss must read it without writing a byte, build state 2 on it in real
moss's tables, and roll back.  The other way round, real moss's own queries on
a root this moss built must return what this moss shows.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from moss.store.incoming import read_package
from tests.db import realmoss
from tests.db.conftest import moss_cli

# italian-pizza declares Conflicts pineapple: state 1 selects it, so installing
# pineapple is refused on a conflict read from real moss's meta_conflicts.
STONES = ["bash-completion-2.11-1-1-x86_64.stone", "italian-pizza-1-1-1-x86_64.stone"]
EXTRA = realmoss.STONES / "pineapple-1-1-1-x86_64.stone"
READ_ONLY = [
    ("state", "list"), ("state", "list", "--json"), ("state", "active"),
    ("list", "installed"), ("list", "installed", "--json"), ("info", "italian-pizza"),
    ("info", "bash-completion", "--files"), ("search", "pizza"),
    ("search-file", "share/defaults/italian-pizza"), ("boot", "status", "--boot", "/"),
]


def db_bytes(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((root / ".moss/db").iterdir())}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("realmoss") / "root"
    realmoss.build_root(root, STONES)
    return root


@pytest.fixture
def root(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "root"
    subprocess.run(["cp", "-a", str(built), str(copy)], check=True)
    return copy


def json_of(root: Path, *args: str) -> Any:
    proc = moss_cli(root, *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_read_only_commands_work_and_write_nothing(root: Path) -> None:
    before = db_bytes(root)
    for query in READ_ONLY:
        proc = moss_cli(root, *query)
        assert proc.returncode == 0, (query, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert db_bytes(root) == before
    states = json_of(root, "state", "list", "--json")
    assert isinstance(states, list) and [s["id"] for s in states] == [1]
    installed = json_of(root, "list", "installed", "--json")
    assert isinstance(installed, list)
    assert sorted(p["name"] for p in installed) == ["bash-completion", "italian-pizza"]
    files = moss_cli(root, "info", "italian-pizza", "--files").stdout
    assert "/usr/share/defaults/italian-pizza" in files
    shown = shown_files(root, "bash-completion")
    rows = realmoss.layouts(root / ".moss/db", [read_package(
        realmoss.STONES / STONES[0]).id])
    (entries,) = rows.values()
    assert shown == {target_line(row) for row in entries}
    assert "/usr/share/bash-completion/completions/7za -> 7z" in shown


def shown_files(root: Path, name: str) -> set[str]:
    proc = moss_cli(root, "info", name, "--files")
    assert proc.returncode == 0, proc.stderr
    return {line for line in proc.stdout.splitlines() if line.startswith("/usr/")}


def target_line(row: tuple[str, str, str | None]) -> str:
    """How ``info --files`` shows a layout row real moss wrote."""
    kind, value1, value2 = row
    if kind == "symlink":
        return f"/usr/{value2} -> {value1}"
    return f"/usr/{value2 if kind == 'regular' else value1}"


def test_install_records_state_2_for_real_moss_then_rollback(root: Path) -> None:
    db = root / ".moss/db"
    refused = moss_cli(root, "install", str(EXTRA))
    assert refused.returncode == 1 and "Conflicts pineapple" in refused.stderr
    assert moss_cli(root, "remove", "italian-pizza").returncode == 0
    assert moss_cli(root, "install", str(EXTRA)).returncode == 0
    assert (root / "usr/.stateID").read_text() == "3"
    states = realmoss.states(db)
    assert [s["id"] for s in states] == [1, 2, 3]
    assert {s["type"] for s in states} == {"transaction"}
    metas = realmoss.metas(db)
    selected = [package for package, _ in states[2]["selections"]]
    assert sorted(str(metas[p]["name"]) for p in selected) == ["bash-completion", "pineapple"]
    pineapple = hashlib.sha256(EXTRA.read_bytes()).hexdigest()
    assert pineapple in selected and metas[pineapple]["version_identifier"] == "1"
    (entry,) = read_package(EXTRA).layout
    assert realmoss.layouts(db, [pineapple])[pineapple] == [
        ("regular", str(entry.digest), "share/defaults/pienapple")]
    assert_schemas_untouched(db)

    assert moss_cli(root, "state", "activate", "1").returncode == 0
    assert (root / "usr/.stateID").read_text() == "1"
    assert (root / "usr/share/defaults/italian-pizza").exists()
    assert not (root / "usr/share/defaults/pienapple").exists()


def test_initramfs_activation_command_line(root: Path) -> None:
    """What the AerynOS initramfs runs: ``moss -D /sysroot state activate -y --skip-triggers N``."""
    assert moss_cli(root, "remove", "italian-pizza").returncode == 0
    proc = subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "state", "activate",
                           "-y", "--skip-triggers", "1"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (root / "usr/.stateID").read_text() == "1"
    assert (root / "usr/share/defaults/italian-pizza").exists()
    assert [s["id"] for s in realmoss.states(root / ".moss/db")] == [1, 2]


def assert_schemas_untouched(db: Path) -> None:
    """Exactly real moss's tables, at ``user_version`` 1, in its journal mode."""
    for name, schema in realmoss.SCHEMAS.items():
        reference = sqlite3.connect(":memory:")
        reference.executescript((realmoss.REFERENCE / schema).read_text())
        want = reference.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name")
        expected = want.fetchall()
        reference.close()
        conn = sqlite3.connect(db / name)
        try:
            assert conn.execute(
                "SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall() == expected
            assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        finally:
            conn.close()
    assert not any(p.name.endswith(("-wal", "-shm")) for p in db.iterdir())


def test_real_moss_reads_what_this_moss_built(work: Path) -> None:
    """Real moss's queries on a two-state root of this moss return what this moss shows."""
    root = work / "root"
    db = root / ".moss/db"
    assert_schemas_untouched(db)
    shown = json_of(root, "state", "list", "--json")
    assert isinstance(shown, list)
    real = realmoss.states(db)
    assert [(s["id"], s["summary"], s["created"]) for s in real] == [
        (s["id"], s["summary"], s["created"]) for s in shown]
    assert [len(s["selections"]) for s in real] == [s["packages"] for s in shown]

    installed = json_of(root, "list", "installed", "--json")
    assert isinstance(installed, list)
    active = next(s for s in real if s["id"] == int((root / "usr/.stateID").read_text()))
    assert sorted(active["selections"]) == sorted(
        (p["id"], p["explicit"]) for p in installed)
    metas = realmoss.metas(db)
    for package in installed:
        meta = metas[package["id"]]
        assert (meta["name"], meta["version_identifier"], meta["source_release"]) == (
            package["name"], package["version"], package["release"])
        rows = realmoss.layouts(db, [package["id"]])[package["id"]]
        assert {target_line(row) for row in rows} == shown_files(root, package["name"])


def read_only_run(root: Path, *query: str) -> subprocess.CompletedProcess[str]:
    """moss on a read-only bind mount of ``root``, in a private mount namespace."""
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(root), sys.executable, "-m", "moss",
         "-D", str(root), "--quiet", *query], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare for a private read-only bind mount")
def test_read_only_commands_on_a_read_only_real_moss_root(root: Path) -> None:
    before = db_bytes(root)
    for query in READ_ONLY:
        proc = read_only_run(root, *query)
        assert proc.returncode == 0, (query, proc.stderr)
    assert db_bytes(root) == before
