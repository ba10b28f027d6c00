"""The read-only OS, set up in the initramfs after the pivot decision (DESIGN.md, "A read-only OS").

When ``/sysroot/etc/moss/readonly.conf`` says ``enabled = yes`` (or the kernel
command line says ``moss.readonly=1``; ``moss.readonly=0`` turns it off for one
boot), every writable place that is a real directory in the sysroot is bound
onto itself, ``/sysroot/var/usrlocal`` is bound onto ``/sysroot/usr/local``, and
then the sysroot's own mount is made read-only with a *bind* remount: a
per-mount flag, so the filesystem stays writable through the binds and through
moss's private namespace.  After switch-root, ``/`` and ``/usr`` refuse writes
for every process, root included.

``systemd-remount-fs.service`` remounts ``/`` read-write (a plain remount resets
the per-mount flag), so a drop-in written into ``/run`` (which becomes the real
system's ``/run``) re-applies the read-only bind remount after it.

Whatever goes wrong, the boot goes on: a bad entry in the file is skipped and
logged, and a failed mount undoes what was done and leaves the root writable.
Standard library only, like the rest of the agent.
"""

import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING or __package__:
    from initrd.pivot_record import ERR, INFO, WARNING, KernelLog, cmdline_words
    from moss.core import ondisk
else:  # flat beside pivot.py in the initramfs
    import ondisk
    from pivot_record import ERR, INFO, WARNING, KernelLog, cmdline_words

DROPIN_DIR = "systemd/system/systemd-remount-fs.service.d"  # under /run
DROPIN_NAME = "moss-readonly.conf"
DROPIN = """# moss (initramfs, read-only OS): systemd-remount-fs remounts / read-write, which
# resets the read-only flag of the bind mount at /; make it read-only again.
[Service]
ExecStartPost=/usr/bin/mount -o remount,bind,ro /
"""
_KEPT_FLAGS = ((os.ST_NOSUID, ondisk.MS_NOSUID), (os.ST_NODEV, ondisk.MS_NODEV),
               (os.ST_NOEXEC, ondisk.MS_NOEXEC))


def _off(problem: str) -> ondisk.ReadonlyConf:
    conf = ondisk.parse_readonly_conf(None)
    conf.problems.append(problem)
    return conf


def read_conf(sysroot: str) -> ondisk.ReadonlyConf:
    """The sysroot's own ``readonly.conf``: a regular file, not a link (which would
    resolve in the initramfs), at most 64 KiB read; anything else counts as no file."""
    path = os.path.join(sysroot, ondisk.READONLY_CONF)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return ondisk.parse_readonly_conf(None)
    except OSError as exc:
        return _off(f"cannot be read ({exc.strerror}), so it is off")
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return _off("is not a regular file, so it is off")
        data = os.read(fd, 65536)
    except OSError as exc:
        return _off(f"cannot be read ({exc.strerror}), so it is off")
    finally:
        os.close(fd)
    return ondisk.parse_readonly_conf(data.decode("utf-8", errors="replace"))


def _is_real_dir(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _make_store(store: str, usr_local: str) -> None:
    """``/var/usrlocal`` the first time: the folders the tree's ``/usr/local`` has (bin, lib, ...).

    The bind hides the tree's own ``/usr/local``; its (empty) folders are where
    tools and ``PATH`` expect to find them.
    """
    if os.path.isdir(store):
        return
    os.makedirs(store, 0o755)
    for name in os.listdir(usr_local):
        if _is_real_dir(os.path.join(usr_local, name)):
            os.mkdir(os.path.join(store, name), 0o755)


def _binds(sysroot: str, writable: list[str], log: KernelLog) -> list[tuple[str, str]]:
    """``(source, target)`` for each writable place that exists as a real directory."""
    binds = []
    for path in writable:
        target = sysroot + path
        if not _is_real_dir(target) or os.path.realpath(target) != os.path.realpath(sysroot) + path:
            log(INFO, f"read-only OS: {path} is not a directory in the root; not made writable")
            continue
        source = target
        if path == ondisk.USR_LOCAL:
            source = os.path.join(sysroot, ondisk.USR_LOCAL_STORE)
            try:
                _make_store(source, target)
            except OSError as exc:
                log(WARNING, f"read-only OS: cannot create /{ondisk.USR_LOCAL_STORE}: "
                             f"{exc.strerror}; /usr/local stays read-only")
                continue
        binds.append((source, target))
    return binds


def _kept_flags(path: str) -> int:
    """The per-mount flags a remount of ``path`` must pass again to keep them."""
    flags = os.statvfs(path).f_flag
    return sum(ms for st, ms in _KEPT_FLAGS if flags & st)


def _undo(mounted: list[str], log: KernelLog) -> None:
    for target in reversed(mounted):
        try:
            ondisk.umount(target, ondisk.MNT_DETACH)
        except OSError as exc:
            log(ERR, f"read-only OS: cannot undo the bind at {target}: {exc.strerror}")


def _write_dropin(run_root: str) -> None:
    folder = os.path.join(run_root, DROPIN_DIR)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, DROPIN_NAME), "w", encoding="utf-8") as f:
        f.write(DROPIN)


def _mount_all(sysroot: str, binds: list[tuple[str, str]], mounted: list[str]) -> None:
    """Bind every place (each target appended to ``mounted``), then make the sysroot read-only.

    Raises OSError when a step fails; the caller undoes what ``mounted`` lists.
    """
    for source, target in binds:
        ondisk.mount(source, target, None, ondisk.MS_BIND)
        mounted.append(target)
    flags = ondisk.MS_REMOUNT | ondisk.MS_BIND | ondisk.MS_RDONLY | _kept_flags(sysroot)
    ondisk.mount(None, sysroot, None, flags)


def _note(sysroot: str, run_dir: str, mounted: list[str], log: KernelLog) -> None:
    """The drop-in that keeps ``/`` read-only after switch-root, and the marker."""
    writable = [target[len(sysroot):] for target in mounted]
    try:
        _write_dropin(os.path.dirname(run_dir.rstrip("/")) or "/")
        os.makedirs(run_dir, exist_ok=True)
        with open(os.path.join(run_dir, ondisk.READONLY_MARKER), "w", encoding="utf-8") as f:
            f.write("".join(path + "\n" for path in writable))
    except OSError as exc:
        log(WARNING, f"read-only OS: cannot write under {run_dir}/..: {exc}; "
                     "systemd may remount / read-write")
    log(INFO, f"read-only OS: / is read-only; writable: {' '.join(writable) or 'nothing'}")


def set_up(sysroot: str, cmdline: str, run_dir: str, log: KernelLog) -> bool:
    """Make the sysroot a read-only OS if the machine asks for it; True when it did."""
    conf = read_conf(sysroot)
    for problem in conf.problems:
        log(WARNING, f"{ondisk.READONLY_CONF}: {problem}; skipped")
    override = ondisk.readonly_override(cmdline_words(cmdline))
    if not (conf.enabled if override is None else override):
        return False
    binds = _binds(sysroot, conf.writable, log)
    mounted: list[str] = []
    try:
        _mount_all(sysroot, binds, mounted)
    except OSError as exc:
        _undo(mounted, log)
        log(ERR, f"read-only OS: mounting {exc.filename} failed: {exc.strerror}; "
                 "booting with a writable root")
        return False
    _note(sysroot, run_dir, mounted, log)
    return True
