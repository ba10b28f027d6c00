"""moss's own mount namespace, where a read-only OS is writable (DESIGN.md, "A read-only OS").

On a booted read-only system ``/`` is a read-only bind mount of a writable
filesystem (the initramfs set it up, ``initrd/pivot_readonly.py``).  Before a
mutating command takes its lock, :func:`enter_writable` checks the root: when
its mount is read-only, moss leaves the system's mount namespace for a private
one (``unshare(CLONE_NEWNS)``), makes every mount a *slave* there (mounts of
the system, such as systemd's ``/efi`` automount, still reach moss; nothing
moss mounts reaches anyone else) and remounts its copy of the root writable.
A rename there is a rename on the filesystem, seen through every mount of it,
so the ``/usr`` exchange stays atomic and live.  Triggers, ``unshare``-d
sandboxes and boot sync run as moss's children or in its process and inherit
the namespace.  The namespace dies with the process: a killed moss leaves
nothing mounted anywhere.

``moss -D ROOT`` on an image directory (a writable mount) changes nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from pathlib import Path

from moss.core import ondisk
from moss.core.errors import MossError

CLONE_NEWNS = 0x00020000
_KEPT_FLAGS = ((os.ST_NOSUID, ondisk.MS_NOSUID), (os.ST_NODEV, ondisk.MS_NODEV),
               (os.ST_NOEXEC, ondisk.MS_NOEXEC))


class _State:
    """The system's namespace (an open fd) once moss has left it; None before."""

    host_ns: int | None = None


def is_read_only(path: Path) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def host_namespace_fd() -> int | None:
    """An fd of the mount namespace moss started in, when it has left it."""
    return _State.host_ns


def mount_points() -> list[str]:
    """Every mount point of this namespace (``/proc/self/mountinfo``, unescaped)."""
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            field = line.split(" ")[4]
            for code in ("\\040", "\\011", "\\012", "\\134"):
                field = field.replace(code, chr(int(code[1:], 8)))
            points.append(field)
    return points


def mount_point_of(path: Path) -> str:
    """The mount point of the mount ``path`` is on (the longest one that contains it)."""
    real = os.path.realpath(path)
    best = "/"
    for point in mount_points():
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best = point
    return best


def _unshare() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(ctypes.c_int(CLONE_NEWNS)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), "unshare(CLONE_NEWNS)")


def _make_writable(point: str) -> None:
    flags = os.statvfs(point).f_flag
    kept = sum(ms for st, ms in _KEPT_FLAGS if flags & st)
    ondisk.mount(None, point, None, ondisk.MS_REMOUNT | ondisk.MS_BIND | kept)


def _detach_under(root: Path) -> None:
    """Drop this namespace's mounts inside the trees moss manages (``usr``, ``.moss``).

    The bind on ``/usr/local`` (the system's ``/var/usrlocal``) must never be
    under a tree moss removes or rebuilds; in moss's namespace nothing needs it.
    """
    real = os.path.realpath(root).rstrip("/")
    tops = (real + "/usr/", real + "/.moss/")
    for point in sorted(mount_points(), key=len, reverse=True):
        if point.startswith(tops):
            with contextlib.suppress(OSError):  # gone already (a parent went with it)
                ondisk.umount(point, ondisk.MNT_DETACH)


def enter_writable(root_path: Path | str) -> None:
    """Make ``root`` writable for this process alone, if its mount is read-only."""
    root = Path(root_path)
    places = [p for p in (root, root / "usr", root / ".moss") if p.is_dir()]
    if _State.host_ns is not None or not any(is_read_only(p) for p in places):
        return
    try:
        host = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        _unshare()
        _State.host_ns = host
        ondisk.mount(None, "/", None, ondisk.MS_REC | ondisk.MS_SLAVE)
        _detach_under(root)
        for point in dict.fromkeys(mount_point_of(p) for p in places if is_read_only(p)):
            _make_writable(point)
    except OSError as exc:
        raise MossError(f"{root} is read-only and moss cannot mount it writable in its own "
                        f"namespace: {exc.strerror}") from exc
    if any(is_read_only(p) for p in places):
        raise MossError(f"{root} is on a read-only filesystem; moss cannot change it "
                        "(remount it read-write first)")


# Run in a child (setns needs a single-threaded process): in the system's namespace,
# bind the store onto the new /usr/local and detach the binds the exchange carried
# into .moss (the old tree's).  argv: root, the fd of the system's namespace.
_REBIND = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def check(res, what):
    if res != 0:
        err = ctypes.get_errno()
        sys.exit(f"{what}: {os.strerror(err)}")
check(libc.setns(int(sys.argv[2]), 0x00020000), "setns")
root = os.path.realpath(sys.argv[1]).rstrip("/")
moved = []
with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
    for line in f:
        point = line.split(" ")[4]
        if point.startswith(root + "/.moss/") and point.endswith("/usr/local"):
            moved.append(point)
if moved and os.path.isdir(root + "/usr/local") and not os.path.islink(root + "/usr/local"):
    local = os.fsencode(root + "/usr/local")
    check(libc.mount(os.fsencode(root + "/var/usrlocal"), local, None, 4096, None),
          "bind /var/usrlocal on /usr/local")
    # a bind copies the flags of the mount it comes from: writable, whatever /var is
    check(libc.mount(None, local, None, 32 | 4096, None), "make /usr/local writable")
for point in moved:
    check(libc.umount2(os.fsencode(point), 2), f"detach {point}")
"""


def rebind_usr_local(root: Path) -> None:
    """After a live exchange: the system's ``/usr/local`` bind follows to the new tree.

    A mount on ``/usr/local`` sits in the tree that was ``/usr``, so the exchange
    carries it into ``.moss/root/<old>``; in the system's namespace it is bound
    again on the new tree, then the old one is detached.  A crash before this
    leaves ``/usr/local`` read-only until the next boot (README, "A read-only OS").
    """
    host = _State.host_ns
    if host is None or not (root / "var" / "usrlocal").is_dir():
        return
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _REBIND, str(root), str(host)],
        pass_fds=(host,), stdin=subprocess.DEVNULL, capture_output=True, text=True,
        check=False,
    )
    if proc.returncode != 0:
        print(f"moss: warning: /usr/local stays read-only until the next boot: "
              f"{proc.stderr.strip()}", file=sys.stderr)
