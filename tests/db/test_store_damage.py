"""A damaged store blob never enters a new state: install and activate refuse it.

The blob ``share/a/b`` links to is shared by every state; it is damaged by a
bit flip, by truncation, and by a write through its hard link in ``/usr``.
``install`` of a package using it and ``state activate`` of a state using it
must refuse with one line that says how to repair, change nothing, and work
again after ``state verify --repair``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

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
