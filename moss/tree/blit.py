"""Builds a state's ``/usr`` as hard links into the store.

The walk holds a file descriptor for each directory on the current path and
creates every entry relative to it (``dir_fd``), so no path is ever resolved
again through something a package created; each blob is named relative to a
descriptor of the store (``src_dir_fd``), so a link resolves only the blob's
four short components.  Empty files are made fresh rather than linked (one
inode with millions of links would hit the link limit), and a blob whose stored
mode or owner differs from what this entry wants is copied instead of linked,
so one state can never change another state's files.  A tree on another
filesystem than the store (an ephemeral root, ``--to DIR``) gets copies, as real
moss falls back to copying on ``EXDEV``.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from moss.core.progress import QUIET, Progress
from moss.core.root import Root
from moss.stone import EMPTY_DIGEST, FileKind, LayoutEntry
from moss.tree.plan import TreePlan

_EMPTY_SOURCE = EMPTY_DIGEST.to_bytes(16, "big")
_REGULAR = FileKind.REGULAR


@dataclass
class _Dir:
    """One directory to create: its own entry (None when implied), then its contents.

    Files are grouped by directory up front so the hot loop is one ``link`` per
    name with no path to split or build.
    """

    entry: LayoutEntry | None = None
    files: list[tuple[str, LayoutEntry]] = field(default_factory=list)
    subdirs: list[tuple[str, _Dir]] = field(default_factory=list)


def _build_dirs(plan: TreePlan) -> _Dir:
    top = _Dir()
    dirs: dict[str, _Dir] = {"": top}

    def directory(target: str) -> _Dir:
        found = dirs.get(target)
        if found is None:  # a parent the plan did not list (a hand-made plan): implied
            parent, _, name = target.rpartition("/")
            found = dirs[target] = _Dir()
            directory(parent).subdirs.append((name, found))
        return found

    for target, placed in plan.directories.items():
        directory(target).entry = placed.entry if placed else None
    for target, placed_file in plan.files.items():
        parent, _, name = target.rpartition("/")
        holder = dirs.get(parent)
        (holder if holder is not None else directory(parent)).files.append(
            (name, placed_file.entry))
    return top


def _blob_name(digest: int) -> str:
    """The blob's path below the store (:func:`moss.store.assets.asset_location`)."""
    h = format(digest, "x")
    return f"{h[0:2]}/{h[2:4]}/{h[4:6]}/{h}" if len(h) >= 10 else h


class _Blitter:
    def __init__(self, assets_fd: int, progress: Progress,
                 attributes: Mapping[int, tuple[int, int, int]], copy_only: bool) -> None:
        self.assets_fd = assets_fd
        self.progress = progress
        self.is_root = os.geteuid() == 0
        self.copy_only = copy_only  # the tree is on another filesystem: no hard links
        # (mode, uid, gid) of each blob: recorded when it was stored, else from a stat.
        self.attributes = dict(attributes)

    def fill(self, top_fd: int, top: _Dir) -> None:
        """Create ``top``'s contents below ``top_fd``, depth-first with an explicit stack.

        One open directory fd per level of the current path (at most
        :data:`moss.stone.targets.MAX_DEPTH`); no recursion, so depth is never a
        ``RecursionError``.  A directory is owned and chmod-ed after its children.
        """
        self._files(top_fd, top.files)
        stack: list[tuple[int, Iterator[tuple[str, _Dir]], LayoutEntry | None]] = [
            (top_fd, iter(top.subdirs), None)]
        try:
            while stack:
                dir_fd, subdirs, _ = stack[-1]
                item = next(subdirs, None)
                if item is None:
                    fd, _, entry = stack.pop()
                    if stack:  # a directory we opened, now complete
                        try:
                            if entry is not None:
                                self._own(fd, entry)
                        finally:
                            os.close(fd)
                        self.progress.advance()
                    continue
                name, child = item
                os.mkdir(name, 0o755, dir_fd=dir_fd)
                fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
                stack.append((fd, iter(child.subdirs), child.entry))
                self._files(fd, child.files)
        finally:
            for fd, _, _ in stack[1:]:
                os.close(fd)

    def _files(self, dir_fd: int, files: list[tuple[str, LayoutEntry]]) -> None:
        """The hot loop: one ``link`` per stored blob whose mode and owner fit."""
        link, assets_fd, attributes = os.link, self.assets_fd, self.attributes
        is_root, linking = self.is_root, not self.copy_only
        from_bytes = int.from_bytes
        for name, entry in files:
            source = entry.source
            if linking and entry.file_kind is _REGULAR and source != _EMPTY_SOURCE:
                assert isinstance(source, bytes)
                digest = from_bytes(source, "big")
                found = attributes.get(digest)
                if found is not None and found[0] == entry.mode & 0o7777 and (
                        not is_root or (found[1] == entry.uid and found[2] == entry.gid)):
                    try:
                        link(_blob_name(digest), name, src_dir_fd=assets_fd,
                             dst_dir_fd=dir_fd)
                        continue
                    except OSError as exc:  # a bind mount of the store's filesystem
                        if exc.errno != errno.EXDEV:
                            raise
                        self.copy_only = linking = False
            self._create(dir_fd, name, entry)
        self.progress.advance(len(files))

    def _create(self, dir_fd: int, name: str, entry: LayoutEntry) -> None:
        kind = entry.file_kind
        if kind == FileKind.SYMLINK:
            assert isinstance(entry.source, str)
            os.symlink(entry.source, name, dir_fd=dir_fd)
            if self.is_root and (entry.uid or entry.gid):
                os.chown(name, entry.uid, entry.gid, dir_fd=dir_fd, follow_symlinks=False)
        elif kind == FileKind.REGULAR:
            self._regular(dir_fd, name, entry)
        elif kind == FileKind.FIFO:
            os.mkfifo(name, entry.mode & 0o7777, dir_fd=dir_fd)
            os.chmod(name, entry.mode & 0o7777, dir_fd=dir_fd)
        # Device nodes and sockets: the layout record carries no device number, and
        # neither belongs in /usr. Install refuses them (moss.store.incoming); an
        # older state's record of one is skipped, and state verify skips it too.

    def _regular(self, dir_fd: int, name: str, entry: LayoutEntry) -> None:
        """A regular file the hot loop did not link: empty, unrecorded or a mismatch."""
        digest = entry.digest
        if digest == EMPTY_DIGEST:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=dir_fd)
            try:
                self._own(fd, entry)
            finally:
                os.close(fd)
            return
        source = _blob_name(digest)
        attributes = self.attributes.get(digest)
        if attributes is None:
            st = os.stat(source, dir_fd=self.assets_fd)
            attributes = self.attributes[digest] = (stat.S_IMODE(st.st_mode), st.st_uid,
                                                    st.st_gid)
        mode, uid, gid = attributes
        wanted_uid = entry.uid if self.is_root else uid
        wanted_gid = entry.gid if self.is_root else gid
        if (not self.copy_only and mode == entry.mode & 0o7777 and uid == wanted_uid
                and gid == wanted_gid):
            os.link(source, name, src_dir_fd=self.assets_fd, dst_dir_fd=dir_fd)
            return
        src_fd = os.open(source, os.O_RDONLY, dir_fd=self.assets_fd)
        with open(src_fd, "rb") as src:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=dir_fd)
            try:
                while chunk := src.read(1 << 20):
                    os.write(fd, chunk)
                self._own(fd, entry)
            finally:
                os.close(fd)

    def _own(self, fd: int, entry: LayoutEntry) -> None:
        if self.is_root and (entry.uid or entry.gid):
            os.chown(fd, entry.uid, entry.gid)
        os.chmod(fd, entry.mode & 0o7777)


def blit(root: Root, plan: TreePlan, dest: Path, progress: Progress = QUIET,
         attributes: Mapping[int, tuple[int, int, int]] | None = None) -> None:
    """Create ``dest`` (which must not exist) holding the tree of ``plan``.

    ``attributes`` gives the recorded (mode, uid, gid) of stored blobs, which
    spares a ``stat`` per blob; a blob missing from it is looked at.
    """
    os.mkdir(dest, 0o755)
    progress.start("Blitting", len(plan), "entries")
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.makedirs(root.assets, exist_ok=True)  # a tree of links only: no blob stored yet
        assets_fd = os.open(root.assets, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            copy_only = os.fstat(fd).st_dev != os.fstat(assets_fd).st_dev
            _Blitter(assets_fd, progress, attributes or {}, copy_only).fill(
                fd, _build_dirs(plan))
        finally:
            os.close(assets_fd)
        os.fsync(fd)
    finally:
        os.close(fd)
    progress.done()
