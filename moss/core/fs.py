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
import fcntl
import os
import sys
import tempfile
from collections.abc import Iterator
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


def remove_empty_dir(path: Path) -> None:
    """rmdir that is quiet when the directory is gone or still has something in it."""
    with contextlib.suppress(OSError):
        os.rmdir(path)
