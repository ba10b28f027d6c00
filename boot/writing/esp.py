"""Writing to $BOOT so that a crash or a full partition never breaks booting.

Every file goes through temp file + fsync + rename; a file whose bytes are
already there is not touched at all, which is what keeps a second sync
write-free.  Space is checked before the first byte is written.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable
from pathlib import Path

from boot.statetree.inroot import read_regular
from boot.writing.filehash import file_digest
from moss.core.errors import MossError
from moss.core.fs import atomic_write, walk

# Room left over for entries and loader.conf beyond the kernels themselves.
SLACK = 256 * 1024


def same_file(src: Path, dest: Path) -> bool:
    """True when ``dest`` already holds exactly ``src``'s bytes (BLAKE3)."""
    try:
        if dest.stat().st_size != src.stat().st_size:
            return False
    except FileNotFoundError:
        return False
    return file_digest(dest) == file_digest(src)


def check_space(where: Path, needed: int) -> None:
    """Refuse before writing anything when ``where`` cannot take ``needed`` bytes."""
    if needed == 0:
        return
    stat = os.statvfs(where)
    free = stat.f_bavail * stat.f_frsize
    if free < needed + SLACK:
        raise MossError(
            f"not enough space on {where}: {needed + SLACK} bytes needed, {free} free; "
            "nothing was changed (remove old states or kernels and try again)"
        )


def fsync_renamed(path: Path) -> None:
    """Make a file renamed into place durable on FAT, not only its directory.

    vfat's rename creates the new directory slot with size 0 and no first cluster;
    the file's real size and cluster reach that slot only when the file's own inode
    is written back.  ``fsync`` of the directory does not do that, so a power cut
    within the writeback delay (~30 s) left entries of size 0 on the ESP, and
    systemd-boot skipped them (seen in qemu-tests/test_realos_cuts.py).
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_file(src: Path, dest: Path) -> None:
    try:
        # O_NOFOLLOW + fstat: only a regular file is copied, never a link's target.
        atomic_write(dest, read_regular(src), mode=0o644)
        fsync_renamed(dest)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise MossError(f"{dest.parent} is full while copying {src.name}") from None
        raise MossError(f"cannot copy {src} to {dest}: {exc}") from None


def write_text(path: Path, text: str) -> bool:
    """Write ``text`` unless the file already says exactly that; True if written."""
    data = text.encode()
    with contextlib.suppress(FileNotFoundError):
        if path.read_bytes() == data:
            return False
    try:
        atomic_write(path, data)
        fsync_renamed(path)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise MossError(f"{path.parent} is full while writing {path.name}") from None
        raise MossError(f"cannot write {path}: {exc}") from None
    return True


def refuse_links(top: Path, below: Iterable[str]) -> None:
    """Refuse a symbolic link anywhere moss writes on $BOOT: ``top``'s ``below`` folders
    and everything in them (an ESP is FAT and holds none; under ``-D ROOT`` a link
    there would carry kernels and entries out of ROOT).  Nothing is written yet."""
    for name in below:
        path = top / name
        if path.is_symlink():
            _linked(path)
        if not path.is_dir():
            continue
        for dirpath, dirnames, filenames in walk(path):
            for entry in dirnames + filenames:
                if os.path.islink(os.path.join(dirpath, entry)):
                    _linked(Path(dirpath, entry))


def refuse_linked_parts(top: Path, rel: str) -> None:
    """Refuse when a folder of ``top/rel`` (``top`` excluded) is a symbolic link."""
    path = top
    for part in Path(rel).parts:
        path = path / part
        if path.is_symlink():
            _linked(path)


def _linked(path: Path) -> None:
    raise MossError(f"{path} is a symbolic link; moss writes boot files only through real "
                    "folders, nothing was changed")


def remove_files(paths: Iterable[Path]) -> list[Path]:
    removed = []
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def prune_empty_dirs(top: Path) -> None:
    """Remove empty directories below ``top`` (not ``top`` itself)."""
    if not top.is_dir():
        return
    for dirpath, _dirs, _files in sorted(walk(top), key=lambda w: -len(w[0])):
        if Path(dirpath) != top:
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)


def check_room(to_copy: dict[Path, Path]) -> None:
    """Check each filesystem that will receive files before writing any."""
    needed: dict[Path, int] = {}
    for dest, src in to_copy.items():
        anchor = dest
        while not anchor.exists():
            anchor = anchor.parent
        key = _mount_top(anchor)
        needed[key] = needed.get(key, 0) + src.stat().st_size
    for where, size in needed.items():
        check_space(where, size)


def _mount_top(path: Path) -> Path:
    dev = path.stat().st_dev
    while path.parent != path and path.parent.stat().st_dev == dev:
        path = path.parent
    return path
