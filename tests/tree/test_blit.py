"""The blit builds exactly the planned tree: links into the store where a blob's
mode and owner fit, fresh files where they do not, every kind in its place.

The hot loop names blobs relative to a descriptor of the store and files by
directory: these check that nothing is lost or misplaced on the way.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from moss.core.root import Root
from moss.stone import EMPTY_DIGEST, FileKind, LayoutEntry, digest_bytes, xxh3_128
from moss.store.assets import asset_path
from moss.tree.blit import blit
from moss.tree.plan import plan_tree


def stored(root: Root, data: bytes, mode: int = 0o644) -> int:
    digest = xxh3_128(data)
    path = asset_path(root, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    return digest


def regular(target: str, digest: int, mode: int = 0o644) -> LayoutEntry:
    return LayoutEntry(0, 0, 0o100000 | mode, 0, FileKind.REGULAR, digest_bytes(digest), target)


def test_blit_builds_the_planned_tree(tmp_path: Path) -> None:
    root = Root(tmp_path / "root")
    plain = stored(root, b"plain\n")
    script = stored(root, b"#!/bin/sh\n", 0o755)
    unrecorded = stored(root, b"nobody recorded me\n")
    entries = [
        LayoutEntry(0, 0, 0o40700, 0, FileKind.DIRECTORY, "", "lib/private"),
        regular("bin/script", script, 0o755),
        regular("share/a/b/c/plain", plain),
        regular("share/a/again", plain),
        regular("share/a/other-mode", plain, 0o600),
        regular("share/a/unrecorded", unrecorded),
        regular("share/empty", EMPTY_DIGEST),
        regular("top", plain),
        LayoutEntry(0, 0, 0o120777, 0, FileKind.SYMLINK, "../share/a", "lib/link"),
        LayoutEntry(0, 0, 0o10600, 0, FileKind.FIFO, "", "lib/private/fifo"),
    ]
    uid, gid = os.geteuid(), os.getegid()
    attributes = {plain: (0o644, uid, gid), script: (0o755, uid, gid)}
    dest = tmp_path / "usr"
    blit(root, plan_tree([("pkg", entries)]), dest, attributes=attributes)

    def same_inode(target: str, digest: int) -> bool:
        return (dest / target).stat().st_ino == asset_path(root, digest).stat().st_ino

    assert same_inode("bin/script", script) and same_inode("top", plain)
    assert same_inode("share/a/b/c/plain", plain) and same_inode("share/a/again", plain)
    assert same_inode("share/a/unrecorded", unrecorded)  # looked at, then linked
    other = dest / "share/a/other-mode"
    assert not same_inode("share/a/other-mode", plain)  # copied: the store keeps 0644
    assert other.read_bytes() == b"plain\n" and stat.S_IMODE(other.stat().st_mode) == 0o600
    assert stat.S_IMODE(asset_path(root, plain).stat().st_mode) == 0o644
    empty = dest / "share/empty"
    assert empty.read_bytes() == b"" and empty.stat().st_nlink == 1
    assert os.readlink(dest / "lib/link") == "../share/a"
    assert stat.S_ISFIFO((dest / "lib/private/fifo").lstat().st_mode)
    assert stat.S_IMODE((dest / "lib/private").stat().st_mode) == 0o700
    found = sorted(str(p.relative_to(dest)) for p in dest.rglob("*"))
    assert found == sorted({"bin", "lib", "share", "share/a", "share/a/b", "share/a/b/c",
                            *(e.target for e in entries)})


def test_a_tree_without_stored_blobs_needs_no_store(tmp_path: Path) -> None:
    """Only directories, symlinks and empty files: the store may not exist yet."""
    root = Root(tmp_path / "root")
    entries = [regular("share/empty", EMPTY_DIGEST),
               LayoutEntry(0, 0, 0o120777, 0, FileKind.SYMLINK, "empty", "share/link")]
    blit(root, plan_tree([("pkg", entries)]), tmp_path / "usr")
    assert (tmp_path / "usr/share/link").read_bytes() == b""
