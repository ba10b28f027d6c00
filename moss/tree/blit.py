"""Builds a state's ``/usr`` as hard links into the store.

The walk holds a file descriptor for each directory on the current path and
creates every entry relative to it (``dir_fd``), so no path is ever resolved
again through something a package created.  Empty files are made fresh rather
than linked (one inode with millions of links would hit the link limit), and a
blob whose stored mode or owner differs from what this entry wants is copied
instead of linked, so one state can never change another state's files.
A tree on another filesystem than the store (an ephemeral root, ``--to DIR``)
gets copies, as real moss falls back to copying on ``EXDEV``.
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
from moss.store.assets import asset_location
from moss.tree.plan import TreePlan


@dataclass
class _Node:
    entry: LayoutEntry | None = None
    children: dict[str, _Node] = field(default_factory=dict)


def _build_nodes(plan: TreePlan) -> _Node:
    top = _Node()
    for target, placed in [*plan.directories.items(), *plan.files.items()]:
        node = top
        for part in target.split("/"):
            child = node.children.get(part)  # not setdefault: it builds a node every time
            if child is None:
                child = node.children[part] = _Node()
            node = child
        node.entry = placed.entry if placed else None
    return top


class _Blitter:
    def __init__(self, root: Root, progress: Progress,
                 attributes: Mapping[int, tuple[int, int, int]]) -> None:
        self.root = root
        self.progress = progress
        self.is_root = os.geteuid() == 0
        self.assets = str(root.assets)
        # (mode, uid, gid) of each blob: recorded when it was stored, else from a stat.
        self.attributes = dict(attributes)

    def fill(self, top_fd: int, top: _Node) -> None:
        """Create ``top``'s children below ``top_fd``, depth-first with an explicit stack.

        One open directory fd per level of the current path (at most
        :data:`moss.stone.targets.MAX_DEPTH`); no recursion, so depth is never a
        ``RecursionError``.  A directory is owned and chmod-ed after its children.
        """
        stack: list[tuple[int, Iterator[tuple[str, _Node]], LayoutEntry | None]] = [
            (top_fd, iter(top.children.items()), None)]
        try:
            while stack:
                dir_fd, children, _ = stack[-1]
                item = next(children, None)
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
                entry = child.entry
                if entry is None or entry.file_kind == FileKind.DIRECTORY:
                    os.mkdir(name, 0o755, dir_fd=dir_fd)
                    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                                 dir_fd=dir_fd)
                    stack.append((fd, iter(child.children.items()), entry))
                else:
                    self._create(dir_fd, name, entry)
                    self.progress.advance()
        finally:
            for fd, _, _ in stack[1:]:
                os.close(fd)

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
        digest = entry.digest
        if digest == EMPTY_DIGEST:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=dir_fd)
            try:
                self._own(fd, entry)
            finally:
                os.close(fd)
            return
        source = asset_location(self.assets, digest)
        attributes = self.attributes.get(digest)
        if attributes is None:
            st = os.stat(source)
            attributes = self.attributes[digest] = (stat.S_IMODE(st.st_mode), st.st_uid,
                                                    st.st_gid)
        mode, uid, gid = attributes
        wanted_uid = entry.uid if self.is_root else uid
        wanted_gid = entry.gid if self.is_root else gid
        if mode == entry.mode & 0o7777 and uid == wanted_uid and gid == wanted_gid:
            try:
                os.link(source, name, dst_dir_fd=dir_fd)
                return
            except OSError as exc:  # another filesystem (``install --to DIR``): copy
                if exc.errno != errno.EXDEV:
                    raise
        with open(source, "rb") as src:
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
        _Blitter(root, progress, attributes or {}).fill(fd, _build_nodes(plan))
        os.fsync(fd)
    finally:
        os.close(fd)
    progress.done()
