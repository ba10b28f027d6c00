"""Paths of a root or a state, resolved inside it and never on the host.

A state's tree comes from packages, and a package may ship any symlink: an
absolute ``/etc/shadow``, a ``../../..`` chain, a kernel folder that points
elsewhere.  Following such a link with the host's own path resolution would
copy a host file onto $BOOT or into an entry.  Here every link is followed as
if the root were ``/`` (``chroot`` semantics: absolute targets start at the
root, ``..`` stops at it), and a state's files must then also lie inside its
``/usr`` and be regular files.  Files are read with ``O_NOFOLLOW`` and checked
with ``fstat``, so a FIFO or a device is refused rather than read.  The
resolution itself is :mod:`moss.core.confined`'s, the one every read of a
root's files uses.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

from moss.core.confined import read_regular, resolve

__all__ = ["read_regular", "resolve"]  # the resolution of moss.core.confined, for boot

# Kernel versions reach file names on $BOOT and entry lines: a conservative set.
_KVER = re.compile(r"[A-Za-z0-9_+~-][A-Za-z0-9._+~-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def state_path(usr: Path, rel: str) -> Path | None:
    """``usr/rel`` resolved inside the state (whose root is ``usr``'s parent),
    or None when it is missing or leads out of the state's ``/usr``."""
    found = resolve(usr.parent, f"{usr.name}/{rel}")
    if found is None or not found.is_relative_to(usr):
        return None
    return found


def state_rel(usr: Path, path: Path) -> str:
    """The inverse of :func:`state_path` for a path it returned."""
    return path.relative_to(usr).as_posix()


def is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def valid_kver(kver: str) -> bool:
    """A kernel version that can name a file on $BOOT and sit in an entry line."""
    return _KVER.fullmatch(kver) is not None


def has_control(text: str) -> bool:
    """True when ``text`` holds a character that could start a line or hide one."""
    return _CONTROL.search(text) is not None


def printable(text: str) -> str:
    """``text`` with control characters shown as ``?`` (titles, warnings)."""
    return _CONTROL.sub("?", text)


def warn(message: str) -> None:
    """One line on stderr: what boot skipped and why (the sync goes on)."""
    print(f"moss: warning: {printable(message)}", file=sys.stderr)
