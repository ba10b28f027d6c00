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

**Strategies**, as real moss's ``fstree::native`` (:func:`choose_strategy`): on a
filesystem that shares extents (btrfs, xfs) each file is a *reflink* of its blob,
an inode of its own, so a write through ``/usr`` never reaches the store or any
other state; elsewhere a hard link; across filesystems a copy.
``MOSS_FSTREE_NATIVE_STRATEGY=reflink|hardlink|copy`` overrides the choice.

**Threads.** The walk creates the directories; the files of each directory are
placed by a small pool of threads (one per core, at most four), each working in a
directory of its own through its own descriptor: ``link(2)`` and the clone ioctl
release the GIL, and different directories share no lock in the kernel.  Only
root blits with threads: a directory's mode (``0555``) is set once the walk leaves
it, which may be before its files are placed, and only root writes there anyway.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import fcntl
import os
import stat
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from moss.core.progress import QUIET, Progress
from moss.core.root import Root
from moss.stone import EMPTY_DIGEST, FileKind, LayoutEntry
from moss.tree.plan import TreePlan

_EMPTY_SOURCE = EMPTY_DIGEST.to_bytes(16, "big")
_REGULAR = FileKind.REGULAR
FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
STRATEGY_VARIABLE = "MOSS_FSTREE_NATIVE_STRATEGY"  # real moss's override
MAX_THREADS = 4
_IN_FLIGHT = 256  # directories handed to the pool and not yet done: each holds an fd


class Strategy(enum.Enum):
    """How a regular file of the tree gets its blob's content (real moss's names)."""

    REFLINK = "reflink"
    HARDLINK = "hardlink"
    COPY = "copy"


def choose_strategy(assets_fd: int, dest_fd: int) -> Strategy:
    """Real moss's order: a reflink if the filesystem clones, else a hard link, a copy
    only where a link fails with ``EXDEV``; an unexpected error means a hard link.

    Tried on a scratch file in the store and one in the new tree, both removed after.
    """
    wanted = os.environ.get(STRATEGY_VARIABLE, "").strip().lower()
    for strategy in Strategy:
        if wanted == strategy.value:
            return strategy
    probe = f".link-test-{os.getpid()}"
    try:
        for fd in (assets_fd, dest_fd):
            _unlink_quietly(probe, fd)
        source = os.open(probe, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=assets_fd)
        try:
            os.write(source, b"moss")
            target = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600,
                             dir_fd=dest_fd)
            try:
                fcntl.ioctl(target, FICLONE, source)
                return Strategy.REFLINK
            except OSError:
                pass
            finally:
                os.close(target)
        finally:
            os.close(source)
        os.unlink(probe, dir_fd=dest_fd)
        try:
            os.link(probe, probe, src_dir_fd=assets_fd, dst_dir_fd=dest_fd)
        except OSError as exc:
            return Strategy.COPY if exc.errno == errno.EXDEV else Strategy.HARDLINK
        return Strategy.HARDLINK
    except OSError:
        return Strategy.HARDLINK
    finally:
        for fd in (assets_fd, dest_fd):
            _unlink_quietly(probe, fd)


def _unlink_quietly(name: str, dir_fd: int) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=dir_fd)


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
                 attributes: Mapping[int, tuple[int, int, int]], strategy: Strategy,
                 threads: int) -> None:
        self.assets_fd = assets_fd
        self.progress = progress
        self.is_root = os.geteuid() == 0
        self.strategy = strategy
        # Hard links only with the HARDLINK strategy, and until one fails with EXDEV.
        self.copy_only = strategy is not Strategy.HARDLINK
        # (mode, uid, gid) of each blob: recorded when it was stored, else from a stat.
        self.attributes = dict(attributes)
        self.threads = threads if self.is_root else 0
        self._pool: ThreadPoolExecutor | None = None
        self._pending: set[Future[int]] = set()
        self._slots = threading.BoundedSemaphore(_IN_FLIGHT)
        self._lock = threading.Lock()  # the attributes cache, filled by _regular

    def blit(self, top_fd: int, top: _Dir) -> None:
        """``fill``, with the files handed to a pool of threads when there is one."""
        if not self.threads:
            self.fill(top_fd, top)
            return
        with ThreadPoolExecutor(self.threads, thread_name_prefix="moss-blit") as pool:
            self._pool = pool
            try:
                self.fill(top_fd, top)
                self._collect(wait_all=True)
            finally:
                self._pool = None
                for future in self._pending:
                    future.cancel()

    def _place(self, dir_fd: int, files: list[tuple[str, LayoutEntry]]) -> None:
        """The files of one directory: now, or on a thread with a descriptor of its own."""
        if not files:
            return
        if self._pool is None:
            self.progress.advance(self._files(dir_fd, files))
            return
        self._collect(wait_all=False)
        self._slots.acquire()
        own = os.dup(dir_fd)
        try:
            self._pending.add(self._pool.submit(self._files_then_close, own, files))
        except BaseException:
            os.close(own)
            self._slots.release()
            raise

    def _files_then_close(self, dir_fd: int, files: list[tuple[str, LayoutEntry]]) -> int:
        try:
            return self._files(dir_fd, files)
        finally:
            os.close(dir_fd)
            self._slots.release()

    def _collect(self, wait_all: bool) -> None:
        """Count finished directories into the progress; the first failure is raised."""
        if wait_all and self._pending:
            wait(self._pending, return_when=FIRST_EXCEPTION)  # all done, or one failed
        done = {f for f in self._pending if f.done()}
        self._pending -= done
        for future in done:
            self.progress.advance(future.result())

    def fill(self, top_fd: int, top: _Dir) -> None:
        """Create ``top``'s contents below ``top_fd``, depth-first with an explicit stack.

        One open directory fd per level of the current path (at most
        :data:`moss.stone.targets.MAX_DEPTH`); no recursion, so depth is never a
        ``RecursionError``.  A directory is owned and chmod-ed after its children.
        """
        self._place(top_fd, top.files)
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
                self._place(fd, child.files)
        finally:
            for fd, _, _ in stack[1:]:
                os.close(fd)

    def _files(self, dir_fd: int, files: list[tuple[str, LayoutEntry]]) -> int:
        """The hot loop: one ``link`` per stored blob whose mode and owner fit; returns
        how many entries it placed (for the progress, which the caller advances)."""
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
        return len(files)

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
        if self.strategy is Strategy.REFLINK and self._reflink(dir_fd, name, source, entry):
            return
        attributes = self.attributes.get(digest)
        if attributes is None:
            st = os.stat(source, dir_fd=self.assets_fd)
            attributes = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
            with self._lock:
                self.attributes[digest] = attributes
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

    def _reflink(self, dir_fd: int, name: str, source: str, entry: LayoutEntry) -> bool:
        """A new inode sharing the blob's extents; False (nothing left behind) where this
        file cannot be cloned, and it is copied instead."""
        src_fd = os.open(source, os.O_RDONLY, dir_fd=self.assets_fd)
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=dir_fd)
            try:
                fcntl.ioctl(fd, FICLONE, src_fd)
                self._own(fd, entry)
                return True
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EOPNOTSUPP, errno.EINVAL,
                                     errno.ENOTTY):
                    raise
            finally:
                os.close(fd)
            os.unlink(name, dir_fd=dir_fd)
            return False
        finally:
            os.close(src_fd)

    def _own(self, fd: int, entry: LayoutEntry) -> None:
        if self.is_root and (entry.uid or entry.gid):
            os.chown(fd, entry.uid, entry.gid)
        os.chmod(fd, entry.mode & 0o7777)


def threads_for_blit() -> int:
    """One thread per core, at most :data:`MAX_THREADS` (``link(2)`` scales little
    past that); 0 on a single core: no pool at all."""
    cores = len(os.sched_getaffinity(0))
    return 0 if cores < 2 else min(cores, MAX_THREADS)


def blit(root: Root, plan: TreePlan, dest: Path, progress: Progress = QUIET,
         attributes: Mapping[int, tuple[int, int, int]] | None = None,
         threads: int | None = None) -> Strategy:
    """Create ``dest`` (which must not exist) holding the tree of ``plan``; returns the
    strategy it used.

    ``attributes`` gives the recorded (mode, uid, gid) of stored blobs, which
    spares a ``stat`` per blob; a blob missing from it is looked at.  ``threads``:
    the pool's size (default :func:`threads_for_blit`; 0 places every file on the
    calling thread).
    """
    os.mkdir(dest, 0o755)
    progress.start("Blitting", len(plan), "entries")
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.makedirs(root.assets, exist_ok=True)  # a tree of links only: no blob stored yet
        assets_fd = os.open(root.assets, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            strategy = choose_strategy(assets_fd, fd)
            pool = threads_for_blit() if threads is None else threads
            _Blitter(assets_fd, progress, attributes or {}, strategy, pool).blit(
                fd, _build_dirs(plan))
        finally:
            os.close(assets_fd)
        os.fsync(fd)
    finally:
        os.close(fd)
    progress.done()
    return strategy
