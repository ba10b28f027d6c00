"""Repairing a state's tree without ever following a link it did not create.

A damaged tree may hold anything, including a symlink planted where a folder
should be (``usr/share -> /somewhere``).  Resolving ``usr/share/x`` by path
would then check, and write, ``/somewhere/x`` outside the root.  So, like the
blit, repair walks from the tree's top with a directory file descriptor per
component, opened with ``O_NOFOLLOW``, and creates every entry relative to it.
A component that should be a folder but is not (a link, a file) is itself the
damage: the link or file is unlinked (``unlinkat`` never follows) and a real
folder made in its place.  A new entry is built under a temporary name and
renamed over the old one, which replaces a link rather than writing through it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from moss.core.errors import MossError
from moss.core.root import Root
from moss.stone import EMPTY_DIGEST, FileKind, LayoutEntry
from moss.store.assets import asset_path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def parent_problem(usr: Path, target: str) -> str | None:
    """Why ``target``'s parents are not all real folders of the tree, or None.

    Checked with ``lstat`` component by component, so a planted link is
    reported instead of looked through.
    """
    here = usr
    for part in target.split("/")[:-1]:
        here = here / part
        try:
            mode = os.lstat(here).st_mode
        except FileNotFoundError:
            return None  # the entry is simply missing: its own check says so
        if not stat.S_ISDIR(mode):
            kind = "a symlink" if stat.S_ISLNK(mode) else "not a directory"
            return f"its parent {here.relative_to(usr).as_posix()} is {kind}"
    return None


@contextlib.contextmanager
def _open_dir(usr: Path, parts: list[str]) -> Iterator[int]:
    """A descriptor of ``usr/parts``, making each missing or damaged folder real."""
    fd = os.open(usr, _DIR_FLAGS)
    try:
        for part in parts:
            child = _child_dir(fd, part)
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _child_dir(fd: int, name: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        pass
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        os.unlink(name, dir_fd=fd)  # a link or a file where a folder belongs
    os.mkdir(name, 0o755, dir_fd=fd)
    return os.open(name, _DIR_FLAGS, dir_fd=fd)


def make_directory(usr: Path, target: str) -> None:
    """Make ``usr/target`` a real folder, replacing a link or file in its place."""
    try:
        with _open_dir(usr, target.split("/")):
            pass
    except OSError as exc:
        raise MossError(f"cannot repair {usr / target}: {exc.strerror}") from None


def recreate(root: Root, usr: Path, target: str, entry: LayoutEntry) -> None:
    """Put ``entry`` back at ``usr/target``: temporary name, then rename over."""
    *parents, name = target.split("/")
    tmp = f".{name}.moss-repair"
    try:
        with _open_dir(usr, parents) as fd:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=fd)
            _create(root, fd, tmp, entry)
            os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
    except OSError as exc:
        raise MossError(f"cannot repair {usr / target}: {exc.strerror}") from None


def _create(root: Root, fd: int, name: str, entry: LayoutEntry) -> None:
    mode = entry.mode & 0o7777
    if entry.file_kind == FileKind.SYMLINK:
        assert isinstance(entry.source, str)
        os.symlink(entry.source, name, dir_fd=fd)
        return
    if entry.file_kind == FileKind.FIFO:
        os.mkfifo(name, mode, dir_fd=fd)
        os.chmod(name, mode, dir_fd=fd, follow_symlinks=False)
        return
    blob = asset_path(root, entry.digest)
    if entry.digest != EMPTY_DIGEST and stat.S_IMODE(os.stat(blob).st_mode) == mode:
        os.link(blob, name, dst_dir_fd=fd, follow_symlinks=False)
        return
    out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=fd)
    try:
        if entry.digest != EMPTY_DIGEST:
            with open(blob, "rb") as src:
                while chunk := src.read(1 << 20):
                    os.write(out, chunk)
        os.fchmod(out, mode)
    finally:
        os.close(out)
