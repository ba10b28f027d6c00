"""The blit's strategies and threads (issue 27): the same tree whichever way it is built.

* threads place each directory's files; the tree is the one the calling thread
  alone builds, and a failure on a thread stops the blit with that failure;
* on btrfs and xfs (loop images, as root) every file is a reflink: an inode of its
  own, so a write through the tree leaves the store and other states alone;
  ``MOSS_FSTREE_NATIVE_STRATEGY`` overrides the choice as in real moss.
"""

from __future__ import annotations

import os
import random
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from moss.core.root import Root
from moss.stone import EMPTY_DIGEST, FileKind, LayoutEntry
from moss.store.assets import asset_path
from moss.tree.blit import STRATEGY_VARIABLE, Strategy, blit
from moss.tree.plan import plan_tree
from tests.support.blockdev import loop_device, mounted
from tests.tree.test_blit import regular, stored


def generated_entries(root: Root, seed: int) -> list[LayoutEntry]:
    """A random tree: nested directories (some 0555), shared and unique blobs, modes
    that fit the blob and modes that do not, empty files, symlinks."""
    rng = random.Random(seed)
    blobs = [stored(root, f"blob {i}\n".encode() * rng.randint(1, 50)) for i in range(40)]
    entries: list[LayoutEntry] = []
    dirs = [f"share/d{d}" + "".join(f"/s{k}" for k in range(rng.randint(0, 3)))
            for d in range(rng.randint(5, 25))]
    for d, directory in enumerate(dirs):
        if rng.random() < 0.2:
            entries.append(LayoutEntry(0, 0, 0o40555, 0, FileKind.DIRECTORY, "", directory))
        for f in range(rng.randint(0, 30)):
            kind = rng.random()
            target = f"{directory}/f{d}-{f}"
            if kind < 0.1:
                entries.append(regular(target, EMPTY_DIGEST))
            elif kind < 0.2:
                entries.append(LayoutEntry(0, 0, 0o120777, 0, FileKind.SYMLINK, "x", target))
            else:
                mode = 0o755 if rng.random() < 0.2 else 0o644
                entries.append(regular(target, rng.choice(blobs), mode))
    return entries


def snapshot(usr: Path) -> list[tuple[str, int, bytes | str]]:
    """Every entry's path, mode and content (or link target), sorted."""
    found: list[tuple[str, int, bytes | str]] = []
    for path in sorted(usr.rglob("*")):
        st = path.lstat()
        rel = str(path.relative_to(usr))
        if stat.S_ISLNK(st.st_mode):
            found.append((rel, st.st_mode, os.readlink(path)))
        elif stat.S_ISREG(st.st_mode):
            found.append((rel, st.st_mode, path.read_bytes()))
        else:
            found.append((rel, st.st_mode, ""))
    return found


@pytest.mark.parametrize("seed", range(6))
def test_threads_build_the_same_tree(tmp_path: Path, seed: int) -> None:
    root = Root(tmp_path / "root")
    plan = plan_tree([("pkg", generated_entries(root, seed))])
    alone, pooled = tmp_path / "alone", tmp_path / "pooled"
    blit(root, plan, alone, threads=0)
    blit(root, plan, pooled, threads=3)
    assert snapshot(pooled) == snapshot(alone)
    for path in pooled.rglob("*"):  # linked where the calling thread linked too
        if path.is_file() and not path.is_symlink():
            twin = alone / path.relative_to(pooled)
            assert (path.stat().st_nlink > 1) == (twin.stat().st_nlink > 1)


def test_a_failure_on_a_thread_stops_the_blit(tmp_path: Path) -> None:
    root = Root(tmp_path / "root")
    entries = generated_entries(root, 7)
    gone = next(e for e in entries if e.file_kind == FileKind.REGULAR
                and e.digest != EMPTY_DIGEST)
    asset_path(root, gone.digest).unlink()  # a blob the store lost
    with pytest.raises(FileNotFoundError):
        blit(root, plan_tree([("pkg", entries)]), tmp_path / "usr", threads=3,
             attributes={})


def _mkfs(kind: str) -> list[str] | None:
    tool = {"btrfs": ["mkfs.btrfs", "-q", "-f"], "xfs": ["mkfs.xfs", "-q", "-f"]}[kind]
    return tool if shutil.which(tool[0]) else None


@pytest.fixture(params=["btrfs", "xfs"])
def cloning_fs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A loop-mounted btrfs or xfs image (root only: losetup and mount)."""
    kind = request.param
    mkfs = _mkfs(kind)
    if os.geteuid() != 0:
        pytest.skip("needs root to loop-mount a filesystem image (CI runs as root)")
    if mkfs is None:
        pytest.skip(f"needs mkfs for {kind}: apt-get install btrfs-progs xfsprogs")
    image = tmp_path / f"{kind}.img"
    with open(image, "wb") as f:
        f.truncate(512 << 20)  # xfs needs 300 MiB at least
    subprocess.run([*mkfs, str(image)], check=True, capture_output=True)
    with loop_device(image) as device, mounted(device, tmp_path / kind) as mount:
        yield mount


def test_reflinks_keep_the_store_apart_from_the_tree(
        cloning_fs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = Root(cloning_fs / "root")
    digest = stored(root, b"shared by the store\n")
    entries = [regular("bin/tool", digest), regular("share/copy", digest),
               regular("share/other-mode", digest, 0o600)]
    plan = plan_tree([("pkg", entries)])
    monkeypatch.delenv(STRATEGY_VARIABLE, raising=False)
    assert blit(root, plan, cloning_fs / "usr") is Strategy.REFLINK
    blob = asset_path(root, digest)
    for name in ("bin/tool", "share/copy", "share/other-mode"):
        tree_file = cloning_fs / "usr" / name
        assert tree_file.stat().st_ino != blob.stat().st_ino
        assert tree_file.read_bytes() == b"shared by the store\n"
    assert stat.S_IMODE((cloning_fs / "usr/share/other-mode").stat().st_mode) == 0o600
    with open(cloning_fs / "usr/bin/tool", "r+b") as f:  # a stray write through /usr
        f.write(b"CHANGED")
    assert blob.read_bytes() == b"shared by the store\n"
    assert (cloning_fs / "usr/share/copy").read_bytes() == b"shared by the store\n"
    monkeypatch.setenv(STRATEGY_VARIABLE, "hardlink")  # real moss's override
    assert blit(root, plan, cloning_fs / "linked") is Strategy.HARDLINK
    assert (cloning_fs / "linked/bin/tool").stat().st_ino == blob.stat().st_ino
    assert not list(cloning_fs.rglob(".link-test-*"))  # the probe leaves nothing


def test_a_filesystem_that_cannot_clone_gets_hard_links(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On ext4 (the machine's disk) the probe falls back to hard links; ``copy`` is
    honoured when asked for."""
    monkeypatch.delenv(STRATEGY_VARIABLE, raising=False)
    root = Root(tmp_path / "root")
    digest = stored(root, b"data\n")
    plan = plan_tree([("pkg", [regular("bin/x", digest)])])
    probe = subprocess.run(["stat", "-f", "-c", "%T", str(tmp_path)], capture_output=True,
                           text=True, check=True).stdout.strip()
    if probe in ("btrfs", "xfs"):
        pytest.skip(f"{tmp_path} is on {probe}, which clones")
    assert blit(root, plan, tmp_path / "usr") is Strategy.HARDLINK
    assert (tmp_path / "usr/bin/x").stat().st_ino == asset_path(root, digest).stat().st_ino
    monkeypatch.setenv(STRATEGY_VARIABLE, "copy")
    assert blit(root, plan, tmp_path / "copied") is Strategy.COPY
    assert (tmp_path / "copied/bin/x").stat().st_ino != asset_path(root, digest).stat().st_ino
    assert (tmp_path / "copied/bin/x").read_bytes() == b"data\n"
    assert not list(tmp_path.rglob(".link-test-*"))
