"""Enough room before anything is written: blocks and inodes, where they will be used.

A transaction that runs out of space half-way leaves nothing broken (recovery
undoes it) but it may leave a disk full of what it had written, and a full disk
is where every other program on the machine starts failing too.  So the room a
transaction needs is worked out from what is known before writing — the sizes
the repository index gives for downloads, the content index of each package for
its unique files, the new tree's directories and symlinks — and compared with
``statvfs`` of the filesystem each part lands on.  The figures are lower bounds
(filesystem metadata is not counted), so :data:`SLACK` more is asked for.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from moss.core.errors import MossError, disk_full_message, mount_point
from moss.core.root import Root
from moss.stone import StoneError, open_stone
from moss.store.assets import asset_location
from moss.store.incoming import IncomingPackage

ADVICE = ("free some space there (`moss state prune` removes old states and what only "
          "they use), then run the command again")
SLACK = 1 << 20  # databases, journals, directory blocks
BLOCK = 4096  # what a directory or a symlink costs at least


@dataclass(frozen=True)
class Need:
    """``size`` bytes and ``inodes`` new files somewhere on the filesystem of ``path``."""

    path: Path
    size: int
    inodes: int = 0


def check(needs: Iterable[Need]) -> None:
    """Refuse, with one line, when a filesystem cannot take what it is asked to hold.

    Needs on the same filesystem add up: the store and the tree usually share one.
    """
    totals: dict[int, tuple[Path, int, int]] = {}
    for need in needs:
        probe = _existing(need.path)
        dev = probe.stat().st_dev
        _, size, inodes = totals.get(dev, (probe, 0, 0))
        totals[dev] = (probe, size + need.size, inodes + need.inodes)
    for probe, size, inodes in totals.values():
        _check_one(probe, size, inodes)


def _existing(path: Path) -> Path:
    """The nearest existing directory at or above ``path`` (a cache may not exist yet)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_one(path: Path, size: int, inodes: int) -> None:
    st = os.statvfs(path)
    free = st.f_bavail * st.f_frsize
    if size + SLACK > free:
        raise MossError(
            f"{disk_full_message(mount_point(path), advice=False)}: this needs "
            f"{_mib(size + SLACK)} MiB, {_mib(free)} MiB are free; {ADVICE}"
        )
    # f_files is 0 where the filesystem has no fixed number of inodes (btrfs).
    if st.f_files and inodes > st.f_favail:
        raise MossError(
            f"no free inodes left on the filesystem at {mount_point(path)}: this needs "
            f"{inodes}, {st.f_favail} are free; {ADVICE}"
        )


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f}"


def unpack_needs(root: Root, packages: Sequence[IncomingPackage]) -> list[Need]:
    """What bringing ``packages`` into the store and the cache takes.

    Every unique file not yet in the store becomes a blob (its size and an inode);
    each package file is kept in the download cache unless it is there already.
    """
    blobs: dict[int, int] = {}
    cached = 0
    for package in packages:
        patches = package.delta.patches if package.delta is not None else {}
        if not root.cached_package(package.id).exists() and package.delta is None:
            cached += package.path.stat().st_size
        try:
            with open_stone(package.path) as reader:
                for entry in reader.index():
                    patch = patches.get(entry.digest)
                    if patch is not None:  # a delta's patch: the blob it rebuilds
                        blobs.setdefault(patch.digest, patch.size)
                    else:
                        blobs.setdefault(entry.digest, entry.size)
        except StoneError as exc:
            raise MossError(str(exc)) from exc
    assets = str(root.assets)  # a string: pathlib per blob costs more than the stat
    new = {d: s for d, s in blobs.items() if not os.path.exists(asset_location(assets, d))}
    return [
        Need(root.assets, sum(new.values()), len(new)),
        Need(root.cache, cached, len(packages)),
    ]
