"""Filesystem primitives every atomic step of moss is built from.

``renameat2(RENAME_EXCHANGE)`` swaps two paths in one step, so ``/usr`` is never
missing; temp-file + fsync + rename makes every small file write all-or-nothing;
``flock`` serialises mutating moss processes.  The exchange, ``fsync_dir`` and
the atomic symlink are the on-disk contract's (:mod:`moss.core.ondisk`), which the
pivot agent in ``initrd/`` imports too, so both make the very same calls.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from moss.core.errors import MossError
from moss.core.ondisk import AT_FDCWD as AT_FDCWD
from moss.core.ondisk import RENAME_EXCHANGE as RENAME_EXCHANGE
from moss.core.ondisk import RENAME_NOREPLACE as RENAME_NOREPLACE
from moss.core.ondisk import atomic_symlink as atomic_symlink
from moss.core.ondisk import exchange as exchange
from moss.core.ondisk import fsync_dir as fsync_dir
from moss.core.ondisk import renameat2 as renameat2

_libc = ctypes.CDLL(None, use_errno=True)


def sync_filesystem(path: Path) -> None:
    """syncfs(2): flush the whole filesystem holding ``path`` in one call.

    Flushing a package's blobs once costs far less than one fsync per blob, and
    the store and its scratch space share one filesystem by design.
    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _libc.syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(path))
    finally:
        os.close(fd)


def sync_interruptibly(*paths: Path | str) -> None:
    """syncfs(2) of every filesystem holding one of ``paths``, each once, in a helper
    thread, so Ctrl-C is not held until the flush ends.

    A syncfs of a transaction's blobs takes seconds and Python only runs a signal
    handler between C calls; waiting on an event instead lets the KeyboardInterrupt
    through at once (the flush goes on in the kernel).
    """
    devices: dict[int, Path | str] = {}
    for path in paths:
        devices.setdefault(os.stat(path).st_dev, path)
    failure: list[OSError] = []
    finished = threading.Event()

    def flush() -> None:
        try:
            for path in devices.values():
                sync_filesystem(Path(path))
        except OSError as exc:
            failure.append(exc)
        finished.set()

    threading.Thread(target=flush, name="syncfs", daemon=True).start()
    while not finished.wait(0.05):
        pass
    if failure:
        raise failure[0]


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so a crash leaves either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


@contextlib.contextmanager
def locked(lockfile: Path, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lockfile`` for the duration of the block.

    With ``wait`` a second moss says it is waiting and blocks; without, it fails
    at once with a message that names the lock.
    """
    lockfile.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lockfile, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise MossError(
                    f"another moss holds {lockfile}; try again later or drop --no-wait"
                ) from None
            print(f"moss: waiting for another moss to release {lockfile}", file=sys.stderr)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def has_entries(folder: Path) -> bool:
    """Whether a folder holds anything: one listing; no folder holds nothing."""
    try:
        with os.scandir(folder) as entries:
            return any(True for _ in entries)
    except OSError:
        return False


def remove_empty_dir(path: Path) -> None:
    """rmdir that is quiet when the directory is gone or still has something in it."""
    with contextlib.suppress(OSError):
        os.rmdir(path)


def count_entries(top: Path | str) -> int:
    """How many files, links and directories :func:`remove_tree` would remove at ``top``
    (the total of its progress line)."""
    if not os.path.isdir(top) or os.path.islink(top):
        return 1 if os.path.lexists(top) else 0
    return 1 + sum(len(dirs) + len(files) for _, dirs, files in walk(top))


def remove_tree(path: Path | str, ignore_errors: bool = False,
                removed: Callable[[], object] | None = None) -> None:
    """Delete ``path`` and everything below it, however deep, never following a symlink.

    ``removed`` is called after each entry goes (a progress line's ``advance``).

    ``shutil.rmtree`` recurses once per level, so a tree deeper than Python's
    recursion limit (a hostile package can make one) could never be removed and
    every later command that tidies up would fail.  This walks with one directory
    fd at a time: it descends with ``openat(O_NOFOLLOW)`` and climbs back through
    ``..``, checking each parent's (device, inode) against the one it left, so
    neither depth nor a swapped directory can lead it astray.  A missing ``path``
    is not an error.
    """
    try:
        _remove_tree(os.fspath(path), removed or _nothing)
    except FileNotFoundError:
        return
    except OSError:
        if not ignore_errors:
            raise


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _nothing() -> None:
    pass


def _remove_tree(path: str, removed: Callable[[], object]) -> None:
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError as exc:
        if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        os.unlink(path)  # a file or a symlink: removed itself, never what it points to
        removed()
        return
    # Names and identities of the directories from ``path`` down to ``fd``.
    trail: list[tuple[str, tuple[int, int]]] = []
    try:
        while True:
            child = _clear_files(fd, removed)
            if child is not None:
                st = os.fstat(fd)
                new = os.open(child, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = new
                trail.append((child, (st.st_dev, st.st_ino)))
                continue
            if not trail:
                break
            name, identity = trail.pop()
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != identity:
                raise OSError(errno.ESTALE, "directory moved during removal", path)
            try:
                os.rmdir(name, dir_fd=fd)
            except PermissionError:
                os.fchmod(fd, 0o700)
                os.rmdir(name, dir_fd=fd)
            removed()
    finally:
        os.close(fd)
    os.rmdir(path)
    removed()


def _clear_files(fd: int, removed: Callable[[], object]) -> str | None:
    """Unlink every non-directory in ``fd``; the name of one subdirectory left, if any.

    A directory a package shipped without write permission (0555) is made writable
    first when unlinking in it is refused: ``extract`` runs as a user too.
    """
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                return entry.name
            try:
                os.unlink(entry.name, dir_fd=fd)
            except PermissionError:
                os.fchmod(fd, 0o700)
                os.unlink(entry.name, dir_fd=fd)
            removed()
    return None


def walk(top: Path | str) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk(top)`` (top-down, symlinks not followed) with a stack, not recursion.

    On Python 3.11 ``os.walk`` recurses once per level, so a deep tree from a
    hostile package would raise ``RecursionError``.  As with ``os.walk``, a
    symlink to a directory is listed in ``dirnames`` but not entered, unreadable
    directories are skipped, and sorting ``dirnames`` in place orders the walk.
    """
    stack = [os.fspath(top)]
    while stack:
        directory = stack.pop()
        dirs: list[str] = []
        files: list[str] = []
        entered: set[str] = set()
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    try:
                        is_dir = entry.is_dir()
                    except OSError:
                        is_dir = False
                    (dirs if is_dir else files).append(entry.name)
                    if is_dir and not entry.is_symlink():
                        entered.add(entry.name)
        except OSError:
            continue
        yield directory, dirs, files
        stack.extend(os.path.join(directory, n) for n in reversed(dirs) if n in entered)
