"""``moss state rebuild``: new databases from what is on disk.

The databases are an index of things the disk keeps anyway: every state is a
complete tree whose ``.stateID`` says which state it is, every package moss
unpacked is a cached ``.stone`` holding its meta and layout, and every tree
file is a hard link to a store blob named by its digest.  So a state's
packages are the cached packages whose whole layout is in its tree, and the
store's blobs are re-registered with BLAKE3 digests of the cached packages'
verified content (never of the blobs, which may be what is damaged).

Nothing on disk is changed except the databases (and what
:mod:`moss.states.adopt` settles first: links and trees in the wrong slot, a live
``/usr`` without an id of its own): the new ones are built beside the old, which
are kept in ``.moss/db.damaged-<time>/``.  A tree
holding store files that no cached package accounts for (a package missing
from the cache) is reported as not fully recovered and left as it is.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import blake3

from moss.core import fs, namespace
from moss.core.errors import MossError
from moss.core.fs import remove_tree, walk
from moss.core.progress import QUIET, Progress
from moss.core.root import STATE_ID_FILE, Root, read_state_id, refuse_borrowed
from moss.db import extras as extras_db
from moss.db import legacy
from moss.db.databases import NAMES
from moss.db.extras import ExtrasDB
from moss.db.install import InstallDB
from moss.db.layout import AssetRow, LayoutDB
from moss.db.state import Selection, StateDB
from moss.states.adopt import settle_disk
from moss.states.consistency import UNRECOVERED
from moss.states.recovery import state_tree_ids
from moss.stone import EMPTY_DIGEST, FileKind, LayoutEntry, StoneError, digest_hex, open_stone
from moss.stone.digest import xxh3_128
from moss.store.assets import asset_path, stored_digests
from moss.store.batch import batch
from moss.store.incoming import IncomingPackage, read_package

SUMMARY = "rebuilt from its tree on disk"


@dataclass
class RebuildReport:
    states: list[int] = field(default_factory=list)
    packages: int = 0
    # State id -> tree files that came from the store but no cached package.
    incomplete: dict[int, list[str]] = field(default_factory=dict)
    unreadable_cache: list[str] = field(default_factory=list)
    kept: Path | None = None  # where the old databases went
    settled: list[str] = field(default_factory=list)  # what :func:`settle_disk` did


def rebuild(root_path: Path, progress: Progress = QUIET) -> RebuildReport:
    root = Root(root_path)
    refuse_borrowed(root)
    if not root.moss.is_dir():
        raise MossError(f"{root.path} is not a moss root (no {root.moss})")
    namespace.enter_writable(root.path)
    with fs.locked(root.lockfile):
        settled = settle_disk(root)
        ids = sorted(state_tree_ids(root))
        if not ids:
            raise MossError(f"no state trees in {root.path}: nothing to rebuild the databases from")
        report = RebuildReport(states=ids, settled=settled)
        cached = _cached_packages(root, report)
        inodes = _store_inodes(root)
        fresh = root.moss / "db.rebuild"
        remove_tree(fresh, ignore_errors=True)
        remove_tree(root.moss / legacy.WORK, ignore_errors=True)  # superseded by this
        fresh.mkdir()
        _build(root, fresh, ids, cached, inodes, report, progress)
        report.kept = _swap(root, fresh)
    return report


def _store_inodes(root: Root) -> dict[tuple[int, int], int]:
    """Each store blob's digest by (device, inode): a tree file linked to it needs no hash."""
    inodes = {}
    for name, path in stored_digests(root):
        st = path.stat()
        inodes[(st.st_dev, st.st_ino)] = int(name, 16)
    return inodes


def _cached_packages(root: Root, report: RebuildReport) -> dict[str, list[IncomingPackage]]:
    """Every readable cached package whose content matches its name, by package name."""
    by_name: dict[str, list[IncomingPackage]] = {}
    for dirpath, _dirs, files in walk(root.cache / "downloads"):
        for name in sorted(files):
            if name.endswith(".part"):
                continue
            try:
                package = read_package(Path(dirpath) / name)
            except MossError as exc:
                report.unreadable_cache.append(str(exc))
                continue
            if package.id != name:
                report.unreadable_cache.append(f"{dirpath}/{name}: content does not match name")
                continue
            by_name.setdefault(package.meta.name, []).append(package)
    for candidates in by_name.values():
        candidates.sort(key=lambda p: (p.meta.release, p.meta.build_release), reverse=True)
    return by_name


def _build(root: Root, fresh: Path, ids: list[int], cached: dict[str, list[IncomingPackage]],
           inodes: dict[tuple[int, int], int], report: RebuildReport,
           progress: Progress) -> None:
    extras = ExtrasDB(fresh / extras_db.NAME)
    install = InstallDB(fresh / "install")
    state, layout = StateDB(fresh / "state", extras), LayoutDB(fresh / "layout", extras)
    try:
        used: dict[str, IncomingPackage] = {}
        progress.start("Rebuilding states", len(ids))
        for state_id in ids:
            usr = root.usr if read_state_id(root.usr) == state_id else root.archived_usr(state_id)
            tree = _Tree(usr, inodes)
            found = [p for candidates in cached.values() if (p := tree.first_match(candidates))]
            for package in found:
                if package.id not in used:
                    used[package.id] = package
                    install.add(package.id, package.meta)
                    layout.add(package.id, package.layout)
            state.add(SUMMARY, [Selection(p.id, True) for p in found], state_id=state_id,
                      created=int((usr / STATE_ID_FILE).stat().st_mtime))
            leftover = tree.unclaimed(found)
            if leftover:
                report.incomplete[state_id] = leftover
            progress.advance()
        progress.done()
        # States none of whose packages are cached select nothing, yet hold files:
        # known, and said, rather than a disagreement every later command refuses.
        unrecovered = sorted(set(state.selecting_nothing()) & set(report.incomplete))
        if unrecovered:
            extras.set_setting(UNRECOVERED, ",".join(map(str, unrecovered)))
        report.packages = len(used)
        _register_blobs(root, layout, used.values())
    finally:
        install.close()
        state.close()
        layout.close()
        extras.close()


class _Tree:
    """A state's ``/usr`` as the layouts would describe it, read lazily."""

    def __init__(self, usr: Path, inodes: dict[tuple[int, int], int]) -> None:
        self.usr = usr
        self.inodes = inodes
        self.digests: dict[str, int | None] = {}

    def first_match(self, candidates: list[IncomingPackage]) -> IncomingPackage | None:
        return next((p for p in candidates if all(self._has(e) for e in p.layout)), None)

    def _has(self, entry: LayoutEntry) -> bool:
        path = self.usr / entry.target
        try:
            st = os.lstat(path)
        except OSError:
            return False
        kind = entry.file_kind
        if kind == FileKind.DIRECTORY:
            return stat.S_ISDIR(st.st_mode)
        if kind == FileKind.SYMLINK:
            return stat.S_ISLNK(st.st_mode) and os.readlink(path) == entry.source
        if kind != FileKind.REGULAR:
            return True
        if not stat.S_ISREG(st.st_mode):
            return False
        if entry.digest == EMPTY_DIGEST:
            return st.st_size == 0
        return self._digest(entry.target, st) == entry.digest

    def _digest(self, target: str, st: os.stat_result) -> int | None:
        if target not in self.digests:
            known = self.inodes.get((st.st_dev, st.st_ino))
            self.digests[target] = known if known is not None else xxh3_128(self.usr / target)
        return self.digests[target]

    def unclaimed(self, found: Iterable[IncomingPackage]) -> list[str]:
        """Tree files linked to store blobs that none of ``found`` accounts for."""
        claimed = {e.target for p in found for e in p.layout}
        leftover = []
        for dirpath, _dirs, files in walk(self.usr):
            for name in files:
                path = Path(dirpath) / name
                st = path.lstat()
                if (stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) in self.inodes
                        and path.relative_to(self.usr).as_posix() not in claimed):
                    leftover.append(f"/usr/{path.relative_to(self.usr).as_posix()}")
        return sorted(leftover)


def _register_blobs(root: Root, layout: LayoutDB, packages: Iterable[IncomingPackage]) -> None:
    """Record every blob the packages use, hashed from the cached package's content.

    A blob missing from the store is extracted into it again from the package.
    """
    done: set[int] = set()
    for package in packages:
        modes: dict[int, int] = {}
        for entry in package.layout:
            if entry.file_kind == FileKind.REGULAR and entry.digest not in done:
                modes.setdefault(entry.digest, entry.mode)
        modes.pop(EMPTY_DIGEST, None)
        rows: list[AssetRow] = []
        try:
            with open_stone(package.path) as reader, batch(root) as scratch:
                for index_entry, chunks in reader.iter_content():
                    digest = index_entry.digest
                    if digest not in modes or digest in done:
                        for _ in chunks:
                            pass
                    elif asset_path(root, digest).is_file():
                        rows.append(_row_of_stored(root, digest, chunks))
                    else:
                        scratch.add(digest, chunks, modes[digest], {})
                    done.add(digest)
                rows.extend(scratch.commit())
        except StoneError as exc:
            raise MossError(f"cached package {package.path} is damaged: {exc}") from exc
        layout.add_assets(rows)


def _row_of_stored(root: Root, digest: int, chunks: Iterable[bytes]) -> AssetRow:
    hasher = blake3.blake3()
    size = 0
    for chunk in chunks:
        hasher.update(chunk)
        size += len(chunk)
    st = os.stat(asset_path(root, digest))
    return (digest_hex(digest), hasher.hexdigest(), size, stat.S_IMODE(st.st_mode), st.st_uid,
            st.st_gid, st.st_mtime_ns, st.st_ino)


def _swap(root: Root, fresh: Path) -> Path:
    """Move the old databases aside (never deleted) and the new ones in."""
    kept = root.moss / time.strftime("db.damaged-%Y%m%d-%H%M%S")
    while kept.exists():
        kept = kept.with_name(kept.name + "+")
    kept.mkdir()
    root.db.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        for suffix in ("", "-wal", "-shm", "-journal"):
            old = root.db / f"{name}{suffix}"
            if os.path.lexists(old):
                os.rename(old, kept / old.name)
    fs.sync_filesystem(fresh)
    for name in NAMES:
        os.rename(fresh / name, root.db / name)
    fresh.rmdir()
    return kept
