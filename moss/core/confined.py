"""Files of a root read inside that root, whole and bounded, never from the host.

Everything moss reads from a root -- ``/etc/moss``, ``/usr/share/moss`` (which
packages ship), triggers, the system model, ``boot.conf``, os-release -- may be
a symlink: an absolute ``/etc/shadow``, a ``../../..`` chain.  Opened with the
host's own path resolution, under ``-D ROOT`` such a link reads a host file (and
an error message then prints it).  Here every link is followed as if the root
were ``/`` (``chroot`` semantics: absolute targets start at the root, ``..``
stops at it), the file is opened with ``O_NOFOLLOW`` and must be a regular file
(a FIFO would block, a device would never end), and no more than a stated size
is read: configuration files are small, and a parser given a gigabyte is a
parser that wedges every command.  ``boot/statetree/inroot.py`` builds on the same
resolution for state trees.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from pathlib import Path, PurePosixPath

from moss.core.errors import MossError

# Like the kernel's own ELOOP limit.
MAX_LINKS = 40
# The largest configuration file moss reads (repositories, triggers, boot.conf, ...).
MAX_CONFIG_BYTES = 1024 * 1024


def resolve(top: Path, rel: str) -> Path | None:
    """``rel`` below ``top`` with every symlink followed as if ``top`` were ``/``.

    None when a component is missing, is not a folder where one is needed, or
    the links loop.  The result contains no symlink below ``top``.
    """
    return _walk(top, rel, missing_ok=False)


def inside(top: Path, rel: str) -> Path:
    """Like :func:`resolve`, but what does not exist yet is kept as written
    (``..`` still stops at ``top``): a configured folder moss may create later.

    Refused (MossError) when the links loop, or when a name in it is longer than a
    filesystem takes (255 bytes; 4095 in all): no later ``stat`` of it can fail.
    """
    found = _walk(top, rel, missing_ok=True)
    if found is None:
        raise MossError(f"{rel[:80]!r} leads through too many symbolic links in {top}")
    encoded = os.fsencode(found)
    if len(encoded) > 4095 or any(len(part) > 255 for part in encoded.split(b"/")):
        raise MossError(f"{rel[:80]!r}: a name longer than 255 bytes (or a path longer "
                        "than 4095) cannot be a folder here")
    return found


def _walk(top: Path, rel: str, missing_ok: bool) -> Path | None:
    todo = deque(_parts(rel))
    done: list[str] = []
    links = 0
    missing = False
    while todo:
        part = todo.popleft()
        if part == "..":
            if done:
                done.pop()
            continue
        path = top.joinpath(*done, part)
        mode = 0
        if not missing:
            try:
                mode = os.lstat(path).st_mode
            except (OSError, ValueError):
                if not missing_ok:
                    return None
                missing = True
        if stat.S_ISLNK(mode):
            links += 1
            if links > MAX_LINKS:
                return None
            target = os.readlink(path)
            if target.startswith("/"):
                done = []
            todo.extendleft(reversed(_parts(target)))
            continue
        done.append(part)
    return top.joinpath(*done)


def _parts(path: str) -> list[str]:
    return [p for p in PurePosixPath(path).parts if p != "." and not p.startswith("/")]


def read_regular(path: Path, limit: int | None = None) -> bytes:
    """A regular file's bytes; a symlink, FIFO, device or folder is refused, and so
    is a file over ``limit`` bytes (checked before reading, and while reading)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError) as exc:
        raise MossError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise MossError(f"{path} is not a regular file; refused")
        if limit is None:
            return f.read()
        data = f.read(limit + 1) if info.st_size <= limit else b""
        if info.st_size > limit or len(data) > limit:
            raise MossError(f"{path} is larger than {limit} bytes; refused")
        return data


def read_config(root: Path, path: Path, limit: int = MAX_CONFIG_BYTES) -> str:
    """The text of a configuration file of ``root`` (``path`` is under it), read
    inside the root: UTF-8, no NUL, at most ``limit`` bytes; else one MossError
    naming the file."""
    rel = path.relative_to(root).as_posix()
    found = resolve(root, rel)
    if found is None:
        raise MossError(f"cannot read {path}: it does not exist inside {root}")
    return _text(path, read_regular(found, limit))


def read_file(path: Path, limit: int = MAX_CONFIG_BYTES) -> str:
    """A configuration file named on the command line (``sync --import FILE``): the
    host's path, links followed as usual, but bounded and checked like the rest."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise MossError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return _text(path, read_regular(real, limit))


def _text(path: Path, data: bytes) -> str:
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise MossError(f"{path} is not UTF-8 text; refused") from None
    if "\0" in text:
        raise MossError(f"{path} holds a NUL byte; refused")
    return text
