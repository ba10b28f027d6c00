"""Kernel digests kept between syncs (``boot/writing/filehash.py``): a no-change sync hashes
no state kernel it hashed before, and no kept digest ever hides a changed kernel."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import blake3
import pytest

import boot
from boot.writing import filehash
from tests.boot.test_boot_sync import config_for, espdir, kernel_bytes, make_state, root

__all__ = ["espdir", "root"]  # the fixtures, shared with test_boot_sync


@pytest.fixture
def settled_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's files are seconds old at most: count them as settled."""
    monkeypatch.setattr(filehash, "SETTLED_NS", 0)
    time.sleep(0.05)  # past the coarse clock's tick of the files' last change


def test_a_second_sync_hashes_only_the_files_on_boot(
        root: Path, espdir: Path, settled_at_once: None, monkeypatch: pytest.MonkeyPatch) -> None:
    states = [make_state(root, i, ("6.6.7",) if i <= 3 else ("6.6.9",)) for i in range(1, 6)]
    for state in states[1:]:  # as moss's states: hard links of one stored kernel
        for name in ("vmlinuz", "10-moss.initrd"):
            kver = "6.6.7" if state.id <= 3 else "6.6.9"
            first = states[0 if kver == "6.6.7" else 3].usr / "lib/kernel" / kver / name
            mine = state.usr / "lib/kernel" / kver / name
            if mine != first:
                mine.unlink()
                os.link(first, mine)
    config = config_for(root, espdir)
    real = blake3.blake3
    made: list[int] = []

    def counted() -> blake3.blake3:  # the real hasher, counted: one per file hashed
        made.append(1)
        return real()

    monkeypatch.setattr(blake3, "blake3", counted)
    boot.sync(root, states, 5, None, config)
    assert len(made) == 4  # each distinct kernel file once, the copies made from them
    made.clear()
    report = boot.sync(root, states, 5, None, config)
    assert not report.changed
    assert len(made) == 4  # the four files on $BOOT; no state kernel again
    kept = json.loads((root / ".moss" / filehash.STORE_NAME).read_text())
    on_boot = {p.stat().st_ino for p in (espdir / "EFI").rglob("*") if p.is_file()}
    assert len(kept) == 4 and not {int(k.split(":")[1]) for k in kept} & on_boot


def test_a_kernel_rewritten_with_its_old_size_and_mtime_is_copied_again(
        root: Path, espdir: Path, settled_at_once: None) -> None:
    states = [make_state(root, 1)]
    config = config_for(root, espdir)
    boot.sync(root, states, 1, None, config)
    vmlinuz = states[0].usr / "lib/kernel/6.6.7/vmlinuz"
    old = vmlinuz.stat()
    new = kernel_bytes("6.6.7", "rebuilt")
    assert len(new) == old.st_size and new != vmlinuz.read_bytes()
    with open(vmlinuz, "r+b") as f:  # in place: same inode, same size
        f.write(new)
    os.utime(vmlinuz, ns=(old.st_atime_ns, old.st_mtime_ns))  # and the old mtime

    report = boot.sync(root, states, 1, None, config)

    assert report.changed
    assert (espdir / "EFI/serpentos/6.6.7/vmlinuz").read_bytes() == new


def test_a_damaged_digest_file_is_ignored(root: Path, espdir: Path, settled_at_once: None) -> None:
    states = [make_state(root, 1)]
    config = config_for(root, espdir)
    kept = root / ".moss" / filehash.STORE_NAME
    kept.parent.mkdir(parents=True)
    kept.write_text("{not json")
    boot.sync(root, states, 1, None, config)
    assert (espdir / "EFI/serpentos/6.6.7/vmlinuz").read_bytes() == kernel_bytes("6.6.7")
    assert len(json.loads(kept.read_text())) == 2
