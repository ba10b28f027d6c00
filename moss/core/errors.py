"""The errors the CLI turns into one line, the exit statuses, and how messages print.

Library code raises :class:`MossError` (or a subclass) for anything a user can
cause or fix: bad packages, conflicts, a missing state.  The CLI also reports a
few failures of the machine itself in one line (a full disk, Ctrl-C, output into
a closed pipe, see ``moss/cli/failures.py``); anything else is a bug and is
allowed to surface as a traceback so it gets reported.  ``-v`` shows the
traceback of every failure.  The exit statuses below are the table in
README.md's "Using moss" section.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

DONE = 0
FAILED = 1
USAGE = 2  # argparse's own status for a bad command line
BOOT_NOT_UPDATED = 3  # the change is made and live; its boot entries are not
INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a process Ctrl-C stopped
BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports `ls | head -1`'s ls

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class MossError(Exception):
    """A failure with a message meant for the user."""

    exit_status = FAILED


class PartlyDone(MossError):
    """The change is made and stays made, but a step after it failed.

    A state that went live is not undone because its triggers or its boot
    entries failed afterwards: the message says what is in effect and what to do.
    """

    def __init__(self, message: str, exit_status: int) -> None:
        super().__init__(message)
        self.exit_status = exit_status


class UsageError(MossError):
    """A command line argparse accepted but real moss refuses (``inspect -q`` without
    ``--check``): status 2, as argparse's own usage errors."""

    exit_status = USAGE


class Interrupted(MossError):
    """Ctrl-C where moss knows exactly what was (not) done, e.g. at a prompt."""

    exit_status = INTERRUPTED


def printable(text: str) -> str:
    """``text`` on one line: control characters (a newline in a file name) escaped.

    A path may hold any byte but ``/`` and NUL; printed raw, a newline splits the
    one-line error and an escape sequence reprograms the terminal.  Undecodable
    bytes (surrogate escapes) show as ``\\xNN`` too.
    """
    out = []
    for char in text:
        if char.isprintable():
            out.append(char)
        elif char in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
        elif 0xDC80 <= ord(char) <= 0xDCFF:
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        else:
            out.append(char.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def mount_point(path: Path) -> Path:
    """The mount point of the filesystem that holds (or would hold) ``path``."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    while not os.path.ismount(path):
        path = path.parent
    return path


def fullest(paths: list[Path]) -> Path:
    """Of the filesystems holding ``paths``, the mount point with the least room left."""
    def room(mount: Path) -> int:
        try:
            st = os.statvfs(mount)
        except OSError:
            return 1 << 62
        return st.f_bavail * st.f_frsize
    return min((mount_point(p) for p in paths), key=room)


def is_full(path: Path) -> bool:
    """Whether the filesystem holding ``path`` has (next to) no room left for moss."""
    try:
        st = os.statvfs(mount_point(path))
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 64 * 1024


def disk_full_message(mount: Path, advice: bool = True) -> str:
    """Which filesystem is full and, unless the caller gives its own, what to do."""
    if not advice:
        return f"no space left on the filesystem at {mount}"
    return (f"no space left on the filesystem at {mount}: free some space there (`moss state "
            "prune` removes old states and what only they use), then run the command again")


def describe_os_error(exc: OSError, near: list[Path], advice: bool = True) -> str:
    """A user's line for an OSError: a full disk is named by its mount point.

    A write to an open file reports no file name; ``near`` are the places the
    operation wrote to (the root, the cache), of which the fullest is named.
    """
    named = [Path(os.fsdecode(f)) for f in (exc.filename, exc.filename2) if f is not None]
    if exc.errno in DISK_FULL:
        return disk_full_message(fullest(named or near), advice)
    where = f"{named[0]}: " if named else ""
    return f"{where}{exc.strerror or exc}"
