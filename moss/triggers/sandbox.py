"""Runs one trigger handler inside a root; standard library only.

moss starts it as ``unshare --mount --pid --ipc --uts --net --fork -- python3
sandbox.py ...``, so it already runs in fresh namespaces as pid 1.  It makes
every mount private, binds the new tree over ``ROOT/usr``, makes ``ROOT/etc``
read-only, mounts a fresh ``/proc`` when the root has one, chroots into ROOT
and execs the handler.  Nothing it mounts is visible outside, and the mounts
vanish with the namespace when the handler exits.

Usage: sandbox.py --root ROOT [--usr TREE] [--readonly-etc] (--delete PATH... | -- RUN ARGS...)

The mount flags are the on-disk contract's (``moss/core/ondisk.py``, standard
library only).  Run as a script with ``python3 -I`` neither moss nor this folder
is on ``sys.path``, so the script appends ``moss/core`` (after the standard
library) and imports the contract as ``ondisk``, the way the pivot agent does.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING or __package__:
    from moss.core import ondisk
else:  # run as a script: see the module docstring
    _MOSS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.append(os.path.join(_MOSS, "core"))
    import ondisk

MS_RDONLY = ondisk.MS_RDONLY
MS_NOSUID = ondisk.MS_NOSUID
MS_NODEV = ondisk.MS_NODEV
MS_NOEXEC = ondisk.MS_NOEXEC
MS_REMOUNT = ondisk.MS_REMOUNT
MS_BIND = ondisk.MS_BIND
MS_REC = ondisk.MS_REC
MS_PRIVATE = ondisk.MS_PRIVATE

_libc = ctypes.CDLL(None, use_errno=True)
PATH = "/usr/bin:/usr/sbin:/bin:/sbin"


def mount(source: str | None, target: str, fstype: str | None, flags: int) -> None:
    res = _libc.mount(
        source.encode() if source else None,
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        None,
    )
    if res != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def prepare(root: str, usr: str | None, readonly_etc: bool) -> None:
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    if usr:
        os.makedirs(os.path.join(root, "usr"), exist_ok=True)
        mount(usr, os.path.join(root, "usr"), None, MS_BIND | MS_REC)
    etc = os.path.join(root, "etc")
    if readonly_etc and os.path.isdir(etc):
        mount(etc, etc, None, MS_BIND | MS_REC)
        mount(None, etc, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    proc = os.path.join(root, "proc")
    if os.path.isdir(proc) and not os.path.islink(proc):
        mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chroot(root)
    os.chdir("/")


def delete(paths: list[str]) -> None:
    for path in paths:
        if os.path.isdir(path) and not os.path.islink(path):
            _remove_tree(path)
        elif os.path.lexists(path):
            os.unlink(path)


def _remove_tree(top: str) -> None:
    """Bottom-up removal with a stack: ``shutil.rmtree`` recurses once per level, and
    this script may use only the standard library (``moss.core.fs.remove_tree`` is
    the full version).  Symlinks are unlinked, never followed."""
    stack = [(top, False)]
    while stack:
        path, emptied = stack.pop()
        if emptied:
            os.rmdir(path)
            continue
        stack.append((path, True))
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, False))
                else:
                    os.unlink(entry.path)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="moss-trigger-sandbox")
    parser.add_argument("--root", required=True)
    parser.add_argument("--usr")
    parser.add_argument("--readonly-etc", action="store_true")
    parser.add_argument("--delete", nargs="+")
    parser.add_argument("command", nargs="*")
    args = parser.parse_args(argv)
    try:
        prepare(args.root, args.usr, args.readonly_etc)
    except OSError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 125
    if args.delete:
        delete(args.delete)
        return 0
    if not args.command:
        print("sandbox: no command", file=sys.stderr)
        return 125
    try:
        os.execve(args.command[0], args.command, {"PATH": PATH, "LC_ALL": "C"})
    except OSError as exc:
        print(f"sandbox: cannot run {args.command[0]}: {exc.strerror}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
