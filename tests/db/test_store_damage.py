"""A damaged store blob never enters a new state: install and activate refuse it.

The blob ``share/a/b`` links to is shared by every state; it is damaged by a
bit flip, by truncation, and by a write through its hard link in ``/usr``.
``install`` of a package using it and ``state activate`` of a state using it
must refuse with one line that says how to repair, change nothing, and work
again after ``state verify --repair``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.db.conftest import moss_cli
from tests.db.test_damaged_db import root_digest

SHARED = "shared by every release\n"


def blob_of(root: Path, content: str) -> Path:
    for dirpath, _dirs, files in os.walk(root / ".moss/assets/v2"):
        for name in files:
            path = Path(dirpath) / name
            if path.read_bytes() == content.encode():
                return path
    raise AssertionError(f"no blob holds {content!r}")


def bit_flip(root: Path) -> None:
    with open(blob_of(root, SHARED), "r+b") as f:
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 0x01]))


def truncation(root: Path) -> None:
    os.truncate(blob_of(root, SHARED), 3)


def write_through_usr(root: Path) -> None:
    with open(root / "usr/share/a/b", "r+b") as f:
        f.write(b"S")


DAMAGES: dict[str, Callable[[Path], None]] = {
    "bit-flip": bit_flip, "truncation": truncation, "write-through-usr": write_through_usr,
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_install_and_activate_refuse_a_damaged_blob(damage: str, work: Path) -> None:
    root = work / "root"
    DAMAGES[damage](root)
    before = root_digest(root)
    for args in (("install", str(work / "hello-1.0-3.stone")), ("state", "activate", "1")):
        proc = moss_cli(root, *args)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "store blob" in lines[0], proc.stderr
        assert "moss state verify --repair" in lines[0]
        assert root_digest(root) == before, args
    assert moss_cli(root, "state", "verify", "--repair").returncode == 0
    assert moss_cli(root, "state", "verify").returncode == 0
    assert moss_cli(root, "install", str(work / "hello-1.0-3.stone")).returncode == 0
    assert (root / "usr/share/a/b").read_text() == SHARED
    assert moss_cli(root, "state", "activate", "1").returncode == 0
    assert (root / "usr/share/a/b").read_text() == SHARED
    assert (root / "usr/bin/hello").read_text() == "release 1\n"


def test_an_intact_blob_touched_is_rehashed_and_accepted(work: Path) -> None:
    """A changed mtime alone (same bytes) is not damage: it is re-hashed, then recorded."""
    root = work / "root"
    os.utime(blob_of(root, SHARED), ns=(1, 1))
    proc = moss_cli(root, "install", str(work / "hello-1.0-3.stone"))
    assert proc.returncode == 0, proc.stderr
    assert (root / "usr/share/a/b").read_text() == SHARED


# --- issue 23, rule 2: a missing record never switches the guard off ----------------------

def drop_extras(root: Path) -> None:
    """As on every root real moss built: no ``extras`` database at all."""
    (root / ".moss/db/extras").unlink()


def empty_assets(root: Path) -> None:
    with contextlib.closing(sqlite3.connect(root / ".moss/db/extras")) as conn:
        conn.execute("DELETE FROM assets")
        conn.commit()


def forget_mtimes(root: Path) -> None:
    """Records from before mtimes were kept: the guard must re-hash, not trust them."""
    with contextlib.closing(sqlite3.connect(root / ".moss/db/extras")) as conn:
        conn.execute("UPDATE assets SET mtime = NULL, inode = NULL")
        conn.commit()


RECORDS: dict[str, Callable[[Path], None]] = {
    "no-extras": drop_extras, "empty-assets": empty_assets, "no-mtimes": forget_mtimes,
}


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(records=st.sampled_from(sorted(RECORDS)), offset=st.integers(0, len(SHARED) - 1),
       flip=st.integers(1, 255), how=st.sampled_from(["flip", "truncate", "link"]),
       command=st.sampled_from(["install", "activate", "verify"]))
def test_a_damaged_blob_without_a_record_is_still_refused(
        two_states: Path, records: str, offset: int, flip: int, how: str,
        command: str) -> None:
    """Damage: a flipped byte, a truncation, or the blob replaced by a link to an
    identical copy outside the store (a new tree would hard-link the link)."""
    with tempfile.TemporaryDirectory(dir=two_states.parent) as scratch:
        work = Path(scratch) / "work"
        subprocess.run(["cp", "-a", str(two_states), str(work)], check=True)
        root = work / "root"
        RECORDS[records](root)
        blob = blob_of(root, SHARED)
        if how == "truncate":
            os.truncate(blob, offset)
        elif how == "link":
            copy = Path(scratch) / "outside-copy"
            copy.write_bytes(blob.read_bytes())
            blob.unlink()
            blob.symlink_to(copy)
        else:
            with open(blob, "r+b") as f:
                f.seek(offset)
                byte = f.read(1)[0]
                f.seek(offset)
                f.write(bytes([byte ^ flip]))
        args = {"install": ("install", str(work / "hello-1.0-3.stone")),
                "activate": ("state", "activate", "1"), "verify": ("state", "verify")}[command]
        before = root_digest(root)
        proc = moss_cli(root, *args)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        if command == "verify":
            assert str(blob) in proc.stdout and "0 problems" not in proc.stdout
        else:
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and "moss state verify --repair" in lines[0], proc.stderr
            # Opening a root without extras creates them (empty): nothing else changes.
            after = root_digest(root)
            if records == "no-extras":
                after.pop(".moss/db/extras", None)
            assert after == before
            assert (root / ".moss/root/1/usr/share/a/b").read_bytes() == blob.read_bytes()
        assert moss_cli(root, "state", "verify", "--repair").returncode == 0
        assert moss_cli(root, "state", "verify").returncode == 0
        assert blob_of(root, SHARED).read_text() == SHARED
        assert moss_cli(root, *args).returncode == 0


def test_an_unrecorded_intact_store_is_recorded_once_checked(work: Path) -> None:
    """Re-hashed against their names, intact blobs are accepted and get their records."""
    root = work / "root"
    drop_extras(root)
    assert moss_cli(root, "install", str(work / "hello-1.0-3.stone")).returncode == 0
    with contextlib.closing(sqlite3.connect(root / ".moss/db/extras")) as conn:
        recorded = {row[0] for row in conn.execute("SELECT digest FROM assets")}
    assert blob_of(root, SHARED).name in recorded
